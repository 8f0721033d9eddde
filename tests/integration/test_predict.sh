#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Prediction on a live mount: two local tiers, [placement] auto = yes with
# a pass every second, promotion on read and the frequency term turned
# off (promote_freq and hot_freq far out of reach), so that only a
# forecast can bring a file up; [predict] with 1 s bins, horizons of 3
# and 12 s, and rise_confidence 0.5 instead of 0.7 (confidence grows
# with the sessions seen and the forecasts scored; at 0.7 it would take
# this test a minute more).
#  (a) a file on hdd read every 3 s is on nvme before one of its next
#      reads; a file read once in the same time never leaves hdd;
#  (b) user.dfabric.prediction and dfabric-ctl predict: a period or a next
#      access near 3 s for the periodic file; read-only; no attribute on a
#      directory;
#  (c) predict --accuracy: forecasts are scored once their horizon ends,
#      the trees are trained from them, and the scores survive a remount;
#  (d) a process reading far more files than usual is taken for a scan:
#      one warning naming it, and the files it reads do not get hot.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
command -v getfattr >/dev/null || skip "getfattr (package attr) is needed"
[[ -x $B/dfabric-ctl ]] || fail "no $B/dfabric-ctl (build first)"

MiB=$((1024 * 1024))
PERIOD=3


df_setup
python3 - "$DF_CONF" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("capacity = 1G", "capacity = 1G\ncost_gb_month = 0.20", 1)
s = s.replace("capacity = 4G", "capacity = 4G\ncost_gb_month = 0.02", 1)
s += ("\n[placement]\nauto = yes\ninterval = 1\npromote_freq = 100000\n"
      "hot_freq = 100000\n"
      "\n[predict]\nbin = 1\nburst = 0.5\nhorizon_short = 3\n"
      "horizon_long = 12\nrise_confidence = 0.5\nretrain = 5\n"
      "scan_files = 40\nscan_window = 30\n")
open(p, "w").write(s)
EOF
df_mount

# --- (a) promoted before the next read ----------------------------------------

per=$DF_MNT/periodic.bin
once=$DF_MNT/once.bin
head -c $MiB /dev/urandom >"$T/periodic.src"
cp "$T/periodic.src" "$per"
cp "$T/periodic.src" "$once"
df_to_hdd "$per"
df_to_hdd "$once"
df_read_direct "$once"

ahead=0
for ((i = 0; i < 20; i++)); do
	start=$(date +%s.%N)
	if [[ $(tiers_of "$per") == nvme ]]; then
		# Up before the read that is due now: that is the forecast at
		# work (nothing else can promote it here).
		ahead=1
		df_read_direct "$per"
		break
	fi
	df_read_direct "$per"
	python3 -c "import time; time.sleep(max(0.0, $PERIOD - (time.time() - $start)))"
done
((ahead == 1)) || fail "periodic.bin was never on nvme before a read in $i reads"
assert_file_eq "$per" "$T/periodic.src"
assert_eq "$(tiers_of "$once")" hdd "a file read once"
grep -q "ahead of a forecast rise" "$DF_LOG" || fail "no pass reported a promotion ahead"

# --- (b) the forecast as an attribute and through dfabric-ctl ------------------

x=$(getfattr -n user.dfabric.prediction --only-values "$per") ||
	fail "getfattr user.dfabric.prediction failed"
grep -q '^confidence ' <<<"$x" || fail "no confidence line: $x"
grep -q '^expected_3s ' <<<"$x" || fail "no expected_3s line: $x"
j=$(df_ctl --json predict "$per") || fail "dfabric-ctl predict --json failed"
python3 - "$j" "$PERIOD" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
period = float(sys.argv[2])
gap = [m for m in d["models"] if m["name"] == "gap"][0]
assert gap["valid"], d
near = abs(d["period"] - period) <= 1.5
if d["next_access"] is not None:
    # the next read is due within a period of the last one
    near = near or -1.0 <= d["next_access"] - d["now"] <= period + 1.5
assert near, "neither the period nor the next access is near %g s: %s" % (period, d)
assert 0.0 <= d["confidence"] <= 1.0, d
assert d["probability"]["12"] > 0.5, d
EOF
out=$(df_ctl predict "$per") || fail "dfabric-ctl predict failed"
grep -q '^confidence' <<<"$out" || fail "predict output: $out"
expect_fail setfattr -n user.dfabric.prediction -v 1 "$per"
if getfattr -n user.dfabric.prediction "$DF_MNT" >/dev/null 2>&1; then
	fail "a directory has a prediction"
