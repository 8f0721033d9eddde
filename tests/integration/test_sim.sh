#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# dfabric-sim on small generated traces (no mount: it is a pure tool).
# Belady's optimal is a bound: no policy may beat its hit ratio; ratios
# lie in [0, 1]; a trace that hammers one block gets a high hit ratio; a
# compressed trace reads like the plain one; bad input and bad options
# give a clear error and a nonzero status.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
[[ $B == /* ]] || B=$ROOT/$B
SIM=$B/dfabric-sim
NAME=$(basename "${0%.sh}")
trap 'echo "FAIL [$NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

fail()
{
	echo "FAIL [$NAME]: $*" >&2
	exit 1
}

[[ -x $SIM ]] || fail "$SIM not built"
T=$(mktemp -d /tmp/dft.XXXXXX)
[[ -n ${DF_TRACK:-} ]] && echo "$T" >>"$DF_TRACK"
trap 'rm -rf "$T"' EXIT

# check JSON: every ratio in [0, 1], Belady's at least every other's at
# each size, and, if given, dfabric's hit ratio at every size >= MIN.
check()
{
	python3 - "$1" "${2:-0}" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
floor = float(sys.argv[2])
by = {}
for r in d["results"]:
    for k in ("hit_ratio", "byte_hit_ratio"):
        if not 0.0 <= r[k] <= 1.0:
            sys.exit("%s %s %s out of range: %s" % (r["fast"], r["policy"], k, r[k]))
    by.setdefault(r["fast"], {})[r["policy"]] = r
for f, p in sorted(by.items()):
    bel = p["Belady"]["hit_ratio"]
    for name in ("dfabric", "LRU"):
        if p[name]["hit_ratio"] > bel + 1e-9:
            sys.exit("fast %s: %s %.4f beats Belady %.4f" % (f, name, p[name]["hit_ratio"], bel))
    if p["dfabric"]["hit_ratio"] < floor:
        sys.exit("fast %s: dfabric hit ratio %.4f < %s" % (f, p["dfabric"]["hit_ratio"], floor))
print("ok", len(by), "sizes")
EOF
}

# 1. --help: exit 0, the usage on stdout.
"$SIM" --help >"$T/help"
head -1 "$T/help" | grep -qx 'Usage: dfabric-sim \[OPTIONS\] TRACE' ||
	fail "--help does not start with the usage line"
grep -q -- '--fast LIST' "$T/help" || fail "--help does not list --fast"

# 2. One hot block among 200 cold ones (LIRS format, a block a line, with
#    a marker line and CRLF ends): 1000 of 1200 requests are block 7.
awk 'BEGIN { print "*"; c = 1000;
	     for (i = 0; i < 1200; i++)
		     printf "%d\r\n", (i % 6 == 5) ? c++ : 7 }' >"$T/hot.trace"
"$SIM" --json --extent 4K --fast 1%,10%,50% "$T/hot.trace" >"$T/hot.json"
check "$T/hot.json" 0.8
grep -q '"skipped":1' "$T/hot.json" || fail "the marker line was not skipped"
grep -q '"extents":201' "$T/hot.json" || fail "expected 201 extents"

# 3. A mix: a hot set of 20 blocks, a warm set of 200, and scans of
#    fresh blocks, from a fixed pseudo-random sequence.
awk 'BEGIN { s = 12345; scan = 100000;
	     for (i = 0; i < 20000; i++) {
		     s = (s * 1103515245 + 12345) % 2147483648; r = s % 100;
		     if (r < 50) print s % 20;
		     else if (r < 80) print 1000 + s % 200;
		     else print scan++;
	     } }' >"$T/mix.trace"
"$SIM" --json --extent 4K --fast 1%,10%,25% "$T/mix.trace" >"$T/mix.json"
check "$T/mix.json"
# The same with time-based passes every 100 requests' worth of time.
"$SIM" --json --extent 4K --step 1 --interval 100 "$T/mix.trace" >"$T/mix2.json"
check "$T/mix2.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); \
	assert all(r["passes"] > 100 for r in d["results"] if r["policy"] == "dfabric"), "too few passes"' \
	"$T/mix2.json" || fail "periodic passes did not run"

# 4. Compressed: the same numbers through gzip.
gzip -c "$T/mix.trace" >"$T/mix.trace.gz"
"$SIM" --json --extent 4K --fast 1%,10%,25% "$T/mix.trace.gz" >"$T/mixgz.json"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); \
	ka=[(r["policy"],r["hit_ratio"],r["migrated"]) for r in a["results"]]; \
	kb=[(r["policy"],r["hit_ratio"],r["migrated"]) for r in b["results"]]; \
	assert ka == kb, "gzip and plain differ"' "$T/mix.json" "$T/mixgz.json" ||
	fail "the gzip trace gave other results"

# ... and stopping early (--limit) is not a decompressor failure.
"$SIM" --json --extent 4K --limit 100 "$T/mix.trace.gz" >"$T/limit.json"
grep -q '"requests":100,' "$T/limit.json" || fail "--limit 100 did not stop at 100"

# 5. A block trace with time (CloudPhysics CSV): 4 MiB extents; the 512 B
#    sectors of one extent are one extent; the table names the mapping.
{
	echo "version,time,op,size,lbn"
	for i in $(seq 0 99); do
		echo "1,$((1000 + i)),28,4096,$(( (i % 4) * 8192 + i ))"
	done
	echo "1,1200,12,0,0"            # an INQUIRY: not an access
} >"$T/cloudPhysicsIO.csv"
"$SIM" "$T/cloudPhysicsIO.csv" >"$T/cp.txt"
grep -q 'block ranges -> 4.0 MiB extents' "$T/cp.txt" || fail "mapping not named"
grep -q '100 (2 lines skipped), 100 accesses to 4 extents' "$T/cp.txt" ||
	fail "cloudphysics: wrong counts: $(grep requests "$T/cp.txt")"
grep -q 'trace time, 99 simulated s' "$T/cp.txt" || fail "trace time not used"

# 6. Objects (AdaptSize): one object one extent, sizes from the trace.
printf '1 1 100\n2 2 200\n3 1 100\n4 1 100\n5 3 300\n6 1 100\n' >"$T/request.trace"
"$SIM" --json --format adaptsize --fast 50% "$T/request.trace" >"$T/obj.json"
grep -q '"working_set":600' "$T/obj.json" || fail "object working set != 600"
check "$T/obj.json"

# 7. Bad input: a clear error naming the line, status 1; bad options: 2.
printf '1\n2\nthree\n' >"$T/bad.trace"
if "$SIM" "$T/bad.trace" >/dev/null 2>"$T/err"; then
	fail "a malformed trace was accepted"
fi
grep -q "bad.trace:3: not a lirs record" "$T/err" || fail "error does not name the line: $(cat "$T/err")"
if "$SIM" "$T/none.trace" >/dev/null 2>"$T/err"; then
	fail "a missing trace was accepted"
fi
grep -q "No such file" "$T/err" || fail "missing file: $(cat "$T/err")"
printf 'garbage' | gzip -c | head -c 10 >"$T/cut.trace.gz"
if "$SIM" "$T/cut.trace.gz" >/dev/null 2>"$T/err"; then
	fail "a truncated gzip trace was accepted"
fi
status=0
"$SIM" --fast 0% "$T/mix.trace" >/dev/null 2>"$T/err" || status=$?
[[ $status -eq 2 ]] || fail "--fast 0% gave status $status"
grep -q "bad value for --fast" "$T/err" || fail "no message for --fast 0%"
# refused as the config refuses them (nan,0.5 ran with every check false;
# a low watermark of 0 or not below the high one ran too); a count past
# what 64 bits hold was cast regardless
for bad in "--watermarks nan,0.5" "--watermarks 0.9,0" "--watermarks 0.5,0.5" \
	   "--watermarks 0.9" "--limit 1e300" "--every 1e300"; do
	status=0
	"$SIM" $bad "$T/mix.trace" >/dev/null 2>"$T/err" || status=$?
	[[ $status -eq 2 ]] || fail "$bad gave status $status"
	grep -q "bad value for ${bad%% *}" "$T/err" || fail "no message for $bad: $(cat "$T/err")"
done
status=0
"$SIM" --extent 3000 "$T/mix.trace" >/dev/null 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "--extent 3000 gave status $status"
status=0
"$SIM" "$T/unknown.dat" >/dev/null 2>"$T/err" || status=$?
[[ $status -ne 0 ]] && grep -q "unknown trace format" "$T/err" ||
	fail "an unknown format was not refused"

# 8. Cache mode on a trace whose clock does not move (SNIA traces count
#    whole seconds): requests at the same time are still in order, so the
#    predictive policy evicts the least recently used as LRU does. Two
#    phases, each with its own hot set of 4 extents read every other
#    request between reads of fresh extents: LRU misses only the first
#    read of each. All at time 1000.
{
	echo "version,time,op,size,lbn"
	c=100
	for i in $(seq 0 399); do
		if (( i % 2 )); then
			echo "1,1000,28,4096,$(( c++ * 8192 ))"
		else
			echo "1,1000,28,4096,$(( ((i / 2) % 4 + (i >= 200 ? 50 : 0)) * 8192 ))"
		fi
	done
} >"$T/ties.csv"
"$SIM" --json --cache --fast 10% --format cloudphysics "$T/ties.csv" >"$T/ties.json"
check "$T/ties.json"
python3 -c 'import json,sys; r={x["policy"]:x for x in json.load(open(sys.argv[1]))["results"]}; \
	p, l = r["predict"]["miss_ratio"], r["LRU"]["miss_ratio"]; \
	assert p <= l + 0.02, "predict %.4f against LRU %.4f" % (p, l)' "$T/ties.json" ||
	fail "cache mode at one time missed more than LRU"

# 9. Cache mode on a hot set that LRU cannot keep: 300 blocks read in a
#    new order each round, then 200 to 459 blocks in order, never read
#    again, 15 rounds. The scans push the hot set out of an LRU of 10%.
#    The predictive policy evicts by last access too, but reads the
#    scans ahead: it must miss less than LRU and come within 0.05 of
#    Belady's misses, and most of what it read ahead must have been
#    read.
awk 'BEGIN { s = 7; scan = 100000; H = 300;
	     for (i = 0; i < H; i++) p[i] = i;
	     for (r = 0; r < 15; r++) {
		     for (i = H - 1; i > 0; i--) {
			     s = (s * 1103515245 + 12345) % 2147483648;
			     j = s % (i + 1); t = p[i]; p[i] = p[j]; p[j] = t;
		     }
		     for (i = 0; i < H; i++) print p[i];
		     s = (s * 1103515245 + 12345) % 2147483648;
		     n = 200 + s % 260;
		     for (i = 0; i < n; i++) print scan++;
	     } }' >"$T/hotscan.trace"
"$SIM" --json --cache --extent 4K --interval 1 --fast 10% "$T/hotscan.trace" >"$T/hotscan.json"
check "$T/hotscan.json"
python3 -c 'import json,sys; r={x["policy"]:x for x in json.load(open(sys.argv[1]))["results"]}; \
	p, l, b = r["predict"]["miss_ratio"], r["LRU"]["miss_ratio"], r["Belady"]["miss_ratio"]; \
	a, j, n = r["predict"]["read_ahead"], r["predict"]["read_ahead_judged"], r["predict"]["read_ahead_read"]; \
	assert p < l and p <= b + 0.05, "predict %.4f, LRU %.4f, Belady %.4f" % (p, l, b); \
	assert a > 1000 and j > 1000 and n <= j and n > 0.8 * j, "read ahead %d, judged %d, read %d" % (a, j, n)' "$T/hotscan.json" ||
	fail "cache mode did not read the scans ahead"

# 10. Cache mode on a loop: 400 blocks read in order, 30 times. LRU at 10%
#     misses every read, Belady 0.9 of them. Fetched ahead by their rhythm
#     (the next 0.1 s of the loop, 100 reads, where 40 fit), reads can be
#     hits only a prefetching cache gets: predict must miss 0.05 less than
#     Belady, and most of the prefetched items it judged must have been
#     read.
awk 'BEGIN { for (r = 0; r < 30; r++) for (i = 0; i < 400; i++) print i }' >"$T/loop.trace"
"$SIM" --json --cache --extent 4K --interval 1 --fast 10% "$T/loop.trace" >"$T/loop.json"
check "$T/loop.json"
python3 -c 'import json,sys; r={x["policy"]:x for x in json.load(open(sys.argv[1]))["results"]}; \
	p, b = r["predict"]["miss_ratio"], r["Belady"]["miss_ratio"]; \
	j, n = r["predict"]["judged"], r["predict"]["read"]; \
	assert p < b - 0.05, "predict %.4f, Belady %.4f" % (p, b); \
	assert j > 100 and n <= j and n > 0.8 * j, "judged %d, read %d" % (j, n)' "$T/loop.json" ||
	fail "cache mode did not fetch a loop ahead"

echo "PASS [$NAME]"
