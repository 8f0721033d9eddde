#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# POSIX semantics of a dfabric mount: the checker tests/helpers/posix.c
# runs first on a plain directory next to the tiers (validating the checker
# itself against ext4) and then on the mount, which must pass every check.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

[[ -x $B/tests/posix ]] || fail "no checker at $B/tests/posix (build first)"
df_setup

# The reference run: only meaningful on ext4, what the checker mirrors.
if [[ $(stat -f -c %T "$T") == ext2/ext3 ]]; then
	mkdir "$T/ref"
	"$B/tests/posix" "$T/ref" >"$T/ref.out" ||
		{ cat "$T/ref.out" >&2; fail "the checker fails on ext4: fix the checker"; }
	echo "reference: $(tail -n 1 "$T/ref.out")"
fi

# allow_other: some checks run as other users in forked children.
df_mount -o allow_other
if ! "$B/tests/posix" "$DF_MNT/p"; then
	fail "POSIX checks failed on the mount"
fi
df_umount
