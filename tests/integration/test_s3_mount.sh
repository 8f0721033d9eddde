#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The S3 tier on a live mount, against a real S3-compatible server (s3rver),
# once with each signature:
#  (a) files migrated to the s3 tier read back byte for byte, in full and
#      at random ranges, with the page cache dropped and, after a remount,
#      with the daemon's caches cold;
#  (b) a 4 KiB read of a cold extent fetches a few blocks, not the extent
#      (the tier's counters in `dfabric-ctl --json status`); a sequential
#      reader of a cold file is read ahead, across extents too (the next
#      extent's start is prefetched), random readers are not;
#  (c) a partial write into an s3-resident extent brings it back to nvme;
#  (d) v2: fsx on a file that is migrated to s3 and back while it runs;
#  (e) v4: the server killed in the middle of a read: the reader gets EIO
#      within seconds, local files keep working, the tier shows down; the
#      server restarted on its port: the tier comes back up and reads work.
# (A credentials file with the wrong mode is tested in test_s3_server.sh.)
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
[[ -f $DF_ROOT/node_modules/s3rver/bin/s3rver.js ]] ||
	skip "no s3rver (run npm ci --no-audit --no-fund at the top of the tree)"
FSX=$B/tests/fsx
[[ -x $FSX ]] || fail "no $FSX (build first)"
MiB=1048576

# s3_stat FIELD: a counter of the s3 tier from `status --json`.
s3_stat()
{
	df_ctl --json status | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin)["tiers"] if t["name"] == "s3"][0]
print(t[sys.argv[1]])' "$1"
}

# to_s3 FILE...: migrate each file to the s3 tier and check where it is.
to_s3()
{
	local f

	for f in "$@"; do
		df_ctl migrate "$f" --to s3 --wait 2>"$T/progress" >/dev/null ||
			fail "migrate $f --to s3: $(cat "$T/progress")"
		assert_eq "$(tiers_of "$f")" s3 "tiers of $f after migrating it to s3"
	done
}