fi
expect_fail df_ctl predict "$DF_MNT"

# --- (c) accuracy: scored, and kept across a remount ---------------------------

for ((i = 0; i < 100; i++)); do
	a=$(df_ctl --json predict --accuracy)
	(($(json_get "$a" "d['counters']['scored']") > 0)) && break
	sleep 0.2
done
(($(json_get "$a" "d['counters']['scored']") > 0)) ||
	fail "no forecast scored after 20 s: $a"
# The trees learn from the scored forecasts (retrain = 5 s, once there
# are 20 rows with both outcomes).
for ((i = 0; i < 150; i++)); do
	a=$(df_ctl --json predict --accuracy)
	(($(json_get "$a" "d['counters']['trained_short']") > 0)) && break
	sleep 0.2
done
(($(json_get "$a" "d['counters']['trained_short']") > 0)) ||
	fail "the trees were not trained in 30 s: $a"
(($(json_get "$a" "d['counters']['trees_short']") > 0)) || fail "no trees: $a"
out=$(df_ctl predict --accuracy) || fail "predict --accuracy failed"
grep -q '^ensemble' <<<"$out" || fail "predict --accuracy: no ensemble row: $out"
scored=$(json_get "$a" "sum(m['scored'] for m in d['models'] if m['name'] == 'ensemble')")
df_umount
df_mount
a=$(df_ctl --json predict --accuracy)
(($(json_get "$a" "sum(m['scored'] for m in d['models'] if m['name'] == 'ensemble')") >= scored)) ||
	fail "accuracy lost across a remount (had $scored scored): $a"

# --- (d) a scan does not make what it reads hot --------------------------------

mkdir "$DF_MNT/many"
for ((i = 0; i < 120; i++)); do
	echo "file $i" >"$DF_MNT/many/f$i"
done
# One process reads them all with O_DIRECT (so that every read reaches
# the daemon, not the page cache), then waits (15 s at most) until the
# warning has been looked for: the daemon names it from /proc, and a
# process that is gone has no name there (over io_uring its reads were
# over before the profiler had seen them).
python3 - "$DF_MNT/many" "$T/scan.pid" "$T/scan.done" <<'EOF' &
import mmap, os, sys, time
d, pidfile, done = sys.argv[1:4]
buf = mmap.mmap(-1, 4096)
for n in sorted(os.listdir(d)):
    fd = os.open(os.path.join(d, n), os.O_RDONLY | os.O_DIRECT)
    os.readv(fd, [buf])
    os.close(fd)
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(pidfile + ".tmp", pidfile)
t0 = time.monotonic()
while not os.path.exists(done) and time.monotonic() - t0 < 15:
    time.sleep(0.05)
EOF
scanner=$!
for ((i = 0; i < 200; i++)); do
	[[ -s $T/scan.pid ]] && break
	sleep 0.05
done
pid=$(cat "$T/scan.pid")
for ((i = 0; i < 100; i++)); do
	grep -q "process $pid (python3.*treating it as a scan" "$DF_LOG" && break
	sleep 0.1
done
touch "$T/scan.done"
wait "$scanner"
grep -q "process $pid (python3.*treating it as a scan" "$DF_LOG" ||
	fail "no scan warning naming process $pid: $(grep -i scan "$DF_LOG" || true)"
(($(grep -c "treating it as a scan" "$DF_LOG") == 1)) ||
	fail "more than one scan warning for one scan"
# The last file it read (in name order) came after the warning: its
# read was not counted.
reads=$(json_get "$(df_ctl --json explain "$DF_MNT/many/f99")" "d['stats']['reads']")
assert_eq "$reads" 0 "reads counted for a file only the scan read"

# The scan's warning is the only one.
others=$(grep -E '^dfabric [0-9:.]+ (emerg|alert|crit|error|warning):' "$DF_LOG" |
	grep -v "treating it as a scan" || true)
[[ -z $others ]] || fail "unexpected warnings: $others"
DF_ALLOW_LOG_ERRORS=1 df_umount
echo "PASS"
