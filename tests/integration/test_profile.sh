#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The access profiler on a live mount: a file read many times with
# O_DIRECT (so that every read reaches the daemon, not the page cache)
# heads `dfabric-ctl top`, above a file written once and never read; its
# counters and bytes per tier are right; the statistics survive an
# unmount and a remount; removing the file drops them; status --json
# shows the profiler's counters and the tiers' measured read latency.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
[[ -x $B/dfabric-ctl ]] || fail "no $B/dfabric-ctl (build first)"

KiB=1024
READS=20

# check_top JSON HOT_INO COLD_INO MIN_READS [PATH]: HOT heads the list
# with at least MIN_READS reads and a frequency above COLD's.
check_top()
{
	python3 - "$@" <<'EOF' || fail "top: unexpected reply: $1"
import json, sys

d = json.loads(sys.argv[1])
hot, cold, min_reads = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
path = sys.argv[5] if len(sys.argv) > 5 else None
files = d["files"]
if not d.get("ok") or not files:
    sys.exit("no files")
by = {f["ino"]: f for f in files}
h = files[0]
if h["ino"] != hot:
    sys.exit("first is %s, expected %s" % (h["ino"], hot))
if h["reads"] < min_reads or h["bytes_read"] < min_reads * 256 * 1024:
    sys.exit("hot: reads %s, bytes_read %s" % (h["reads"], h["bytes_read"]))
if h["opens"] < 1 or h["writes"] < 1 or h["bytes_written"] != 256 * 1024:
    sys.exit("hot: opens %s writes %s bytes_written %s" %
             (h["opens"], h["writes"], h["bytes_written"]))
if cold not in by:
    sys.exit("cold file %s not listed" % cold)
c = by[cold]
if not h["frequency"] > c["frequency"] or c["reads"] != 0:
    sys.exit("frequencies: hot %s cold %s (cold reads %s)" %
             (h["frequency"], c["frequency"], c["reads"]))
if h["tiers"] != [{"tier": "nvme", "bytes": 256 * 1024}] or h["size"] != 256 * 1024:
    sys.exit("hot tiers %s size %s" % (h["tiers"], h["size"]))
if h["last_access"] < 1.6e9:
    sys.exit("last_access %s" % h["last_access"])
if path is not None and h.get("path") != path:
    sys.exit("path %s, expected %s" % (h.get("path"), path))
EOF
}

df_setup
df_mount

hot=$DF_MNT/d/hot.bin
cold=$DF_MNT/d/cold.bin
mkdir "$DF_MNT/d"
head -c $((256 * KiB)) /dev/urandom >"$hot"
head -c $((256 * KiB)) /dev/urandom >"$cold"
hot_ino=$(stat -c %i "$hot")
cold_ino=$(stat -c %i "$cold")

for ((i = 0; i < READS; i++)); do
	dd if="$hot" of=/dev/null bs=64K iflag=direct status=none ||
		fail "dd O_DIRECT read $i failed"
done

# The aggregator folds within about 10 ms; wait (bounded) for it.
for ((i = 0; i < 100; i++)); do
	json=$(df_ctl top -n 5 --json) || fail "top --json failed"
	n=$(python3 -c 'import json, sys
d = json.loads(sys.argv[1]); f = d["files"]
print(f[0]["bytes_read"] if f else 0)' "$json")
	((n >= READS * 256 * KiB)) && break
	sleep 0.05
done
check_top "$json" "$hot_ino" "$cold_ino" "$READS"

# Paths when given the mount; the table too.
json=$(df_ctl top -n 5 --json "$DF_MNT") || fail "top --json DIR failed"
check_top "$json" "$hot_ino" "$cold_ino" "$READS" "$hot"
out=$(df_ctl top -n 1 "$DF_MNT") || fail "top DIR failed"
grep -q "^$hot " <<<"$(tail -n 1 <<<"$out")" || fail "top table: $out"
grep -q "nvme:256K" <<<"$out" || fail "top table lacks nvme:256K: $out"
out=$(df_ctl top -n 1) || fail "top failed"
grep -q "inode $hot_ino " <<<"$out" || fail "top table without DIR: $out"

# Bad arguments.
expect_fail df_ctl top -n 0
expect_fail df_ctl top -n x
expect_fail df_ctl top "$T/nvme"

# Counters and latency in status.
json=$(df_ctl status --json) || fail "status --json failed"
python3 - "$json" "$READS" <<'EOF' || fail "status: $json"
import json, sys

d = json.loads(sys.argv[1])
p = d["profiler"]
if p["events"] < int(sys.argv[2]) or p["capacity"] < 1024 or p["files"] < 2:
    sys.exit("profiler %s" % p)
if p["dropped"] != 0 or p["corrupt"] != 0 or p["half_life_s"] != 86400:
    sys.exit("profiler %s" % p)
t = d["tiers"][0]
if t["name"] != "nvme" or t["latency_samples"] < int(sys.argv[2]) or not 0 < t["latency_s"] < 1:
    sys.exit("tier %s" % t)
if d["tiers"][1]["latency_samples"] != 0 or d["tiers"][1]["latency_s"] != -1:
    sys.exit("hdd tier %s" % d["tiers"][1])
EOF

# Across an unmount and a remount.
df_umount
df_mount
json=$(df_ctl top -n 5 --json) || fail "top --json after remount failed"
check_top "$json" "$hot_ino" "$cold_ino" "$READS"

# Removing the file drops its statistics.
rm "$hot"
for ((i = 0; i < 100; i++)); do
	json=$(df_ctl top -n 5 --json) || fail "top --json failed"
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
sys.exit(int(sys.argv[2]) in [f["ino"] for f in d["files"]])' "$json" "$hot_ino" && break
	sleep 0.05
done
((i < 100)) || fail "top still lists the removed file: $json"
df_umount
echo "PASS"
