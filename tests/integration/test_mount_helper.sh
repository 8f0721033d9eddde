#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mount(8) integration: `mount -t fuse.dfabric CONFIG MNT -o allow_other`
# and an fstab line used through `mount -T FSTAB MNT` start the installed
# daemon (via mount.fuse3); the mount has type fuse.dfabric, honours
# allow_other, reads and writes, and `umount` ends the daemon. Needs
# `make install` of the daemon under test (skips otherwise).
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
# Name the command that ended the test through set -e.
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

INSTALLED=/usr/local/sbin/dfabric
[[ -x $INSTALLED ]] || skip "$INSTALLED is not installed (make install)"
cmp -s "$INSTALLED" "$B/dfabric" || skip "$INSTALLED differs from $B/dfabric (make install)"
[[ -x /sbin/mount.fuse3 || -x /usr/sbin/mount.fuse3 ]] || skip "mount.fuse3 is missing"

df_setup

# The daemons this test started through mount(8), found by the config
# path, which is unique to this test.
helper_pids()
{
	pgrep -f -- "$DF_CONF" || true
}

# Zombies are gone as far as we are concerned: PID 1 here does not reap
# the daemon that mount.fuse3 put in the background.
alive_pids()
{
	local p st

	for p in $(helper_pids); do
		st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1) || continue
		[[ -z $st || $st == Z ]] || echo "$p"
	done
}

mh_cleanup()
{
	local p

	if df_is_mounted; then
		umount -l "$DF_MNT" 2>/dev/null || true
	fi
	for p in $(alive_pids); do
		kill -TERM "$p" 2>/dev/null || true
	done
}
df_trap_exit mh_cleanup

# wait_mounted: mount(8) returns once the daemon has mounted, but allow
# for a slow start (at most 10 s).
wait_mounted()
{
	local i

	for ((i = 0; i < 500; i++)); do
		df_is_mounted && return 0
		sleep 0.02
	done
	fail "$DF_MNT not mounted 10 s after mount(8) returned"
}

# check_mount TAG: type, options, daemon, data, and access by another user.
check_mount()
{
	local tag=$1 fstype opts

	wait_mounted
	fstype=$(findmnt -n -o FSTYPE --mountpoint "$DF_MNT") || fail "findmnt found no $DF_MNT ($tag)"
	assert_eq "$fstype" "fuse.dfabric" "file system type ($tag)"
	opts=$(findmnt -n -o OPTIONS --mountpoint "$DF_MNT")
	echo "$tag: $(findmnt -n -o SOURCE,TARGET,FSTYPE,OPTIONS --mountpoint "$DF_MNT")"
	[[ ,$opts, == *,allow_other,* ]] || fail "allow_other missing from the mount options '$opts' ($tag)"
	[[ -n $(alive_pids) ]] || fail "no running daemon with $DF_CONF on its command line ($tag)"

	head -c 1500000 /dev/urandom >"$T/src.$tag"
	cp "$T/src.$tag" "$DF_MNT/file.$tag" || fail "write through the $tag mount failed"
	assert_file_eq "$DF_MNT/file.$tag" "$T/src.$tag"
	# allow_other: another user may read a world-readable file.
	chmod 0644 "$DF_MNT/file.$tag"
	chmod 0755 "$DF_MNT"
	setpriv --reuid=65534 --regid=65534 --clear-groups cat "$DF_MNT/file.$tag" |
		cmp - "$T/src.$tag" || fail "user nobody cannot read through the $tag mount (allow_other)"
}

# unmount_and_wait TAG: umount(8), then the daemon must be gone (or a
# zombie) within 10 s.
unmount_and_wait()
{
	local tag=$1 i

	umount "$DF_MNT" || fail "umount $DF_MNT failed ($tag)"
	df_is_mounted && fail "$DF_MNT still mounted after umount ($tag)"
	for ((i = 0; i < 500; i++)); do
		[[ -z $(alive_pids) ]] && return 0
		sleep 0.02
	done
	fail "daemon $(alive_pids) still running 10 s after umount ($tag)"
}

# --- mount -t fuse.dfabric ---------------------------------------------------
mount -t fuse.dfabric "$DF_CONF" "$DF_MNT" -o allow_other ||
	fail "mount -t fuse.dfabric $DF_CONF $DF_MNT -o allow_other failed"
check_mount cmdline
unmount_and_wait cmdline

# --- an fstab line -----------------------------------------------------------
printf '%s %s fuse.dfabric defaults,allow_other,default_permissions,_netdev,nofail 0 0\n' \
	"$DF_CONF" "$DF_MNT" >"$T/fstab"
mount -T "$T/fstab" "$DF_MNT" || fail "mount -T $T/fstab $DF_MNT failed"
check_mount fstab
# What the first mount wrote survived its unmount.
assert_file_eq "$DF_MNT/file.cmdline" "$T/src.cmdline"
[[ ,$(findmnt -n -o OPTIONS --mountpoint "$DF_MNT"), == *,default_permissions,* ]] ||
	fail "default_permissions from the fstab line missing from the mount options"
unmount_and_wait fstab

echo "test_mount_helper: passed"
