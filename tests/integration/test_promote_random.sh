#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Promotion on read of a large file read at random: two local tiers,
# 1 MiB extents, [placement] auto = yes (a pass only every hour) and
# promote_freq = 3. A 24 MiB file moved to hdd and read at random in
# 4 KiB pieces with O_DIRECT comes back to nvme extent by extent within
# 10 s, its bytes unchanged. A file read in order counts one access per
# extent and pass, whatever the size of its reads.
#
# Only one job of a file runs at a time, and the placer refuses to queue
# another while one runs. The reader touches every extent while the
# first extent moves: each was refused then, and waited out the
# profiler's 10 s quiet period before it could ask again (a few extents
# came up every 10 s). A refused extent now asks again 250 ms later.
#
# The mount is busy all along (the reader), and migrations are limited
# to 64 KiB/s while it is (migrate_busy_bandwidth): a promotion the reader
# waits for is not held to that limit. It was (16 s per 1 MiB extent):
# none of the 24 came up in the 10 s.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
[[ -x $B/dfabric-ctl ]] || fail "no $B/dfabric-ctl (build first)"

MiB=$((1024 * 1024))
NEXT=24
export DF_S3=0 DF_EXTRA_CONF="extent_size = 1M
migrate_busy_bandwidth = 64K"

df_setup
printf '\n[placement]\nauto = yes\ninterval = 3600\npromote_freq = 3\n' >>"$DF_CONF"
df_mount

p=$DF_MNT/random.bin
head -c $((NEXT * MiB)) /dev/urandom >"$T/random.src"
cp "$T/random.src" "$p"
df_ctl migrate "$p" --to hdd --wait >/dev/null 2>&1 || fail "migrate to hdd failed"
assert_eq "$(tiers_of "$p")" hdd "before the reads"

# Reads 4 KiB at random offsets with O_DIRECT (each reaches the daemon)
# and looks at where the extents are every 0.2 s: prints the seconds it
# took for all of them to be on nvme, or fails after 10 s.
out=$(python3 - "$p" "$B/dfabric-ctl" "$DF_CONF" "$NEXT" <<'EOF'
import json, mmap, os, random, subprocess, sys, time
path, ctl, conf, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
size = os.path.getsize(path)
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
rng = random.Random(7)
start = time.monotonic()
look = start
while True:
    now = time.monotonic()
    if now - start > 10:
        break
    os.preadv(fd, [buf], rng.randrange(size // 4096) * 4096)
    if now - look >= 0.2:
        look = now
        out = subprocess.run([ctl, "-c", conf, "--json", "where", path],
                             capture_output=True, text=True, check=True)
        ext = json.loads(out.stdout)["extents"]
        on = sum(e["tier"] == "nvme" for e in ext)
        if on == n and len(ext) == n:
            print("all %d extents on nvme after %.1f s" % (n, now - start))
            sys.exit(0)
print("%d of %d extents on nvme after 10 s" % (on, n))
sys.exit(1)
EOF
) || fail "$out"
echo "$out"
assert_eq "$(tiers_of "$p")" nvme "after the reads"
assert_file_eq "$p" "$T/random.src"

# A file read once in order counts one access per extent, not one per
# request. Written with one 1 MiB O_DIRECT write per extent (one access
# each), then read in order in 256 KiB pieces: one pass is a second
# access of each extent and promotes nothing (four requests per extent
# counted five); two more passes (a decayed frequency above 3) promote
# it all.
q=$DF_MNT/scan.bin
head -c $((8 * MiB)) /dev/urandom >"$T/scan.src"
dd if="$T/scan.src" of="$q" bs=1M oflag=direct status=none ||
	fail "O_DIRECT write of $q failed"
df_ctl migrate "$q" --to hdd --wait >/dev/null 2>&1 || fail "migrate to hdd failed"
dd if="$q" of=/dev/null bs=256K iflag=direct status=none ||
	fail "O_DIRECT read of $q failed"
sleep 1.5
assert_eq "$(tiers_of "$q")" hdd "after one pass in order"
for pass in 2 3; do
	dd if="$q" of=/dev/null bs=256K iflag=direct status=none ||
		fail "O_DIRECT read $pass of $q failed"
done
for ((i = 0; i < 100; i++)); do
	[[ $(tiers_of "$q") == nvme ]] && break
	sleep 0.1
done
assert_eq "$(tiers_of "$q")" nvme "after three passes"
assert_file_eq "$q" "$T/scan.src"

df_umount
echo "PASS"
