#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Cache mode ([predict] cache = yes) reads ahead of a sequential reader of
# a large file, on a live mount: extents of 64 KiB, files of 2 MiB (32
# extents, each with statistics of its own), both on hdd. The files are
# written and moved with cache mode off and the mount is made again with
# it on, so that no write counts as a promotion attempt (an extent is
# promoted on access at most once in 10 s) and no pass or round runs
# within the test (interval and prefetch of an hour):
#  (a) reading the first 8 extents of `seq` in order, one request each,
#      brings extents after them to nvme that were never read;
#  (b) reading 8 extents of `rnd` out of order promotes those read and
#      no other;
#  (c) both read back right, and place --status counts what was read
#      ahead.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
[[ -x $B/dfabric-ctl ]] || fail "no $B/dfabric-ctl (build first)"

KiB=1024
EXT=$((64 * KiB))

DF_EXTRA_CONF="extent_size = 64K" DF_NVME_CAP=64M df_setup
cat >>"$DF_CONF" <<CONF

[placement]
auto = yes
interval = 3600

[predict]
cache = no
prefetch = 3600
CONF
df_mount

# on_nvme FILE: the indexes of the 64 KiB blocks of FILE on nvme, in
# order (an extent record may span several).
on_nvme()
{
	df_ctl --json where "$1" | python3 -c '
import json, sys
ext = int(sys.argv[1])
print(" ".join(str(b) for e in json.load(sys.stdin)["extents"]
               if e["tier"] == "nvme"
               for b in range(e["offset"] // ext,
                              (e["offset"] + e["length"] + ext - 1) // ext)))' "$EXT"
}

for f in seq rnd; do
	head -c $((32 * EXT)) /dev/urandom >"$T/$f.src"
	cp "$T/$f.src" "$DF_MNT/$f"
done
sync
df_quiet
for f in seq rnd; do
	df_to_hdd "$DF_MNT/$f"
done
df_umount
sed -i 's/^cache = no$/cache = yes/' "$DF_CONF"
df_mount

# read_extents FILE N...: reads extents N... of FILE, one O_DIRECT request
# each, in the order given.
read_extents()
{
	local f=$1 n
	shift
	for n in "$@"; do
		dd if="$f" of=/dev/null bs=$EXT skip="$n" count=1 iflag=direct \
			status=none || fail "reading extent $n of $f failed"
	done
}

# --- (a) a sequential reader is read ahead of ---------------------------------

read_extents "$DF_MNT/seq" 0 1 2 3 4 5 6 7
df_quiet
got=$(on_nvme "$DF_MNT/seq")
ahead=$(python3 -c 'import sys; print(len([n for n in sys.argv[1].split() if int(n) > 7]))' "$got")
[[ $ahead -gt 0 ]] ||
	fail "no extent after the 8 read of seq is on nvme: nvme holds '$got'"

# --- (b) a reader skipping about is not ----------------------------------------

read_extents "$DF_MNT/rnd" 20 3 11 27 6 15 1 24
df_quiet
got=$(on_nvme "$DF_MNT/rnd")
python3 -c 'import sys
got = set(map(int, sys.argv[1].split()))
read = {20, 3, 11, 27, 6, 15, 1, 24}
assert got <= read, sorted(got - read)' "$got" ||
	fail "rnd: extents on nvme that were not read: nvme holds '$got'"

# --- (c) the data, and place --status --------------------------------------------

for f in seq rnd; do
	assert_file_eq "$DF_MNT/$f" "$T/$f.src"
done
st=$(df_ctl place --status --json) || fail "place --status --json failed"
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); \
	assert d["cache"] is True and d["read_ahead"] >= int(sys.argv[2]), d; \
	assert d["read_ahead_judged"] == 0 and d["read_ahead_read"] == 0, d' \
	"$st" "$ahead" || fail "place --status --json: $st"
out=$(df_ctl place --status) || fail "place --status failed"
grep -qE "; [1-9][0-9]* read ahead of sequential readers, 0 of 0 judged read$" <<<"$out" ||
	fail "place --status: $out"
df_umount
df_check_log
echo "PASS"
