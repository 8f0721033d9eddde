#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SIGTERM to a daemon while a directory and a file are open on its mount:
# it exits 0 and the mount goes. The kernel still holds both handles, so
# their RELEASEDIR and RELEASE never reach the daemon: it frees them
# itself at exit (says so in its log), without a leak report on the
# sanitizer build.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

df_setup
df_mount

mkdir "$DF_MNT/d"
echo hello >"$DF_MNT/d/f"
exec 3<"$DF_MNT/d"
exec 4<"$DF_MNT/d/f"
read -r line <&4
assert_eq "$line" hello "the open file's contents"

kill -TERM "$DF_PID"
df_wait_exit 10 || fail "the daemon did not exit 10 s after SIGTERM"
DF_PID=
exec 3<&- 4<&-
[[ $DF_STATUS == 0 ]] || {
	cat "$DF_LOG" >&2
	fail "the daemon exited with status $DF_STATUS after SIGTERM"
}
grep -q "1 file and 1 directory handles were still open at exit" "$DF_LOG" ||
	fail "no word of the handles left open: $(tail -5 "$DF_LOG")"
df_check_log
! grep -q " $DF_MNT " /proc/mounts || fail "$DF_MNT is still mounted"
echo "PASS"
