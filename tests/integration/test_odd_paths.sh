#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Paths with characters that mount options and /proc/self/mountinfo
# escape: a config path with a comma (it goes into -o fsname=, which
# libfuse splits at commas: the mount failed) and a mount point with a
# space (mountinfo writes it \040: the readahead was never set).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

df_setup
mkdir "$T/a,b" "$T/m nt"
cp "$DF_CONF" "$T/a,b/dfabric.conf"
DF_CONF="$T/a,b/dfabric.conf"
DF_MNT="$T/m nt"
df_mount
echo hello >"$DF_MNT/f"
assert_eq "$(cat "$DF_MNT/f")" hello "a file on the mount"
df_check_ra 8192 "the readahead of a mount point with a space"
grep -qF ' fuse.dfabric ' /proc/self/mountinfo ||
	fail "no fuse.dfabric mount in mountinfo"
df_umount