# random_ranges FILE REF COUNT SEED: COUNT reads at random offsets and
# lengths (some across extent boundaries, some past EOF), each compared
# with the reference, the kernel's cache of FILE dropped before each.
random_ranges()
{
	python3 - "$@" <<'EOF'
import os, random, sys
path, ref, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
want = open(ref, "rb").read()
size = len(want)
fd = os.open(path, os.O_RDONLY)
ext = 4 << 20
for i in range(count):
    kind = rnd.randrange(4)
    if kind == 0:      # small, anywhere
        off, n = rnd.randrange(size), rnd.randrange(1, 9000)
    elif kind == 1:    # across an extent boundary
        b = ext * rnd.randrange(1, max(2, size // ext + 1))
        off, n = max(0, b - rnd.randrange(1, 70000)), rnd.randrange(2, 140000)
    elif kind == 2:    # large
        off, n = rnd.randrange(size), rnd.randrange(1, 3 << 20)
    else:              # near or past EOF
        off, n = max(0, size - rnd.randrange(0, 70000)), rnd.randrange(1, 100000)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    got = os.pread(fd, n, off)
    if got != want[off:off + n]:
        print("mismatch: read %d bytes at %d: got %d bytes, first difference at %s"
              % (n, off, len(got), next((j for j in range(min(len(got), n))
                                         if got[j:j+1] != want[off+j:off+j+1]), "end")))
        sys.exit(1)
print("random ranges: %d reads ok" % count)
EOF
}

# cold_4k FILE REF OFF: a 4 KiB read at OFF with the kernel's readahead
# off; prints "<gets> <bytes>" the s3 tier fetched for it.
cold_4k()
{
	local g0 r0 g1 r1

	g0=$(s3_stat gets)
	r0=$(s3_stat rx_bytes)
	python3 - "$1" "$2" "$3" <<'EOF'
import os, sys
path, ref, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
got = os.pread(fd, 4096, off)
with open(ref, "rb") as r:
    r.seek(off)
    if got != r.read(4096):
        sys.exit("4 KiB read at %d: wrong bytes" % off)
EOF
	g1=$(s3_stat gets)
	r1=$(s3_stat rx_bytes)
	echo "$((g1 - g0)) $((r1 - r0))"
}

# mount_cold: remount, so that the daemon's caches are empty, and drop the
# kernel's.
mount_cold()
{
	df_umount
	echo 3 >/proc/sys/vm/drop_caches
	df_mount "$@"
}

# common: parts (a), (b) and (c) on the current signature.
common()
{
	local sig=$1 out gets bytes ra0 ra1 g0 g1

	df_mount
	head -c $((24 * MiB + 12345)) /dev/urandom >"$T/big.ref"
	head -c 5000 /dev/urandom >"$T/small.ref"
	: >"$T/empty.ref"
	for f in big small empty; do
		cp "$T/$f.ref" "$DF_MNT/$f"
	done
	sync "$DF_MNT/big"
	to_s3 "$DF_MNT/big" "$DF_MNT/small"
	[[ $(du -k "$T/nvme" | tail -1 | cut -f1) -lt 1024 ]] ||
		fail "$sig: nvme still holds the data: $(du -sh "$T/nvme")"
	(($(s3_stat tx_bytes) >= 24 * MiB)) || fail "$sig: tx_bytes $(s3_stat tx_bytes)"

	# (a) in full, with the kernel's cache dropped (the daemon's is cold:
	# the migration does not fill it)
	echo 3 >/proc/sys/vm/drop_caches
	for f in big small empty; do
		cmp "$DF_MNT/$f" "$T/$f.ref" || fail "$sig: $f differs after migration to s3"
	done
	(($(s3_stat rx_bytes) >= 24 * MiB)) ||
		fail "$sig: read 24 MiB from s3 but rx_bytes is $(s3_stat rx_bytes)"
	random_ranges "$DF_MNT/big" "$T/big.ref" 150 7 || fail "$sig: random ranges (warm daemon)"
	mount_cold
	assert_eq "$(s3_stat rx_bytes)" 0 "$sig: rx_bytes after a remount"
	random_ranges "$DF_MNT/big" "$T/big.ref" 150 8 || fail "$sig: random ranges (cold daemon)"
	cmp "$DF_MNT/small" "$T/small.ref" || fail "$sig: small differs after remount"

	# (b) 4 KiB of a cold extent: its trailer and one or two 64 KiB blocks
	mount_cold
	df_check_ra 1024 "$sig: the readahead of a mount with an s3 tier"
	read -r gets bytes < <(cold_4k "$DF_MNT/big" "$T/big.ref" $((9 * MiB + 12345)))
	echo "$sig: a cold 4 KiB read fetched $bytes bytes in $gets GETs"
	((gets >= 1 && gets <= 3)) || fail "$sig: $gets GETs for a cold 4 KiB read"
	((bytes > 4096 && bytes <= 3 * 65536)) ||
		fail "$sig: a cold 4 KiB read fetched $bytes bytes (extent: 4 MiB)"
	# the same bytes again: served from the daemon's cache
	g0=$(s3_stat cache_hits)
	cold_4k "$DF_MNT/big" "$T/big.ref" $((9 * MiB + 12345)) >/dev/null
	g1=$(s3_stat cache_hits)
	((g1 > g0)) || fail "$sig: a second read of the same 4 KiB: no cache hit ($g0 -> $g1)"

	# (b) a sequential reader is read ahead, across extent boundaries,
	# also when the kernel's readahead sends several requests at once
	# (8 MiB; the default with an s3 tier is 1 MiB), which threads take
	# in any order: a read whose block before is cached or on its way is
	# sequential (the old detector read ahead 58 to 216 of the 384 blocks)
	mount_cold -o read_ahead_kb=8192
	df_check_ra 8192 "$sig: -o read_ahead_kb=8192"
	cmp "$DF_MNT/big" "$T/big.ref" || fail "$sig: big differs (sequential, cold)"
	ra1=$(s3_stat readahead_blocks)
	pf=$(s3_stat prefetches)
	echo "$sig: a cold sequential read: $(s3_stat gets) GETs, $ra1 blocks read ahead, $pf extents prefetched, $(s3_stat cache_hits) cache hits"
	# 24 MiB in 7 extents: all but the first read of the first extent is
	# read ahead when the next extents' starts come in time (prefetch);
	# when a hint loses the race, the first read of an extent (up to
	# 1 MiB) is a foreground one; without either, the first two reads of
	# every extent were (about 10 MiB)
	((ra1 * 65536 >= 16 * MiB)) ||
		fail "$sig: only $ra1 blocks of 24 MiB were read ahead"
	((pf >= 2)) || fail "$sig: $pf of the 6 extents were prefetched"
	# random 4 KiB reads near extent ends prefetch nothing
	mount_cold
	for o in 3 7 11 15 19; do
		cold_4k "$DF_MNT/big" "$T/big.ref" $((o * MiB + 4321)) >/dev/null
	done
	assert_eq "$(s3_stat prefetches) $(s3_stat readahead_blocks)" "0 0" \
		"$sig: prefetches and readahead after random 4 KiB reads"

	# (c) a partial write into an s3 extent recalls it to nvme
	printf 'dfabric' | dd of="$DF_MNT/big" bs=1 seek=$((5 * MiB + 7)) conv=notrunc status=none
	printf 'dfabric' | dd of="$T/big.ref" bs=1 seek=$((5 * MiB + 7)) conv=notrunc status=none
	assert_eq "$(df_ctl --json where "$DF_MNT/big" | python3 -c '
import json, sys
print(",".join("%d:%s" % (e["offset"] >> 20, e["tier"]) for e in json.load(sys.stdin)["extents"]))')" \
		"0:s3,4:nvme,8:s3,12:s3,16:s3,20:s3,24:s3" "$sig: extents after a partial write"
	mount_cold
	cmp "$DF_MNT/big" "$T/big.ref" || fail "$sig: big differs after a write into an s3 extent"
}

# --- v2: (a), (b), (c), then (d) fsx with migrations under it ---------------
(
	DF_S3=1 DF_S3_SIG=v2
	df_setup
	common v2

	# batches chained with fsx -k, the file moved to s3 (and its cache
	# dropped, or the daemon restarted) between them: every batch starts
	# on a file whose extents all live in s3
	mkdir "$T/ref"
	"$FSX" -N 800 -S 4240 -l $((12 * MiB)) "$DF_MNT/fsx" "$T/ref/fsx" >"$T/fsx.out" 2>&1 ||
		{ cat "$T/fsx.out"; fail "fsx, first batch"; }
	for seed in 4241 4242 4243 4244 4245; do
		to_s3 "$DF_MNT/fsx"
		echo 3 >/proc/sys/vm/drop_caches
		((seed % 2)) || mount_cold
		timeout -k 5 120 "$FSX" -k -N 800 -S "$seed" -l $((12 * MiB)) \
			"$DF_MNT/fsx" "$T/ref/fsx" >"$T/fsx.out" 2>&1 ||
			{ cat "$T/fsx.out"; fail "fsx -k seed $seed on an s3-resident file"; }
		tail -n 1 "$T/fsx.out"
	done
	cmp "$DF_MNT/fsx" "$T/ref/fsx" || fail "fsx file differs after the batches"

	# one run with migrations to s3 and back under it: some roll back
	# (the file changes under the copy; a warning each), data must never
	# be wrong
	DF_ALLOW_LOG_ERRORS=1
	timeout -k 5 150 "$FSX" -k -N "${FSX_OPS:-12000}" -S 4246 -l $((12 * MiB)) \
		"$DF_MNT/fsx" "$T/ref/fsx" >"$T/fsx.out" 2>&1 &
	fsx=$!
	to_s3_ok=0 back_ok=0 rounds=0
	while kill -0 "$fsx" 2>/dev/null && ((rounds < 300)); do
		rounds=$((rounds + 1))
		if df_ctl migrate "$DF_MNT/fsx" --to s3 --wait >/dev/null 2>&1; then
			to_s3_ok=$((to_s3_ok + 1))
		fi
		if df_ctl migrate "$DF_MNT/fsx" --range $((rounds % 3 * 4))M:4M --to nvme --wait >/dev/null 2>&1; then
			back_ok=$((back_ok + 1))
		fi
	done
	rc=0
	wait "$fsx" || rc=$?
	cat "$T/fsx.out"
	((rc == 0)) || fail "fsx with migrations to s3 and back under it: status $rc"
	echo "fsx: $rounds rounds of migrations under it, $to_s3_ok to s3 and $back_ok back completed"
	to_s3 "$DF_MNT/fsx"
	mount_cold
	cmp "$DF_MNT/fsx" "$T/ref/fsx" || fail "fsx file differs after a remount"
	grep -E '^dfabric [0-9:.]+ (error|warning):' "$DF_LOG" | grep -v 'rolled back' &&
		fail "unexpected errors in the daemon log"
	df_umount
)

# --- v4: (a), (b), (c), then (e) the server killed mid-read -------------------
(
	DF_S3=1 DF_S3_SIG=v4
	df_setup
	common v4
	to_s3 "$DF_MNT/big"
	head -c $((3 * MiB)) /dev/urandom >"$T/local.ref"
	cp "$T/local.ref" "$DF_MNT/local"
	mount_cold
	assert_eq "$(df_ctl --json status | python3 -c '
import json, sys
print(" ".join(t["name"] + "=" + t["health"] for t in json.load(sys.stdin)["tiers"]))')" \
		"nvme=up hdd=up s3=up" "health before"

	# A reader of the cold s3 file, one pass at about 5 MB/s: in the middle
	# of it when the server dies, with the daemon's readahead (8 MiB)
	# behind the end; it prints how it ended and when.
	python3 - "$DF_MNT/big" "$T/big.ref" "$T/started" >"$T/reader.out" 2>&1 <<'EOF' &
import errno, os, sys, time
path, ref, started = sys.argv[1:4]
want = open(ref, "rb").read()
fd = os.open(path, os.O_RDONLY)
off, deadline = 0, time.time() + 60
while time.time() < deadline:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        b = os.pread(fd, 256 << 10, off)
    except OSError as e:
        print("error", errno.errorcode.get(e.errno, e.errno), "%.3f" % time.time())
        sys.exit(0)
    if b != want[off:off + len(b)]:
        print("wrong bytes at", off)
        sys.exit(1)
    if off == 0:
        open(started, "w").close()
    off += len(b)
    if off >= len(want):
        break
    time.sleep(0.05)
print("no error to the end of the file")
sys.exit(1)
EOF
	reader=$!
	for ((i = 0; i < 200; i++)); do
		[[ -e $T/started ]] && break
		sleep 0.05
	done
	[[ -e $T/started ]] || fail "the reader did not start"
	sleep 0.3
	killed=$(date +%s.%N)
	kill -KILL "$(cat "$DF_S3_DIR/pid")"
	df_s3_stop
	for ((i = 0; i < 300; i++)); do
		kill -0 "$reader" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$reader" 2>/dev/null && { kill "$reader"; fail "the reader still runs 30 s after the server died"; }
	wait "$reader" || fail "reader: $(cat "$T/reader.out")"
	read -r what code at <"$T/reader.out" || true
	assert_eq "$what $code" "error EIO" "how the reader ended"
	took=$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$killed" "$at")
	echo "v4: EIO $took s after the server was killed"
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 15 else 1)' "$took" ||
		fail "EIO only $took s after the server was killed"
	assert_eq "$(s3_stat health)" down "s3 health with the server dead"
	[[ $(df_ctl status) == *s3*down* ]] || fail "status table does not show s3 down: $(df_ctl status)"
	# fails fast now, local files keep working
	t0=$(date +%s%N)
	expect_fail cat "$DF_MNT/big" >/dev/null 2>&1
	(( ($(date +%s%N) - t0) / 1000000 < 3000 )) || fail "a read of the dead tier took over 3 s"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$DF_MNT/local" "$T/local.ref" || fail "a local file unreadable while s3 is down"
	echo more >>"$DF_MNT/local"
	echo more >>"$T/local.ref"
	cmp "$DF_MNT/local" "$T/local.ref" || fail "a local file unwritable while s3 is down"

	# the server back on the same port: up again within the probe interval
	df_s3_start
	for ((i = 0; i < 150; i++)); do
		[[ $(s3_stat health) == up ]] && break
		sleep 0.1
	done
	assert_eq "$(s3_stat health)" up "s3 health 15 s after the server came back"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$DF_MNT/big" "$T/big.ref" || fail "big unreadable after the server came back"
	grep -q 'tier s3: S3 endpoint .* marked down' "$DF_LOG" || fail "no log line for the tier going down"
	grep -q 'tier s3: S3 endpoint .* answers again; marked up' "$DF_LOG" || fail "no log line for the tier coming back"
	assert_eq "$(grep -c 'marked down' "$DF_LOG")" 1 "log lines for the state change"
	DF_ALLOW_LOG_ERRORS=1
	df_umount
)

echo "test_s3_mount: passed"
