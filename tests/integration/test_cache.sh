#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cache mode ([predict] cache = yes) on a live mount: two local tiers, nvme
# of 8 MiB (room for 7.2 MiB below its high watermark), files of 2 MiB, no
# placement pass or prefetch round within the test (interval and prefetch
# of an hour), so that only reads move data (an extent at most once in
# 10 s, writes included, which takes this test that long):
#  (a) a read of a file on hdd promotes it, at the first read, when it
#      fits;
#  (b) when it does not fit, a file on nvme (none of them has a forecast)
#      is demoted to make room, and the file read is promoted; the others
#      stay. The file that goes is the least recently used (written
#      once, never read);
#  (c) when those that may go would not free enough (another is pinned
#      there), none goes: the file read stays on hdd and reads right;
#  (d) dfabric-ctl place --status shows the precision of prefetches and
#      the read-ahead counters.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
command -v setfattr >/dev/null || skip "setfattr (package attr) is needed"
[[ -x $B/dfabric-ctl ]] || fail "no $B/dfabric-ctl (build first)"

MiB=$((1024 * 1024))

DF_NVME_CAP=8M df_setup
cat >>"$DF_CONF" <<CONF

[placement]
auto = yes
interval = 3600

[predict]
cache = yes
prefetch = 3600
CONF
df_mount

# wait_tier FILE TIER: waits (bounded) until every extent of FILE is on
# TIER and no job is left running.
wait_tier()
{
	local i

	for ((i = 0; i < 100; i++)); do
		if [[ $(tiers_of "$1") == "$2" ]] &&
		   ! df_ctl jobs | grep -qE 'pending|copying|verifying'; then
			return 0
		fi
		sleep 0.1
	done
	fail "$1 is on '$(tiers_of "$1")', not $2, after 10 s"
}

for f in a b c d; do
	head -c $((2 * MiB)) /dev/urandom >"$T/$f.src"
done
head -c $((6 * MiB)) /dev/urandom >"$T/e.src"
# c, d and e first, moved to hdd by hand (a write on hdd would promote them
# at once, as a read does); then a and b land on nvme, and b is read there:
# a is the least recently used and the least often read.
for f in c d e; do
	cp "$T/$f.src" "$DF_MNT/$f"
	sync
	df_quiet
	df_to_hdd "$DF_MNT/$f"
done
written=$(date +%s.%N)
for f in a b; do
	cp "$T/$f.src" "$DF_MNT/$f"
	sync
	assert_eq "$(tiers_of "$DF_MNT/$f")" nvme "$f after writing it"
	sleep 1.2        # each access its own session, a clear order
done
df_read_direct "$DF_MNT/b"
df_quiet
# An extent is promoted at most once in 10 s, and the writes of c, d and
# e counted as an attempt.
python3 -c "import time; time.sleep(max(0.0, 10.5 - (time.time() - $written)))"

# --- (a) promoted at the first read, when it fits ------------------------------

df_read_direct "$DF_MNT/c"
wait_tier "$DF_MNT/c" nvme
assert_eq "$(tiers_of "$DF_MNT/a")" nvme "a after c came up (6 MiB fit)"
assert_eq "$(tiers_of "$DF_MNT/b")" nvme "b after c came up"

# --- (b) no room: the least recently used and least often read goes down ----

df_read_direct "$DF_MNT/d"
wait_tier "$DF_MNT/d" nvme
wait_tier "$DF_MNT/a" hdd
assert_eq "$(tiers_of "$DF_MNT/b")" nvme "b after d came up"
assert_eq "$(tiers_of "$DF_MNT/c")" nvme "c after d came up"

# --- (c) not enough may go: nothing moves --------------------------------------

# e (6 MiB) needs b, c and d gone; d is pinned, and b and c alone free
# 4 MiB: neither goes, and e stays on hdd.
setfattr -n user.dfabric.pin -v nvme "$DF_MNT/d" ||
	fail "setfattr user.dfabric.pin on d failed"
df_quiet
df_read_direct "$DF_MNT/e"
sleep 1
df_quiet
assert_eq "$(tiers_of "$DF_MNT/e")" hdd "e read with too little that may go"
for f in b c d; do
	assert_eq "$(tiers_of "$DF_MNT/$f")" nvme "$f after e was read"
done

for f in a b c d e; do
	assert_file_eq "$DF_MNT/$f" "$T/$f.src"
done

# --- (d) cache mode's counters in place --status -------------------------------

st=$(df_ctl place --status --json) || fail "place --status --json failed"
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); \
	assert d["cache"] is True and 0 < d["precision"] <= 1, d; \
	assert "recency" not in d and "known" not in d, d' "$st" ||
	fail "place --status --json: $st"
out=$(df_ctl place --status) || fail "place --status failed"
grep -qE "^cache mode: [0-9]+% of prefetched items read; 0 read ahead of sequential readers, 0 of 0 judged read$" <<<"$out" ||
	fail "place --status: $out"
df_umount
df_check_log
echo "PASS"
