#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Migration on a live mount through dfabric-ctl:
#  (a) migrate FILE --to hdd --wait while another process keeps the file
#      open and reads and checks it over and over: no error, no wrong
#      byte; `where` then shows every extent on hdd, sealed;
#  (b) migrate -r DIR moves every file below it; a range moves only the
#      extents it touches; jobs and jobs --json list them as done;
#  (c) the bandwidth limit, set at run time, slows a migration down; so
#      does the limit while busy, but only while reads come in;
#  (d) kill -9 in the middle of a migration: after the remount the file
#      is intact, the job is reported rolled back or finished, and it can
#      be run again to the end;
#  (e) errors: unknown tier, a directory without -r, usage; tier check;
#  (f) a file moved back and forth while a writer changes it all the
#      time: every move succeeds and the file ends equal to the writer's
#      reference copy;
#  (g) kill -9 at a random moment of migrations of several files, five
#      times: every file byte for byte after each remount;
#  (h) migrate --wait, when a job it waits for is pruned meanwhile, says
#      so and exits 1: how the job ended is unknown.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
MiB=1048576

# tiers_of FILE: the distinct tiers of FILE's extents, sorted, with the
# count of sealed extents: "hdd sealed=N" style lines (this test's own,
# in place of tests/lib.sh's).
tiers_of()
{
	df_ctl --json where "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
tiers = sorted({e["tier"] for e in d["extents"]})
sealed = sum(1 for e in d["extents"] if e["sealed"])
print(" ".join(tiers), "sealed=%d/%d" % (sealed, len(d["extents"])))'
}

# job_field ID FIELD: a field of job ID from `jobs --json`.
job_field()
{
	df_ctl jobs --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
j = [j for j in d["jobs"] if j["id"] == int(sys.argv[1])]
print(j[0][sys.argv[2]] if j else "none")' "$1" "$2"
}

df_setup
df_mount

# --- (a) a whole file, read while it moves --------------------------------
head -c $((24 * MiB + 12345)) /dev/urandom >"$T/ref"
cp "$T/ref" "$DF_MNT/big"
sync "$DF_MNT/big"
assert_eq "$(tiers_of "$DF_MNT/big")" "nvme sealed=0/7" "before migration"

# A reader holding the file open, checking every pass, until told to stop.
python3 - "$DF_MNT/big" "$T/ref" "$T/stop" >"$T/reader.out" 2>&1 <<'EOF' &
import hashlib, os, sys, time
path, ref, stop = sys.argv[1:4]
want = hashlib.sha256(open(ref, "rb").read()).hexdigest()
passes = 0
with open(path, "rb", buffering=0) as f:
    deadline = time.time() + 60
    while time.time() < deadline:
        f.seek(0)
        h = hashlib.sha256()
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
        passes += 1
        if h.hexdigest() != want:
            print("MISMATCH on pass", passes)
            sys.exit(1)
        # drop the kernel's cache so that the next pass asks the daemon
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        if os.path.exists(stop) and passes >= 3:
            break
print("passes", passes)
EOF
reader=$!
df_ctl bandwidth 8M >/dev/null
df_ctl migrate "$DF_MNT/big" --to hdd --wait 2>"$T/progress" ||
	fail "migrate --wait failed: $(cat "$T/progress")"
grep -q '100%' "$T/progress" || fail "no final progress line: $(cat "$T/progress")"
touch "$T/stop"
wait "$reader" || fail "reader saw an error: $(cat "$T/reader.out")"
grep -q '^passes' "$T/reader.out" || fail "reader: $(cat "$T/reader.out")"
assert_eq "$(tiers_of "$DF_MNT/big")" "hdd sealed=7/7" "after migration"
echo 3 >/proc/sys/vm/drop_caches
cmp "$DF_MNT/big" "$T/ref" || fail "content changed by the migration"
[[ $(du -k "$T/nvme" | tail -1 | cut -f1) -lt 1024 ]] ||
	fail "nvme still holds the data: $(du -sh "$T/nvme")"
df_ctl bandwidth 0 >/dev/null
sleep 0.2   # the reads above no longer count as busy
assert_eq "$(df_ctl bandwidth)" $'migration bandwidth: no limit\nwhile reads or writes come in: 32M/s per tier pair' \
	"bandwidth 0, and the default while busy"

