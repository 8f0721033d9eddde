#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Short-lived files from many threads at once: create, write, read back,
# close and unlink (half of them unlinked while still open), so that the
# last close and the forget of an inode overlap the daemon's work on an
# earlier request. Every read must return what was written, the daemon
# must survive (under the sanitizer build, with no use after free: a read
# once updated atime on an inode freed by a concurrent release), and the
# directory must be empty afterwards.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

CHURN=$B/tests/churn
[[ -x $CHURN ]] || fail "no $CHURN (build first)"
df_setup
df_mount
mkdir "$DF_MNT/c"
for round in 1 2 3; do
	timeout -k 5 120 "$CHURN" "$DF_MNT/c" 8 1000 ||
		fail "churn round $round failed (daemon log: $(tail -n 5 "$DF_LOG"))"
done
left=$(find "$DF_MNT/c" -mindepth 1 | wc -l)
assert_eq "$left" 0 "files left after churn"
df_umount
