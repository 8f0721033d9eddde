#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Everyday use of a dfabric mount: dd, cp -a, tar, rsync -aHAX with hard
# links and xattrs, git; everything is compared with a reference copy on
# the local file system, then again after an unmount and a remount.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

df_setup
M=$DF_MNT
R=$T/ref                         # reference data outside the mount
TREE=/usr/include/linux          # a real tree of ~800 files
[[ -d $TREE ]] || TREE=/usr/include
mkdir -p "$R"

# Metadata of a tree, one line per entry: path, type, mode, owner, size,
# mtime (ns), link target. Directory sizes depend on the file system.
listing()
{
	(cd "$1" && find . -mindepth 1 \( -type d -printf '%P %y %m %U:%G - %T@\n' \) -o \
		-printf '%P %y %m %U:%G %s %T@ %l\n' | LC_ALL=C sort)
}

# Prints the first differing lines of two listings, side by side.
show_diff()
{
	paste -d '\t' <(echo "$1") <(echo "$2") |
		awk -F '\t' '$1 != $2 && n++ < 10 { print "  want: " $1; print "  got:  " $2 }' >&2
}

# The verbose listing of a tar archive whose top directory is $2, sorted,
# with the top directory renamed and the column padding squeezed.
tar_listing()
{
	tar -tvf "$1" | tr -s ' ' | sed "s| $2/| top/|; s| $2/\$| top/|" | LC_ALL=C sort
}

# --- the data ------------------------------------------------------------
head -c $((9 * 1024 * 1024 + 12345)) /dev/urandom >"$R/r1"   # three extents
head -c 12345 /dev/urandom >"$R/r2"
head -c 4096 /dev/urandom >"$R/patch"
: >"$R/empty"

# rsync source: hard links, symlinks, xattrs, odd modes, a sparse file.
S=$T/rs
mkdir -p "$S/a/b" "$S/c"
head -c 100000 /dev/urandom >"$S/a/file"
ln "$S/a/file" "$S/a/b/hard1"
ln "$S/a/file" "$S/c/hard2"
ln -s ../a/file "$S/c/sym"
echo "small" >"$S/c/small"
chmod 0751 "$S/c/small"
chmod 0700 "$S/a/b"
setfattr -n user.color -v blue "$S/a/file"
setfattr -n user.empty "$S/c/small"
setfattr -n user.bin -v 0x00ff00ff "$S/c"
truncate -s 5M "$S/sparse"
printf 'tail' | dd of="$S/sparse" bs=1 seek=$((5 * 1024 * 1024 - 4)) conv=notrunc status=none
mkfifo "$S/c/fifo"
touch -d '2001-02-03 04:05:06.123456789' "$S/c/small"

df_mount

# --- write it all in ------------------------------------------------------
dd if="$R/r1" of="$M/r1" bs=1M status=none
dd if="$R/r2" of="$M/r2" bs=512 status=none
cp "$R/empty" "$M/empty"
# An overwrite in the middle of r1 across the 4 MiB boundary, on both.
for f in "$R/r1" "$M/r1"; do
	dd if="$R/patch" of="$f" bs=1 seek=$((4 * 1024 * 1024 - 2000)) conv=notrunc status=none
done
cp -a "$TREE" "$M/tree"
tar -C "$(dirname "$TREE")" -cf "$T/ref.tar" "$(basename "$TREE")"
tar -C "$M" -cf "$T/out.tar" tree
mkdir "$M/untar"
tar -C "$M/untar" -xpf "$T/out.tar"
rsync -aHAX "$S/" "$M/rs/"

if command -v git >/dev/null; then
	HAVE_GIT=1
	mkdir "$M/repo"
	cp -a "$TREE/." "$M/repo/"
	git -C "$M/repo" init -q
	git -C "$M/repo" add -A
	git -C "$M/repo" -c user.name=dft -c user.email=dft@localhost \
		commit -q -m "import"
	echo change >>"$M/repo/$(cd "$M/repo" && ls *.h | head -n 1)"
	git -C "$M/repo" -c user.name=dft -c user.email=dft@localhost \
		commit -q -a -m "change"
	git -C "$M/repo" gc -q
else
	HAVE_GIT=0
	echo "git not installed: skipping the git part"
fi