# --- (b) a directory, a range, the job list ---------------------------------
mkdir -p "$DF_MNT/d/sub"
for i in 1 2 3; do head -c $((i * 300000)) /dev/urandom >"$DF_MNT/d/f$i"; done
head -c 5000 /dev/urandom >"$DF_MNT/d/sub/g"
cp -a "$DF_MNT/d" "$T/dref"
df_ctl migrate -r "$DF_MNT/d" --to hdd --wait 2>/dev/null >"$T/queued"
assert_eq "$(grep -c '^job ' "$T/queued")" 4 "jobs queued for the directory"
for f in f1 f2 f3 sub/g; do
	assert_eq "$(tiers_of "$DF_MNT/d/$f")" "hdd sealed=1/1" "d/$f"
	cmp "$DF_MNT/d/$f" "$T/dref/$f" || fail "d/$f changed"
done
df_ctl migrate "$DF_MNT/big" --range 5M:1 --to nvme --wait 2>/dev/null >/dev/null
assert_eq "$(tiers_of "$DF_MNT/big")" "hdd nvme sealed=7/7" "after a range"
assert_eq "$(df_ctl --json where "$DF_MNT/big" | python3 -c '
import json, sys
print([e["offset"] for e in json.load(sys.stdin)["extents"] if e["tier"] == "nvme"])')" \
	"[4194304]" "the range moved the extent holding byte 5M only"
out=$(df_ctl jobs)
[[ $out == *"ID"*"STATE"* ]] || fail "jobs table: $out"
[[ $(grep -c ' done ' <<<"$out") -ge 6 ]] || fail "jobs not done: $out"
id=$(df_ctl jobs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
assert_eq "$(job_field "$id" state)" done "first job"
assert_eq "$(job_field "$id" bytes_done)" $((24 * MiB + 12345)) "bytes of the first job"
out=$(df_ctl jobs --prune)
[[ $out == "forgot "*" finished jobs" ]] || fail "prune: $out"
assert_eq "$(df_ctl jobs --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')" 0 "jobs after prune"

# --- (h) a job forgotten while --wait waits for it -------------------------------
# dfabric-ctl is stopped between two of its requests (no socket open: a
# request cut short would time out in the daemon) while the job is held
# back by the limit; the job then ends and is pruned. Before, the wait
# took the vanished job for a success and exited 0.
head -c $((2 * MiB)) /dev/urandom >"$DF_MNT/v"
df_ctl bandwidth 64K >/dev/null
"$B/dfabric-ctl" -c "$DF_CONF" migrate "$DF_MNT/v" --to hdd --wait \
	>/dev/null 2>"$T/v.err" &
ctl=$!
id=none
for ((i = 0; i < 200; i++)); do
	id=$(df_ctl jobs --json | python3 -c '
import json, sys
print(" ".join(str(j["id"]) for j in json.load(sys.stdin)["jobs"] if j["state"] == "copying") or "none")')
	[[ $id != none ]] && break
	sleep 0.05
done
stopped=0
for ((i = 0; i < 200 && !stopped; i++)); do
	kill -STOP "$ctl"
	for ((k = 0; k < 100; k++)); do
		[[ $(cut -d' ' -f3 "/proc/$ctl/stat") == T ]] && break
		sleep 0.01
	done
	if [[ $(cut -d' ' -f3 "/proc/$ctl/stat") == T ]] &&
	   ! ls -l "/proc/$ctl/fd" | grep -q 'socket:'; then
		stopped=1
	else
		kill -CONT "$ctl"
		sleep 0.02
	fi
done
st=none
if ((stopped)); then
	df_ctl bandwidth 0 >/dev/null
	for ((i = 0; i < 200; i++)); do
		st=$(job_field "$id" state)
		[[ $st == done ]] && break
		sleep 0.05
	done
	df_ctl jobs --prune >/dev/null
	kill -CONT "$ctl"
fi
rc=0; wait "$ctl" || rc=$?
((stopped)) || fail "dfabric-ctl never stopped between two requests"
assert_eq "$st" done "job $id before the prune"
assert_eq "$rc" 1 "migrate --wait of a job pruned meanwhile"
grep -q "^dfabric-ctl: job $id vanished (pruned?)" "$T/v.err" ||
	fail "no word of the vanished job: $(cat "$T/v.err")"

# --- (c) the bandwidth limit --------------------------------------------------
df_ctl bandwidth 2M >/dev/null
sleep 0.2
assert_eq "$(df_ctl bandwidth)" $'migration bandwidth: 2.0M/s per tier pair\nwhile reads or writes come in: 32M/s per tier pair' \
	"bandwidth"
start=$(date +%s.%N)
df_ctl migrate "$DF_MNT/d/f3" --to nvme --wait 2>/dev/null >/dev/null
elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
# 900000 bytes at 2 MiB/s cannot take less than about 0.4 s.
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.35 else 1)" "$elapsed" ||
	fail "900 KB moved in $elapsed s despite a 2M/s limit"
cmp "$DF_MNT/d/f3" "$T/dref/f3" || fail "d/f3 changed"

# The limit while busy: a reader of another file (O_DIRECT, so that each
# read reaches the daemon) slows a migration to it; without the reader,
# the same migration is not held to it.
df_ctl bandwidth 0 --busy 512K >/dev/null
assert_eq "$(df_ctl --json bandwidth | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["bandwidth"], d["busy"])')" \
	"0 524288" "bandwidth --json"
head -c $((2 * MiB)) /dev/urandom >"$T/busy.ref"
cp "$T/busy.ref" "$DF_MNT/busy"
sync "$DF_MNT/busy"
rm -f "$T/rstop"
busy_now() {
	df_ctl --json bandwidth | python3 -c 'import json,sys; print(json.load(sys.stdin)["busy_now"])'
}
# The writes above count as busy for a moment: past it before the reader
# starts, so that what follows sees the reader's reads only.
for _ in $(seq 50); do
	[ "$(busy_now)" = False ] && break
	sleep 0.1
done
# One process, a 4 KiB read every 5 ms or so, for 60 s at most.
python3 - "$DF_MNT/d/f3" "$T/rstop" <<'EOF' &
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
deadline = time.time() + 60
while time.time() < deadline and not os.path.exists(sys.argv[2]):
    os.preadv(fd, [buf], 0)
    time.sleep(0.005)
EOF
rloop=$!
# The daemon says that the busy limit is in force now (once the reader
# runs: python may take a while to start on a loaded machine).
for _ in $(seq 100); do
	out=$(df_ctl bandwidth)
	[[ $out == *"come in: 512K/s per tier pair (they do now)" ]] && break
	sleep 0.1
done
[[ $out == *"come in: 512K/s per tier pair (they do now)" ]] ||
	fail "bandwidth under the reader: $out"
assert_eq "$(busy_now)" True "busy_now under the reader"
elapsed_of() {
	local t0
	t0=$(date +%s.%N)
	df_ctl migrate "$DF_MNT/busy" --to "$1" --wait 2>/dev/null >/dev/null ||
		fail "migrate busy --to $1 failed"
	python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(date +%s.%N)"
}
busy_s=$(elapsed_of hdd)
touch "$T/rstop"
wait "$rloop"
# 2 MiB at 512 KiB/s: 4 s at least.
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 3.5 else 1)" "$busy_s" ||
	fail "2 MiB moved in $busy_s s under a reader despite a 512K/s busy limit"
