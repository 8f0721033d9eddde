#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -o uring: FUSE over io_uring, with the fuse module's enable_uring set
# for the test (put back at the end).
# - Requests are served through the queues: lookups done by a client on
#   CPU 0 are counted in the daemon's "io_uring served N requests" and
#   are served by the thread of queue 0, not by the one of the other CPU.
# - Files written and read through the queues equal their references
#   (fsx with several seeds at once; a file spanning extents; names,
#   renames, xattrs, a directory of 2000 names), and so after a remount
#   over /dev/fuse.
# - kill -9 with the queues serving: fsynced data survives; SIGTERM ends
#   the daemon with status 0.
# - A request that waits long does not hold up the others of its CPU:
#   with the S3 server frozen (SIGSTOP), a read of a file in s3 waits on
#   CPU 0 while 300 lookups from CPU 0 go through within 3 s (the standby
#   takes the queue's ring over), and fsx on CPU 0 after that gets every
#   reply right (one thread, not two, drives the ring after a takeover).
# - Without -o uring, or with enable_uring off, the daemon serves through
#   /dev/fuse as before.
set -Eeuo pipefail
unset DF_TEST_OPTS   # it chooses its own transport

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

PARAM=/sys/module/fuse/parameters/enable_uring
[[ -w $PARAM ]] || skip "no $PARAM (the kernel has no FUSE over io_uring)"
OLD=$(cat "$PARAM")
restore_param() { echo "$OLD" >"$PARAM" 2>/dev/null || true; }
HAVE_S3=0
if [[ -f $DF_ROOT/node_modules/s3rver/bin/s3rver.js ]]; then
	HAVE_S3=1
	DF_S3=1
fi
df_setup
df_trap_exit restore_param
echo Y >"$PARAM"

FSX=$B/tests/fsx
[[ -x $FSX ]] || fail "no $FSX (build first)"
NCPU=$(getconf _NPROCESSORS_CONF)

# Voluntary context switches of the daemon's threads named $1 (a queue's
# leader and standby).
switches()
{
	local t n=0

	for t in /proc/"$DF_PID"/task/*; do
		if [[ $(cat "$t/comm" 2>/dev/null) == "$1" ]]; then
			n=$((n + $(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")))
		fi
	done
	echo "$n"
}

# The number in the last "io_uring served N requests" of this mount.
served()
{
	sed -n 's/.*io_uring served \([0-9]*\) requests.*/\1/p' "$DF_LOG" | tail -n 1
}

wait_log()
{
	local i

	for ((i = 0; i < 250; i++)); do
		grep -q "$1" "$DF_LOG" && return 0
		sleep 0.02
	done
	fail "no \"$1\" in the daemon's log"
}

: >"$DF_LOG"
df_mount -o uring
wait_log "serving through io_uring: $NCPU queues"

# 1. Lookups from CPU 0 are served by queue 0's thread.
q0=$(switches dfabric-uq0)
q1=$( ((NCPU > 1)) && switches dfabric-uq1 || echo 0)
taskset -c 0 python3 - "$DF_MNT" <<-'EOF'
	import os, sys
	for i in range(3000):
	    try:
	        os.stat("%s/none-%d" % (sys.argv[1], i))
	        sys.exit("none-%d exists" % i)
	    except FileNotFoundError:
	        pass
EOF
d0=$(($(switches dfabric-uq0) - q0))
d1=$(( ( NCPU > 1 ? $(switches dfabric-uq1) : 0 ) - q1))
echo "3000 lookups on CPU 0: queue 0's thread slept $d0 times, queue 1's $d1"
((d0 >= 1500)) || fail "queue 0 served few of the lookups ($d0 sleeps)"
((d1 < d0 / 10)) || fail "queue 1 served lookups of CPU 0 ($d1 sleeps against $d0)"

# 2. Data through the queues.
mkdir -p "$T/ref"
seeds=(11 22 33)
df_fsx_parallel "$DF_MNT" "$T/ref" 3000 "${seeds[@]}"
head -c $((9 << 20)) /dev/urandom >"$T/ref/big"
cp "$T/ref/big" "$DF_MNT/big"
cmp "$T/ref/big" "$DF_MNT/big"
mkdir "$DF_MNT/d"
for i in $(seq 2000); do echo "$i" >"$DF_MNT/d/f$i"; done
assert_eq "$(ls "$DF_MNT/d" | wc -l)" 2000 "names in a directory of 2000"
mv "$DF_MNT/d/f7" "$DF_MNT/d/seven"
assert_eq "$(cat "$DF_MNT/d/seven")" 7 "a renamed file"
[[ ! -e $DF_MNT/d/f7 ]] || fail "the old name of a renamed file is still there"
setfattr -n user.colour -v blue "$DF_MNT/big"
assert_eq "$(getfattr --only-values -n user.colour "$DF_MNT/big")" blue "an xattr"
tier=$(getfattr --only-values -n user.dfabric.tier "$DF_MNT/big")
[[ $tier == nvme:0-* ]] || fail "user.dfabric.tier: $tier"
rm "$DF_MNT/d/f1"
[[ ! -e $DF_MNT/d/f1 ]] || fail "an unlinked file is still there"
df_umount
n=$(served)
echo "served over io_uring: $n requests"
((n >= 3000)) || fail "only $n requests served over io_uring"

