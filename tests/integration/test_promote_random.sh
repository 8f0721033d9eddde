#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Promotion on read of a large file read at random: two local tiers,
# 1 MiB extents, [placement] auto = yes (a pass only every hour) and
# promote_freq = 3. A 24 MiB file moved to hdd and read at random in
# 4 KiB pieces with O_DIRECT comes back to nvme extent by extent within
# 10 s, its bytes unchanged.
#
# Only one job of a file runs at a time, and the placer refuses to queue
# another while one runs. The reader touches every extent while the
# first extent moves: each was refused then, and waited out the
# profiler's 10 s quiet period before it could ask again (a few extents
# came up every 10 s). A refused extent now asks again 250 ms later.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
[[ -x $B/dfabric-ctl ]] || fail "no $B/dfabric-ctl (build first)"

MiB=$((1024 * 1024))
NEXT=24
export DF_S3=0 DF_EXTRA_CONF="extent_size = 1M"

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

df_umount
echo "PASS"