sleep 0.2
assert_eq "$(busy_now)" False "busy_now without the reader"
idle_s=$(elapsed_of nvme)
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 3 else 1)" "$idle_s" ||
	fail "2 MiB moved in $idle_s s with no reader: held to the busy limit"
cmp "$DF_MNT/busy" "$T/busy.ref" || fail "busy changed"
rc=0; df_ctl bandwidth --busy >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "bandwidth --busy without a rate"
rc=0; df_ctl bandwidth 1M 2M >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "bandwidth with two rates"
rc=0; df_ctl bandwidth --busy 1M --busy 2M >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "bandwidth with two busy rates"
df_ctl bandwidth 0 --busy 32M >/dev/null

# --- (d) kill -9 in the middle --------------------------------------------------
df_ctl bandwidth 4M >/dev/null
id=$(df_ctl migrate "$DF_MNT/big" --to nvme | sed -n 's/^job \([0-9]*\):.*/\1/p')
[[ -n $id ]] || fail "no job id"
for ((i = 0; i < 200; i++)); do
	st=$(job_field "$id" state)
	[[ $st == copying || $st == verifying ]] && break
	sleep 0.05
done
[[ $st == copying || $st == verifying ]] || fail "job never started copying: $st"
sleep 0.5
df_kill9
df_mount
cmp "$DF_MNT/big" "$T/ref" || fail "content wrong after kill -9 mid-migration"
st=$(job_field "$id" state)
[[ $st == failed || $st == pending || $st == done || $st == copying ]] ||
	fail "job state after the restart: $st"
df_ctl bandwidth 0 >/dev/null
df_ctl migrate "$DF_MNT/big" --to nvme --wait 2>/dev/null >/dev/null
assert_eq "$(tiers_of "$DF_MNT/big")" "nvme sealed=7/7" "after the rerun"
cmp "$DF_MNT/big" "$T/ref" || fail "content wrong after the rerun"
[[ $(du -k "$T/hdd" | tail -1 | cut -f1) -lt 3500 ]] ||
	fail "hdd still holds big's copies: $(du -sh "$T/hdd")"

