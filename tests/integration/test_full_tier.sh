#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A tier whose filesystem fills up before the tier's capacity says so (a
# 16 MiB tmpfs under an nvme tier of 1 GiB): writes and fallocate go on
# onto hdd, also into extents nvme holds, and nothing read back differs.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

MiB=$((1024 * 1024))

df_setup
# Watermarks that the tmpfs is above when full, not the capacity.
sed -i '/^capacity = 1G$/a high_watermark = 0.6\nlow_watermark = 0.5' "$DF_CONF"
mount -t tmpfs -o size=18m,mode=0700 dfabric-test "$T/nvme" ||
	skip "cannot mount a tmpfs"
df_trap_exit 'umount -l "$T/nvme"'
df_mount || fail "mount failed"
M=$DF_MNT

# (a) One file of 40 MiB written by dd with 4 KiB writes: most land in
# an extent already on nvme when it fills up. Before, dd stopped with
# ENOSPC after about 18 MiB.
head -c $((40 * MiB)) /dev/urandom >"$T/a.src"
dd if="$T/a.src" of="$M/a" bs=4k conv=fsync status=none ||
	fail "dd onto a full nvme failed"
assert_file_eq "$M/a" "$T/a.src"
where=$(getfattr --absolute-names --only-values -n user.dfabric.tier "$M/a")
[[ $where == *nvme:* && $where == *hdd:* ]] ||
	fail "a's extents should be on nvme and hdd: $where"
grep -q "the filesystem of tier nvme is full under its extent" "$DF_LOG" ||
	fail "no extent moved off the full nvme (log above)"

# (b) Writes into the holes of every extent of a file on nvme while it
# is full (tmpfs needs pages for them): the extents move with their
# bytes. b has 3 MiB of data at the start of each of its three extents.
rm "$M/a"
for k in 0 1 2; do
	head -c $((3 * MiB)) /dev/urandom |
		dd of="$T/b.src" bs=1M seek=$((4 * k)) conv=notrunc status=none
done
truncate -s $((12 * MiB)) "$T/b.src"
cp --sparse=always "$T/b.src" "$M/b"
sync "$M/b"
assert_eq "$(tiers_of "$M/b")" nvme "b before nvme fills"
printf x >"$M/e"
sync "$M/e"
assert_eq "$(tiers_of "$M/e")" nvme "e before nvme fills"
head -c $((14 * MiB)) /dev/urandom >"$T/c.src"
dd if="$T/c.src" of="$M/c" bs=1M conv=fsync status=none ||
	fail "writing c failed"
cp "$T/b.src" "$T/b.ref"
for off in $((3 * MiB + 1000)) $((7 * MiB + 5000)) $((11 * MiB + 9000)); do
	# What is free on nvme (the last move freed its old copy), another
	# file takes.
	dd if=/dev/zero of="$T/nvme/filler" bs=64k oflag=append conv=notrunc \
		status=none 2>/dev/null || true
	head -c 300000 /dev/urandom >"$T/patch"
	dd if="$T/patch" of="$M/b" bs=300000 seek="$off" oflag=seek_bytes \
		conv=notrunc,fsync status=none || fail "overwrite at $off failed"
	dd if="$T/patch" of="$T/b.ref" bs=300000 seek="$off" oflag=seek_bytes \
		conv=notrunc status=none
done
assert_file_eq "$M/b" "$T/b.ref"
assert_file_eq "$M/c" "$T/c.src"
assert_eq "$(tiers_of "$M/b")" hdd "b after writes into its holes on a full nvme"
rm "$T/nvme/filler"

# (c) fallocate on the full tier: the new extents go to hdd.
fallocate -l $((24 * MiB)) "$M/d" || fail "fallocate with nvme full failed"
assert_eq "$(stat -c %s "$M/d")" $((24 * MiB)) "d's size"
cmp -n $((24 * MiB)) "$M/d" /dev/zero || fail "d is not all zeros"
where=$(getfattr --absolute-names --only-values -n user.dfabric.tier "$M/d")
[[ $where == *hdd:* ]] || fail "d's extents should be on hdd too: $where"