# 3. The same bytes over /dev/fuse (no -o uring: no queues).
: >"$DF_LOG"
df_mount
for s in "${seeds[@]}"; do cmp "$T/ref/fsx.$s" "$DF_MNT/fsx.$s"; done
cmp "$T/ref/big" "$DF_MNT/big"
assert_eq "$(ls "$DF_MNT/d" | wc -l)" 1999 "names after a remount"
df_umount
! grep -q "serving through io_uring" "$DF_LOG" || fail "io_uring used without -o uring"

# 4. kill -9 while the queues serve; fsynced data survives.
: >"$DF_LOG"
df_mount -o uring
wait_log "serving through io_uring"
head -c $((5 << 20)) /dev/urandom >"$T/ref/synced"
dd if="$T/ref/synced" of="$DF_MNT/synced" bs=1M conv=fsync status=none
df_kill9
df_mount -o uring
cmp "$T/ref/synced" "$DF_MNT/synced"
kill -TERM "$DF_PID"
df_wait_exit 10 || fail "the daemon outlived SIGTERM"
assert_eq "$DF_STATUS" 0 "exit status after SIGTERM"
DF_PID=
! mountpoint -q "$DF_MNT" || fail "still mounted after SIGTERM"

# 5. A read waiting on a frozen S3 server; lookups of the same CPU go on.
if ((HAVE_S3)); then
	df_mount -o uring
	wait_log "serving through io_uring"
	head -c $((8 << 20)) /dev/urandom >"$T/ref/cold"
	cp "$T/ref/cold" "$DF_MNT/cold"
	df_ctl migrate "$DF_MNT/cold" --to s3 --wait >/dev/null
	assert_eq "$(tiers_of "$DF_MNT/cold")" s3 "tiers of a file migrated to s3"
	df_umount
	echo 3 >/proc/sys/vm/drop_caches
	DF_ALLOW_LOG_ERRORS=1   # the read may time out: a warning
	df_mount -o uring
	wait_log "serving through io_uring"
	s3pid=$(cat "$DF_S3_DIR/pid")
	kill -STOP "$s3pid"
	taskset -c 0 head -c 4096 "$DF_MNT/cold" >/dev/null 2>&1 &
	reader=$!
	sleep 0.5
	kill -0 "$reader" 2>/dev/null || { kill -CONT "$s3pid"; fail "the read did not wait for the frozen server"; }
	took=$(taskset -c 0 python3 - "$DF_MNT" <<-'EOF'
		import os, sys, time
		t0 = time.monotonic()
		for i in range(300):
		    try:
		        os.stat("%s/absent-%d" % (sys.argv[1], i))
		    except FileNotFoundError:
		        pass
		    if time.monotonic() - t0 > 20:
		        break
		print("%.2f" % (time.monotonic() - t0))
	EOF
	)
	waiting=0
	kill -0 "$reader" 2>/dev/null && waiting=1
	# After the takeover one thread drives the ring: fsx on CPU 0 (the
	# read still waiting) gets every reply right.
	# Busy loops on CPU 0 make requests slow enough for more takeovers.
	hogs=()
	for i in 1 2; do
		taskset -c 0 timeout 60 sh -c 'while :; do :; done' &
		hogs+=($!)
	done
	# (in a subshell: the busy loops end and the server goes on first)
	bad=0
	(FSX_CPU=0 df_fsx_parallel "$DF_MNT" "$T/ref" 1500 44 55) || bad=1
	kill "${hogs[@]}" 2>/dev/null || true
	wait "${hogs[@]}" 2>/dev/null || true
	kill -CONT "$s3pid"
	((bad == 0)) || fail "fsx on CPU 0 after a takeover"
	wait "$reader" || true
	echo "300 lookups from CPU 0 while a read waited on S3: $took s (read still waiting after them: $waiting)"
	python3 -c 'import sys; sys.exit(float(sys.argv[1]) > 3)' "$took" ||
		fail "300 lookups took $took s while a read of the same CPU waited"
	((waiting)) || fail "the read ended before the lookups did: nothing was tested"
	cmp "$T/ref/cold" "$DF_MNT/cold"
	df_umount
	# The takeovers left one thread driving the ring: none served a
	# request twice or saw a reply where a request should be.
	! grep "warning: io_uring" "$DF_LOG" || fail "io_uring warnings after the takeovers"
	DF_ALLOW_LOG_ERRORS=0
fi

# 6. enable_uring off: -o uring serves through /dev/fuse.
echo N >"$PARAM"
: >"$DF_LOG"
df_mount -o uring
cmp "$T/ref/big" "$DF_MNT/big"
df_umount
! grep -q "serving through io_uring" "$DF_LOG" ||
	fail "io_uring used with enable_uring off"
df_check_log
echo "PASS test_uring"