# --- (f) back and forth under a writer -------------------------------------------
head -c $((9 * MiB)) /dev/urandom >"$T/wref"
cp "$T/wref" "$DF_MNT/w"
# A writer of random bytes at random offsets into both the file and a
# reference copy, until told to stop; it checks the file as it goes.
cat >"$T/writer.py" <<'PY'
import os, random, sys, time
path, ref, stop = sys.argv[1:4]
rnd = random.Random(7)
size = os.path.getsize(ref)
fd = os.open(path, os.O_RDWR)
rf = os.open(ref, os.O_RDWR)
n = 0
deadline = time.time() + 60
while time.time() < deadline and not (os.path.exists(stop) and n >= 50):
    off = rnd.randrange(0, size - 70000)
    data = os.urandom(rnd.randrange(1, 70000))
    if os.pwrite(fd, data, off) != len(data):
        print("short write")
        sys.exit(1)
    os.pwrite(rf, data, off)
    n += 1
    if n % 20 == 0 and os.pread(fd, size, 0) != os.pread(rf, size, 0):
        print("MISMATCH after", n, "writes")
        sys.exit(1)
os.close(fd)
print("writes", n)
PY
python3 "$T/writer.py" "$DF_MNT/w" "$T/wref" "$T/wstop" >"$T/writer.out" 2>&1 &
writer=$!
for round in 1 2 3 4; do
	to=hdd
	((round % 2 == 0)) && to=nvme
	df_ctl migrate "$DF_MNT/w" --to $to --wait >/dev/null 2>"$T/mig.err" ||
		fail "round $round: migrating under a writer failed: $(cat "$T/mig.err")"
	[ "$(tiers_of "$DF_MNT/w" | cut -d' ' -f1)" = $to ] ||
		fail "round $round: w is not all on $to: $(tiers_of "$DF_MNT/w")"
done
touch "$T/wstop"
wait "$writer" || fail "writer: $(cat "$T/writer.out")"
cmp "$DF_MNT/w" "$T/wref" || fail "file and reference differ after migrations under a writer"
echo 3 >/proc/sys/vm/drop_caches
cmp "$DF_MNT/w" "$T/wref" || fail "file and reference differ (uncached)"

# --- (g) kill -9 mid-migration, in a loop ------------------------------------------
mkdir -p "$DF_MNT/k"
for i in 1 2 3 4 5; do head -c $((i * 1500000)) /dev/urandom >"$DF_MNT/k/f$i"; done
cp -a "$DF_MNT/k" "$T/kref"
for round in 1 2 3 4 5; do
	to=hdd
	((round % 2 == 0)) && to=nvme
	df_ctl bandwidth 6M >/dev/null
	df_ctl migrate -r "$DF_MNT/k" --to $to >/dev/null
	sleep "0.$((RANDOM % 9 + 1))"
	df_kill9
	df_mount
	for i in 1 2 3 4 5; do
		cmp "$DF_MNT/k/f$i" "$T/kref/f$i" ||
			fail "round $round: k/f$i wrong after kill -9 mid-migration"
	done
done
df_ctl bandwidth 0 >/dev/null
df_ctl migrate -r "$DF_MNT/k" --to hdd --wait >/dev/null 2>&1
for i in 1 2 3 4 5; do
	assert_eq "$(tiers_of "$DF_MNT/k/f$i" | cut -d' ' -f1)" hdd "k/f$i after the loop"
	cmp "$DF_MNT/k/f$i" "$T/kref/f$i" || fail "k/f$i wrong at the end"
done

# --- (e) errors and tier check ---------------------------------------------------
OUT=$(df_ctl migrate "$DF_MNT/big" --to tape 2>&1) && fail "unknown tier accepted"
[[ $OUT == *'no tier named "tape"'* ]] || fail "unknown tier message: $OUT"
OUT=$(df_ctl migrate "$DF_MNT/d" --to hdd 2>&1) && fail "directory without -r accepted"
[[ $OUT == *"is a directory (use -r)"* ]] || fail "directory message: $OUT"
rc=0; df_ctl migrate "$DF_MNT/big" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "migrate without --to"
rc=0; df_ctl bandwidth lots >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "bandwidth with a bad rate"
out=$(df_ctl tier check hdd)
[[ $out == "tier hdd: write+sync "*" ms, read "*" ms" ]] || fail "tier check: $out"
rc=0; df_ctl tier check tape >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "tier check of an unknown tier"

df_umount