# (d) fallocate over an extent nvme holds: it moves, with its byte.
fallocate -l $((4 * MiB)) "$M/e" || fail "fallocate of e with nvme full failed"
assert_eq "$(tiers_of "$M/e")" hdd "e after its fallocate"
{ printf x; head -c $((4 * MiB - 1)) /dev/zero; } >"$T/e.ref"
assert_file_eq "$M/e" "$T/e.ref"

# The status of each tier against the extent maps of the files, and the
# bytes nvme's filesystem holds against what the status says (a copy
# left behind on the full tier would show there).
check_acct()
{
	local f json wheres=()

	json=$(df_ctl status --json) || fail "status failed"
	for f in b c d e; do
		wheres+=("$(df_ctl --json where "$M/$f")") || fail "where $f failed"
	done
	python3 - "$json" "$(du -B1 -s "$T/nvme" | cut -f1)" "${wheres[@]}" <<'EOF' ||
import json, sys
st = json.loads(sys.argv[1])
held = int(sys.argv[2])
want = {}
for w in sys.argv[3:]:
    for e in json.loads(w)["extents"]:
        t = want.setdefault(e["tier"], [0, 0, set()])
        t[0] += e["length"]
        t[1] += 1
        t[2].add(w)
for t in st["tiers"]:
    u, n, files = want.get(t["name"], [0, 0, set()])
    got = (t["used"], t["extents"], t["files"])
    if got != (u, n, len(files)):
        sys.exit(f"tier {t['name']}: status says used/extents/files {got}, the maps {(u, n, len(files))}")
nvme = [t for t in st["tiers"] if t["name"] == "nvme"][0]
# each extent's bytes round up to a 4 KiB page at most
if held > nvme["used"] + 4096 * (nvme["extents"] + 1):
    sys.exit(f"nvme's filesystem holds {held} bytes, its extents {nvme['used']}")
EOF
		fail "accounting (above): $json"
}
check_acct

# (e) A placement pass sees nvme as large as its filesystem while that
# is full (18 MiB, not 1 GiB): above its high watermark (0.6), cold
# extents go to hdd until it is below its low watermark (0.5).
df_ctl place >/dev/null || fail "place failed"
df_quiet
avail=$(df -B1 --output=avail "$T/nvme" | tail -n 1)
((avail >= 4 * MiB)) || fail "nvme's filesystem has $avail bytes free after a placement pass"
assert_file_eq "$M/b" "$T/b.ref"
assert_file_eq "$M/c" "$T/c.src"

# The same after a remount, and the tiers' use adds up.
df_umount
df_mount || fail "remount failed"
assert_file_eq "$M/b" "$T/b.ref"
assert_file_eq "$M/c" "$T/c.src"
assert_file_eq "$M/e" "$T/e.ref"
cmp -n $((24 * MiB)) "$M/d" /dev/zero || fail "d is not all zeros after the remount"
check_acct

# (f) A migration onto nvme that its filesystem cannot hold fails, and
# marks the tier full as a write would (b fits, c's 10 MiB on hdd not).
lines=$(wc -l <"$DF_LOG")
df_ctl migrate "$M/b" --to nvme --wait >/dev/null || fail "moving b to nvme failed"
expect_fail df_ctl migrate "$M/c" --to nvme --wait
tail -n +"$lines" "$DF_LOG" | grep -q "tier nvme: its filesystem is full" ||
	fail "a migration that met a full nvme did not mark it full"
assert_file_eq "$M/b" "$T/b.ref"
assert_file_eq "$M/c" "$T/c.src"
# Its warning is the only one.
bad=$(grep -E '^dfabric [0-9:.]+ (emerg|alert|crit|error|warning):' "$DF_LOG" |
	grep -v 'rolled back: copy from hdd to nvme: No space left on device' || true)
[[ -z $bad ]] || fail "warnings in the daemon log: $bad"
DF_ALLOW_LOG_ERRORS=1

df_umount
echo "PASS"
