#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Durability across kill -9 of the daemon:
#  (a) a writer fsyncs file after file while the daemon is killed at a
#      random moment, ten times; after each remount every file the writer
#      reported as synced (in this and all earlier rounds) is intact, and
#      the mount works;
#  (b) a namespace built by create, rename, unlink, mkdir, rmdir, symlink,
#      hard link, chmod and truncate, then fsynced (files and directories),
#      is exactly the same after kill -9 and remount;
#  (c) a file written without fsync when the daemon dies is consistent
#      after remount: each byte is the new pattern, or the old synced
#      content, or (past the old size) zero; never anything else.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
# Name the command that ended the test through set -e.
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

WS=$B/tests/writesync
[[ -x $WS ]] || fail "no $WS (build first)"

ROUNDS=${DURABILITY_ROUNDS:-10}
WRITER_WAIT=10         # seconds a writer may take to notice the daemon died

# wait_gone PID SECONDS: wait for a background job; fail if it outlives the
# daemon by more than SECONDS.
wait_gone()
{
	local pid=$1 i

	for ((i = 0; i < $2 * 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
		fail "process $pid still running $2 s after the daemon was killed (hung on the dead mount?)"
	fi
	wait "$pid" 2>/dev/null || true
}

# wait_progress OUT BYTES PID: wait (at most 10 s) until a "stream" writer
# whose output is OUT reported BYTES written, or ended.
wait_progress()
{
	local out=$1 want=$2 pid=$3 i last

	for ((i = 0; i < 500; i++)); do
		last=$(tail -n1 "$out" 2>/dev/null || true)
		last=${last#wrote }
		[[ $last =~ ^[0-9]+$ ]] || last=0
		((last >= want)) && return 0
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.02
	done
	fail "a writer made no progress in 10 s ($out)"
}

# check_mount_works: stat, list and write/read back a new file.
check_mount_works()
{
	local tag=$1

	stat "$DF_MNT" >/dev/null || fail "stat $DF_MNT failed after remount ($tag)"
	ls -la "$DF_MNT" >/dev/null || fail "ls $DF_MNT failed after remount ($tag)"
	head -c 300000 /dev/urandom >"$T/probe.src"
	cp "$T/probe.src" "$DF_MNT/probe.$tag" || fail "cannot write a new file after remount ($tag)"
	assert_file_eq "$DF_MNT/probe.$tag" "$T/probe.src"
	rm "$DF_MNT/probe.$tag" || fail "cannot remove a file after remount ($tag)"
}

df_setup
df_mount

# --- (a) kill -9 while a writer fsyncs file after file -----------------------
total_synced=0
RANDOM=4242                 # the kill moments are the same on every run
for ((r = 1; r <= ROUNDS; r++)); do
	seed=$((1000 + r))
	dir=$DF_MNT/round$r
	mkdir "$dir" || fail "mkdir $dir"
	"$WS" fsync "$DF_MNT" "$dir" || fail "fsync of $DF_MNT and $dir failed"
	"$WS" write "$dir" "$seed" 100000 6000000 >"$T/synced.$r" 2>"$T/writer.$r.err" &
	wpid=$!
	# A random moment between 0.2 and 1.7 s into the writer's run.
	delay=$((200 + RANDOM % 1500))
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -0 "$wpid" 2>/dev/null || {
		cat "$T/writer.$r.err" >&2
		fail "round $r: the writer stopped before the daemon was killed"
	}
	df_kill9
	wait_gone "$wpid" "$WRITER_WAIT"
	n=$(grep -c '^synced ' "$T/synced.$r" || true)
	total_synced=$((total_synced + n))
	echo "round $r: killed after ${delay} ms, $n files synced"
	df_mount || fail "round $r: remount after kill -9 failed"
	for ((j = 1; j <= r; j++)); do
		"$WS" verify "$DF_MNT/round$j" $((1000 + j)) "$T/synced.$j" >/dev/null ||
			fail "round $r: files synced in round $j are not intact after kill -9 and remount"
	done
	# The file being written at the kill, if it exists, holds only
	# pattern bytes or zeroes.
	partial=$(printf '%s/w%d_%04d' "$DF_MNT/round$r" "$seed" "$n")
	if [[ -e $partial ]]; then
		"$WS" check "$partial" "$seed" 6000000 >/dev/null ||
			fail "round $r: the unsynced file $partial holds bytes that were never written"
	fi
	check_mount_works "round$r"
done
((total_synced > 0)) || fail "no file was ever synced before a kill: the test checked nothing"
echo "(a) $total_synced synced files intact across $ROUNDS kills"

# --- (b) a namespace fsynced, then kill -9 ------------------------------------
ns=$DF_MNT/ns
mkdir -p "$ns/d1/sub" "$ns/d2" "$ns/rmme"
for f in a b c gone "d1/x" "d1/sub/deep"; do
	head -c $((RANDOM * 7 + 1)) /dev/urandom >"$ns/$f"
done
: >"$ns/empty"
mv "$ns/a" "$ns/d2/a2"                  # rename across directories
mv "$ns/b" "$ns/b2"                     # rename in one directory
mv -f "$ns/c" "$ns/d1/x"                # rename over an existing file
rm "$ns/gone"                           # unlink
rmdir "$ns/rmme"                        # rmdir
mv "$ns/d1/sub" "$ns/d2/sub"            # rename a directory
ln -s d2/a2 "$ns/link"                  # symlink
ln -s /no/such/target "$ns/dangling"    # dangling symlink
ln "$ns/d2/a2" "$ns/d1/hard"            # hard link
ln "$ns/b2" "$ns/d1/b3"                 # hard link, then drop the first name
rm "$ns/b2"
chmod 0600 "$ns/d1/b3"
truncate -s 12345 "$ns/d2/sub/deep"
mkdir "$ns/d3"
# fsync every file and directory (syncfs does not reach a FUSE daemon).
mapfile -t paths < <(find "$ns" \( -type f -o -type d \) -print)
"$WS" fsync "${paths[@]}" "$DF_MNT" || fail "fsync of the namespace failed"
sync -f "$DF_MNT" || fail "sync -f $DF_MNT failed"

# manifest DIR: one line per entry: path, type, permissions, link count,
# size (files, symlinks), symlink target, content digest, and for files
# with several links the first path sharing its inode.
manifest()
{
	(cd "$1" && find . -mindepth 1 -printf '%P\t%y\t%m\t%n\t%i\t%s\t%l\n' | sort |
		while IFS=$'\t' read -r p y m n i s l; do
			case $y in
			f) sum=$(md5sum <"$p" | cut -d' ' -f1) ;;
			l) sum=- ;;
			*) sum=-; s=- ;;
			esac
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$y" "$m" "$n" "$s" "$l" "$sum" "$i"
		done | awk -F'\t' -v OFS='\t' '
			{ if (!($8 in first)) first[$8] = $1; $8 = ($2 == "f" && $4 > 1) ? "same-inode-as:" first[$8] : ""; print }')
}
# dirtimes DIR: each directory's mtime and ctime, to the nanosecond.
dirtimes()
{
	(cd "$1" && find . -type d -printf '%P\t%T@\t%C@\n' | sort)
}
manifest "$ns" >"$T/ns.before"
dirtimes "$ns" >"$T/dt.before"
inodes_before=$(json_get "$(df_ctl --json status)" 'd["inodes"]')
df_kill9
df_mount || fail "(b) remount after kill -9 failed"
manifest "$ns" >"$T/ns.after"
if ! diff -u "$T/ns.before" "$T/ns.after" >&2; then
	fail "(b) the namespace after kill -9 differs from the fsynced one (diff above)"
fi
# The times of a directory are stored lazily (within a second), but
# fsyncdir stores them at once; the inode count is kept in memory and
# counted again after a crash.
dirtimes "$ns" >"$T/dt.after"
diff -u "$T/dt.before" "$T/dt.after" >&2 ||
	fail "(b) directory times after kill -9 differ from the fsynced ones (diff above)"
assert_eq "$(json_get "$(df_ctl --json status)" 'd["inodes"]')" "$inodes_before" \
	"(b) inode count after kill -9"
# Without fsync, the flusher stores them within a second.
cp "$ns/d1/x" "$T/x.keep"
: >"$ns/d2/late"
rm "$ns/d1/x"
sleep 2.5
dirtimes "$ns" >"$T/dt.before"
df_kill9
df_mount || fail "(b) remount after the second kill -9 failed"
dirtimes "$ns" >"$T/dt.after"
diff -u "$T/dt.before" "$T/dt.after" >&2 ||
	fail "(b) directory times stored by the flusher were lost (diff above)"
: >"$ns/d2/late2"
assert_eq "$(json_get "$(df_ctl --json status)" 'd["inodes"]')" $((inodes_before + 1)) \
	"(b) inode count after another kill -9 (one file more, then one less)"
rm "$ns/d2/late" "$ns/d2/late2"
cp "$T/x.keep" "$ns/d1/x"        # as it was, for the check after (c)
[[ $(stat -c %i "$ns/d1/hard") == $(stat -c %i "$ns/d2/a2") ]] ||
	fail "(b) d1/hard and d2/a2 are no longer one inode"
assert_eq "$(readlink "$ns/link")" "d2/a2" "(b) symlink target"
echo "(b) namespace of $(wc -l <"$T/ns.after") entries identical after kill -9"
check_mount_works "ns"

# --- (c) writes without fsync when the daemon dies ---------------------------
# c1: a new file streamed without fsync.
"$WS" stream "$DF_MNT/stream.new" 77 $((256 << 20)) >"$T/stream.new.out" 2>"$T/stream.new.err" &
wpid=$!
wait_progress "$T/stream.new.out" $((20 << 20)) "$wpid"
sleep 0.1
df_kill9
wait_gone "$wpid" "$WRITER_WAIT"
echo "c1: writer reached $(tail -n1 "$T/stream.new.out" 2>/dev/null || echo 'nothing')"
df_mount || fail "(c) remount after kill -9 failed"
"$WS" check "$DF_MNT/stream.new" 77 $((256 << 20)) ||
	fail "(c) an unsynced new file holds bytes that were never written"

# c2: a synced 96 MiB file overwritten and extended without fsync; the
# kill comes early, while the old content is being overwritten.
"$WS" stream "$DF_MNT/stream.old" 5 $((96 << 20)) >/dev/null || fail "(c) writing stream.old failed"
"$WS" fsync "$DF_MNT/stream.old" "$DF_MNT" || fail "(c) fsync of stream.old failed"
"$WS" stream "$DF_MNT/stream.old" 6 $((256 << 20)) >"$T/stream.old.out" 2>"$T/stream.old.err" &
wpid=$!
wait_progress "$T/stream.old.out" $((4 << 20)) "$wpid"
df_kill9
wait_gone "$wpid" "$WRITER_WAIT"
echo "c2: writer reached $(tail -n1 "$T/stream.old.out" 2>/dev/null || echo 'nothing')"
df_mount || fail "(c) remount after kill -9 failed"
"$WS" check "$DF_MNT/stream.old" 6 $((256 << 20)) 5 $((96 << 20)) ||
	fail "(c) an overwritten file is neither old, new nor zero after kill -9"
check_mount_works "stream"

# Everything synced earlier is still there after a clean unmount and mount.
df_umount
df_mount
for ((j = 1; j <= ROUNDS; j++)); do
	"$WS" verify "$DF_MNT/round$j" $((1000 + j)) "$T/synced.$j" >/dev/null ||
		fail "files synced in round $j are not intact after the final remount"
done
manifest "$ns" >"$T/ns.final"
diff -u "$T/ns.before" "$T/ns.final" >&2 || fail "(b) namespace changed after a clean remount"
df_umount
echo "test_durability: passed"
