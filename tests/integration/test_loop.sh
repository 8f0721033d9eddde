#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The request loop (fs/fuse_loop.c) serves quick requests on one thread,
# the leader. A request the leader serves there can still wait long: the
# last forget of an unlinked file deletes its objects on the S3 tier, and
# here the server is stopped (SIGSTOP: connections hang, no answer) so
# that the delete waits for its request timeout. Meanwhile other requests
# (a lookup of a new name, a read, a create) must be served at once by the
# standby that takes over, not after the timeout. When the server comes
# back, the delete completes and the daemon is healthy.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

STALL=6   # request_timeout of the s3 tier: how long the delete waits
DF_S3=1
DF_S3_EXTRA=$'request_timeout = '"$STALL"$'\nretries = 0'
df_setup
df_mount

head -c $((8 << 20)) /dev/urandom >"$DF_MNT/cold"
df_ctl migrate "$DF_MNT/cold" --to s3 --wait >/dev/null ||
	fail "cannot migrate cold to s3"
assert_eq "$(tiers_of "$DF_MNT/cold")" s3 "tiers of cold"
echo hello >"$DF_MNT/local"
objects() { find "$DF_S3_DIR" -type f -path "*$DF_TEST_NAME*" ! -name '*.json' | wc -l; }
n=$(objects)
((n > 0)) || fail "no objects of cold in the bucket"

# Writes and reads make every thread read for a while (FLOOD_MS); past
# that, the leader alone reads again, once each thread still in read(2)
# has served one more request: lookups of names that do not exist.
sleep 1
for i in $(seq 64); do
	! stat "$DF_MNT/drain$i" 2>/dev/null || fail "drain$i exists"
done
spid=$(cat "$DF_S3_DIR/pid")
kill -STOP "$spid"
df_trap_exit "kill -CONT $spid 2>/dev/null"
t0=$(date +%s.%N)
rm "$DF_MNT/cold"   # returns; its forget then waits on the server
sleep 0.5           # the forget is being served
# Each of these must not wait for the stalled delete.
rc=0; timeout 3 stat "$DF_MNT/never-looked-up" >/dev/null 2>&1 || rc=$?
((rc != 124)) || fail "a lookup waited for the stalled delete"
((rc == 1)) || fail "stat of a name that does not exist: exit $rc"
out=$(timeout 3 cat "$DF_MNT/local") || fail "reading local waited or failed"
assert_eq "$out" hello "local"
timeout 3 touch "$DF_MNT/new" || fail "a create waited for the stalled delete"
t1=$(date +%s.%N)
took=$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1")
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) - 1 else 1)' \
	"$took" "$STALL" || fail "the requests took $took s, the stall is $STALL s"
echo "lookup, read and create served $took s after the rm (stall $STALL s)"

kill -CONT "$spid"
trap df_cleanup EXIT
# The server answers the waiting delete: the objects go.
for i in $(seq 100); do
	n=$(objects)
	((n == 0)) && break
	sleep 0.1
done
((n == 0)) || fail "$n objects of cold left in the bucket"
df_alive || fail "the daemon died"
echo again >"$DF_MNT/local"
assert_eq "$(cat "$DF_MNT/local")" again "local after the stall"
df_umount
