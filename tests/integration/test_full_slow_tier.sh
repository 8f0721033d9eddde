#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The slower tier's filesystem full (hdd on a 2 MiB tmpfs that another
# file fills) while nvme (10 MiB, high watermark 0.6) is above its high
# watermark: new extents, which would go to hdd, go to nvme up to its
# capacity, and placement moves nothing to hdd.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

MiB=$((1024 * 1024))

df_setup
python3 - "$DF_CONF" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("capacity = 1G", "capacity = 10M\nhigh_watermark = 0.6\n"
              "low_watermark = 0.5\ncost_gb_month = 0.20", 1)
s = s.replace("capacity = 4G", "capacity = 4G\ncost_gb_month = 0.02", 1)
s += "\n[placement]\nauto = yes\ninterval = 3600\n"
open(p, "w").write(s)
EOF
mount -t tmpfs -o size=2m,mode=0700 dfabric-test "$T/hdd" ||
	skip "cannot mount a tmpfs"
df_trap_exit 'umount -l "$T/hdd"'
df_mount || fail "mount failed"
M=$DF_MNT
dd if=/dev/zero of="$T/hdd/foreign" bs=64k status=none 2>/dev/null || true

# (a) 3 MiB on nvme, below its high watermark.
head -c $((3 * MiB)) /dev/urandom >"$T/a.src"
cp "$T/a.src" "$M/a"
assert_eq "$(tiers_of "$M/a")" nvme "a"

# (b) A new extent now goes to hdd first (nvme would pass its high
# watermark), whose filesystem is full: it goes to nvme, which has room
# below its capacity. Before, only slower tiers were tried: ENOSPC.
for f in b c d e; do
	head -c $MiB /dev/urandom >"$T/$f.src"
	cp "$T/$f.src" "$M/$f" || fail "writing $f with hdd full failed"
	assert_eq "$(tiers_of "$M/$f")" nvme "$f"
done
grep -q "tier hdd: its filesystem is full" "$DF_LOG" ||
	fail "hdd was not found full"
# nvme holds 7 MiB: one more extent (4 MiB of room) passes its capacity.
head -c $MiB /dev/urandom >"$T/f.src"
if cp "$T/f.src" "$M/f" 2>/dev/null; then
	fail "f was written with both tiers full: $(tiers_of "$M/f")"
fi

# (c) nvme is above its high watermark, but hdd, full, is as large as
# what it holds there (nothing): a pass moves nothing, and no job fails.
# Before, hdd counted as a tier of no limit: two moves a pass, each
# failing with ENOSPC.
for i in 1 2; do
	out=$(df_ctl place --json) || fail "place failed"
	assert_eq "$(json_get "$out" "d['last']['moves']")" 0 "moves of pass $i: $out"
	df_quiet
done
if df_ctl jobs | grep -q failed; then
	fail "jobs failed: $(df_ctl jobs)"
fi
for f in a b c d e; do
	assert_file_eq "$M/$f" "$T/$f.src"
done

df_umount
echo "PASS"