verify()
{
	local what=$1 out want got

	for f in r1 r2 empty; do
		assert_file_eq "$R/$f" "$M/$f"
	done
	diff -r "$TREE" "$M/tree" >&2 || fail "$what: cp -a tree differs"
	want=$(listing "$TREE")
	got=$(listing "$M/tree")
	if [[ $want != "$got" ]]; then
		show_diff "$want" "$got"
		fail "$what: metadata of the cp -a tree differs"
	fi
	diff -r "$TREE" "$M/untar/tree" >&2 || fail "$what: untarred tree differs"
	tar -C "$M" -cf "$T/again.tar" tree
	want=$(tar_listing "$T/ref.tar" "$(basename "$TREE")")
	got=$(tar_listing "$T/again.tar" tree)
	if [[ $want != "$got" ]]; then
		show_diff "$want" "$got"
		fail "$what: tar listings differ"
	fi
	out=$(rsync -aHAXn --itemize-changes "$S/" "$M/rs/")
	[[ -z $out ]] || { echo "$out" >&2; fail "$what: rsync finds differences"; }
	assert_eq "$(stat -c %i "$M/rs/a/file")" "$(stat -c %i "$M/rs/c/hard2")" \
		"$what: hard links share an inode"
	assert_eq "$(stat -c %h "$M/rs/a/file")" 3 "$what: link count"
	assert_eq "$(getfattr --absolute-names --only-values -n user.color "$M/rs/a/file")" blue \
		"$what: xattr"
	if [[ $HAVE_GIT == 1 ]]; then
		git -C "$M/repo" fsck --strict --no-progress >&2 ||
			fail "$what: git fsck"
		assert_eq "$(git -C "$M/repo" rev-list --count HEAD)" 2 \
			"$what: commits"
		assert_eq "$(git -C "$M/repo" status --porcelain)" "" \
			"$what: clean work tree"
	fi
}

# The mount's readahead: 8 MiB by default, -o read_ahead_kb=N otherwise.
df_check_ra 8192 "default read_ahead_kb of the mount"

verify "before remount"
df_umount
df_mount -o read_ahead_kb=2048
df_check_ra 2048 "-o read_ahead_kb=2048"
verify "after remount"
df_umount

# -h and -V exit 0, a usage error 2, a config that is not there 1: on the
# sanitizer build these early exits leaked the parsed arguments before,
# and the leak report made them exit 1.
rc=0; "$B/dfabric" -h >"$T/help" 2>&1 || rc=$?
assert_eq "$rc" 0 "dfabric -h"
grep -q "read_ahead_kb" "$T/help" || fail "dfabric -h: $(head -3 "$T/help")"
rc=0; "$B/dfabric" -V >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 0 "dfabric -V"
rc=0; "$B/dfabric" "$DF_CONF" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "dfabric without a mount point"
rc=0; "$B/dfabric" "$T/none.conf" "$DF_MNT" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "dfabric with a config that is not there"

# An -o option libfuse does not know is a usage error (exit 2), and the
# metadata store is not created for it (it was, and the exit was 1).
meta_dir=$(sed -n 's/^meta = //p' "$DF_CONF")
[[ -n $meta_dir ]] || fail "no meta line in $DF_CONF"
rm -rf "$T/other-meta"
sed "s|^meta = .*|meta = $T/other-meta|" "$DF_CONF" >"$T/other.conf"
rc=0
out=$(timeout 10 "$B/dfabric" "$T/other.conf" "$DF_MNT" -f -o bogus_opt 2>&1) || rc=$?
assert_eq "$rc" 2 "exit status with -o bogus_opt: $out"
[[ $out == *"bogus_opt"* ]] || fail "-o bogus_opt: the option is not named: $out"
[[ ! -e $T/other-meta ]] || fail "-o bogus_opt: the metadata store was created"
if mountpoint -q "$DF_MNT"; then fail "-o bogus_opt: mounted"; fi

# A number option that is not a number in range is refused (exit 2, the
# option named); sscanf's %u took -1, 12abc and 2^32 + 1024 before.
for o in read_ahead_kb=-1 read_ahead_kb=12abc read_ahead_kb=4294968320 \
	max_threads=-1 max_read=1M spin_us=-1 spin_us=1001 spin_us=5x; do
	rc=0
	out=$(timeout 10 "$B/dfabric" "$DF_CONF" "$DF_MNT" -f -o "$o" 2>&1) || rc=$?
	assert_eq "$rc" 2 "exit status with -o $o"
	[[ $out == *"-o $o: expected a number"* ]] || fail "-o $o: $out"
	if mountpoint -q "$DF_MNT"; then fail "-o $o: mounted"; fi
done
