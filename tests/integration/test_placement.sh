#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Automatic tiering on a live mount: two local tiers, nvme (10M, high
# watermark 0.8, low 0.7, dear) over hdd (cheap), [placement] auto = yes
# with a pass only every hour, so that passes run when the test says
# `dfabric-ctl place`, and promote_freq = 3.
#  (a) a file moved to hdd and read with O_DIRECT comes back to nvme by
#      itself (promotion on read), its bytes unchanged;
#  (b) with three 3 MiB files on nvme (above its high watermark), one
#      pass demotes the coldest to hdd, keeps the hot one and leaves nvme
#      below its high watermark;
#  (c) a cold file pinned to nvme is never the one demoted to make room;
#      a hot file pinned to hdd stays there however often it is read;
#  (d) user.dfabric.score: a table with each tier and a decision line
#      that dfabric-ctl explain agrees with; read-only (EPERM); explain of
#      a directory or a file off the mount fails cleanly;
#  (e) cost --json: the total is the sum of the tiers, and keeping all on
#      nvme costs at least as much as the placement now;
#  (f) with an s3 tier (DF_S3=1, the default when s3rver is installed; 0
#      turns it off) and hdd above its high watermark, a confidential
#      file there is never the one moved to s3.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed to read JSON"
command -v getfattr >/dev/null || skip "getfattr (package attr) is needed"
[[ -x $B/dfabric-ctl ]] || fail "no $B/dfabric-ctl (build first)"

if [[ ${DF_S3:-auto} == auto ]]; then
	DF_S3=0
	[[ -f $DF_ROOT/node_modules/s3rver/bin/s3rver.js ]] && DF_S3=1
fi
# hdd small enough for (f) to push it above its high watermark.
[[ $DF_S3 == 1 ]] && DF_HDD_CAP=32M
export DF_S3 DF_HDD_CAP

MiB=$((1024 * 1024))
NVME_CAP=$((10 * MiB))
PIN=user.dfabric.pin

# wait_tier FILE WANT: until all of FILE is on tier WANT (at most 20 s).
wait_tier()
{
	local i got

	for ((i = 0; i < 200; i++)); do
		got=$(tiers_of "$1")
		[[ $got == "$2" ]] && return 0
		sleep 0.1
	done
	fail "$1 is on '$got', expected '$2' within 20 s"
}

# wait_idle: until no migration job is queued or running (at most 20 s).
wait_idle()
{
	local i n

	for ((i = 0; i < 200; i++)); do
		n=$(df_ctl jobs --json | python3 -c '
import json, sys
print(sum(j["state"] not in ("done", "failed") for j in json.load(sys.stdin)["jobs"]))')
		((n == 0)) && return 0
		sleep 0.1
	done
	fail "migration jobs still running after 20 s"
}

# tier_used NAME: the bytes on tier NAME.
tier_used()
{
	json_get "$(df_ctl status --json)" \
		"[t['used'] for t in d['tiers'] if t['name'] == '$1'][0]"
}

# reads_of FILE: the read requests the profiler counted for FILE.
reads_of()
{
	json_get "$(df_ctl explain "$1" --json)" "d['stats']['reads']"
}

# read_direct FILE N: N whole reads of FILE with O_DIRECT (every one
# reaches the daemon), then until the profiler has counted them all.
read_direct()
{
	local before i want

	before=$(reads_of "$1")
	for ((i = 0; i < $2; i++)); do
		dd if="$1" of=/dev/null bs=1M iflag=direct status=none ||
			fail "O_DIRECT read of $1 failed"
	done
	want=$((before + $2))
	for ((i = 0; i < 200; i++)); do
		(($(reads_of "$1") >= want)) && return 0
		sleep 0.05
	done
	fail "$1: the profiler counted $(reads_of "$1") reads, expected $want"
}

df_setup
# Watermarks and prices on the tiers, and the [placement] section.
python3 - "$DF_CONF" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("capacity = 1G", "capacity = 10M\nhigh_watermark = 0.8\n"
              "low_watermark = 0.7\ncost_gb_month = 0.20", 1)
s = s.replace("capacity = 4G", "capacity = 4G\ncost_gb_month = 0.02", 1)
s += "\n[placement]\nauto = yes\ninterval = 3600\npromote_freq = 3\n"
open(p, "w").write(s)
EOF
df_mount

# --- (a) promotion on read ---------------------------------------------------

p=$DF_MNT/promote.bin
head -c $MiB /dev/urandom >"$T/promote.src"
cp "$T/promote.src" "$p"
df_ctl migrate "$p" --to hdd --wait >/dev/null 2>&1 || fail "migrate to hdd failed"
assert_eq "$(tiers_of "$p")" hdd "before the reads"
promos=$(json_get "$(df_ctl place --status --json)" "d['promotions']")
for ((i = 0; i < 10; i++)); do
	dd if="$p" of=/dev/null bs=256K iflag=direct status=none ||
		fail "O_DIRECT read $i failed"
done
wait_tier "$p" nvme
assert_eq "$(getfattr -n user.dfabric.tier --only-values "$p")" nvme:0-$((MiB - 1)) \
	"user.dfabric.tier after the promotion"
assert_file_eq "$p" "$T/promote.src"
st=$(df_ctl place --status --json)
(($(json_get "$st" "d['promotions']") > promos)) ||
	fail "promotions did not grow from $promos: $st"
assert_eq "$(json_get "$st" "d['auto']")" True "place --status: auto"
assert_eq "$(json_get "$st" "d['interval']")" 3600 "place --status: interval"
out=$(df_ctl place --status) || fail "place --status failed"
grep -q "auto: on, a pass every 3600s" <<<"$out" || fail "place --status: $out"
assert_eq "$(json_get "$st" "d['cache']")" False "place --status: cache"
assert_eq "$(json_get "$st" "'precision' in d or 'read_ahead' in d")" False "place --status: cache counters without cache mode"
! grep -q "cache mode" <<<"$out" || fail "place --status speaks of cache mode: $out"
# Out of the way of the watermark arithmetic below.
wait_idle
rm "$p"
for ((i = 0; i < 200; i++)); do
	(($(tier_used nvme) == 0)) && break
	sleep 0.1
done
assert_eq "$(tier_used nvme)" 0 "nvme bytes after removing the promoted file"

# --- (b) demotion past the high watermark ------------------------------------

for n in a b c; do
	head -c $((3 * MiB)) /dev/urandom >"$T/$n.src"
	cp "$T/$n.src" "$DF_MNT/$n"
	df_ctl migrate "$DF_MNT/$n" --to nvme --wait >/dev/null 2>&1 ||
		fail "migrate $n to nvme failed"
done
used=$(tier_used nvme)
assert_eq "$used" $((9 * MiB)) "nvme bytes with a, b, c"
# b warm, c hot, a never read: a is the coldest.
read_direct "$DF_MNT/b" 2
read_direct "$DF_MNT/c" 10
json=$(df_ctl place --json) || fail "place --json failed"
python3 - "$json" <<'EOF' || fail "place: $json"
import json, sys
d = json.loads(sys.argv[1])
l = d["last"]
if not d["ok"] or not d["ran"] or d["passes"] < 1 or not d["auto"]:
    sys.exit("header")
if l["files"] != 3 or l["moves"] < 1 or l["watermark"] < 1 or l["failed"]:
    sys.exit("last pass %s" % l)
EOF
wait_idle
assert_eq "$(tiers_of "$DF_MNT/a")" hdd "the coldest file a"
assert_eq "$(tiers_of "$DF_MNT/b")" nvme "the warm file b"
assert_eq "$(tiers_of "$DF_MNT/c")" nvme "the hot file c"
used=$(tier_used nvme)
((used < NVME_CAP * 8 / 10)) || fail "nvme holds $used bytes, above its high watermark"
# (Their bytes are compared at the end: reading them now would heat them.)
out=$(df_ctl place --status) || fail "place --status failed"
grep -q "^last pass .* 3 files scored, .* to make room" <<<"$out" ||
	fail "place --status: $out"

# --- (d) user.dfabric.score and explain --------------------------------------

score=$(getfattr -n user.dfabric.score --only-values "$DF_MNT/a")
grep -q "^tier .*frequency.*latency.*cost.*trend.*total.*allowed" <<<"$score" ||
	fail "score header: $score"
grep -q "^nvme .* yes$" <<<"$score" || fail "score nvme row: $score"
grep -q "^hdd .* yes (current)$" <<<"$score" || fail "score hdd row: $score"
grep -q "^confidence [0-9.]*$" <<<"$score" || fail "score confidence: $score"
json=$(df_ctl explain "$DF_MNT/a" --json) || fail "explain --json failed"
python3 - "$json" "$(tail -n 1 <<<"$score")" <<'EOF' || fail "explain: $json"
import json, sys
d, line = json.loads(sys.argv[1]), sys.argv[2]
# The decision line of the xattr names the same decision and tiers (a
# promotion by heat is a move).
word = {"promote": "move"}.get(line.split()[0], line.split()[0])
if word != d["decision"] or line.split(":")[0] != d["reason"].split(":")[0]:
    sys.exit("xattr says '%s', explain '%s' (%s)" % (line, d["reason"], d["decision"]))
if d["current"] != "hdd" or [t["name"] for t in d["tiers"]][:2] != ["nvme", "hdd"]:
    sys.exit("tiers")
if not d["tiers"][1]["current"] or d["tiers"][0]["current"]:
    sys.exit("current mark")
if d["bytes"] != 3 << 20 or d["tiers"][1]["bytes"] != 3 << 20:
    sys.exit("bytes")
if d["stats"]["reads"] != 0 or d["stats"]["writes"] < 1 or d["stats"]["last_access"] < 1.6e9:
    sys.exit("stats")
if d["policy"] != {"pin": None, "latency": "standard", "class": "public"}:
    sys.exit("policy")
for t in d["tiers"]:
    for k in ("frequency", "latency_fit", "cost_saving", "trend"):
        if not 0 <= t[k] <= 1:
            sys.exit("%s %s" % (k, t[k]))
if d["tiers"][1]["monthly_cost"] >= d["tiers"][0]["monthly_cost"]:
    sys.exit("hdd should cost less a month than nvme")
EOF
out=$(df_ctl explain "$DF_MNT/a") || fail "explain failed"
grep -q "^hdd \*" <<<"$out" || fail "explain marks no current tier: $out"
grep -q "^decision: *$(json_get "$json" "d['decision']")" <<<"$out" ||
	fail "explain decision: $out"
grep -q "^policies: *pin none  latency standard  class public" <<<"$out" ||
	fail "explain policies: $out"
# Read-only, and only for regular files.
out=$(setfattr -n user.dfabric.score -v x "$DF_MNT/a" 2>&1) &&
	fail "setting user.dfabric.score succeeded"
grep -q "Operation not permitted" <<<"$out" || fail "setfattr score: $out"
mkdir "$DF_MNT/dir"
out=$(df_ctl explain "$DF_MNT/dir" 2>&1) && fail "explain of a directory succeeded"
grep -q "not a regular file" <<<"$out" || fail "explain dir: $out"
out=$(df_ctl explain "$T/a.src" 2>&1) && fail "explain off the mount succeeded"
grep -q "not on a dfabric mount" <<<"$out" || fail "explain off the mount: $out"
expect_fail df_ctl explain "$DF_MNT/nonexistent" 2>/dev/null

# --- (e) cost ------------------------------------------------------------------

json=$(df_ctl cost --json) || fail "cost --json failed"
python3 - "$json" $MiB <<'EOF' || fail "cost: $json"
import json, sys
d, mib = json.loads(sys.argv[1]), int(sys.argv[2])
t = {x["name"]: x for x in d["tiers"]}
if d["files"] != 3 or t["nvme"]["bytes"] != 6 * mib or t["hdd"]["bytes"] != 3 * mib or \
   t.get("s3", {"bytes": 0})["bytes"] != 0:
    sys.exit("bytes")
s = sum(x["cost"] for x in d["tiers"])
if abs(s - d["total"]) > 1e-9 * max(1, s) or d["total"] <= 0:
    sys.exit("total %s, sum %s" % (d["total"], s))
# a was demoted to the cheaper tier: all on nvme costs more.
if not d["all_fastest"] > d["total"] or d["fastest"] != "nvme":
    sys.exit("all on nvme %s vs %s" % (d["all_fastest"], d["total"]))
if abs(d["saving"] - (d["all_fastest"] - d["total"])) > 1e-12:
    sys.exit("saving")
if abs(d["saving_ratio"] - d["saving"] / d["all_fastest"]) > 1e-9:
    sys.exit("saving_ratio")
EOF
out=$(df_ctl cost) || fail "cost failed"
grep -q "^total " <<<"$out" && grep -q "^all on nvme: .* saving " <<<"$out" &&
	grep -q "projection" <<<"$out" || fail "cost table: $out"

# --- (c) pins under pressure -----------------------------------------------------

# a, the coldest, pinned to nvme: its pin brings it back; nvme is above
# its high watermark again and the pass must demote b, not a.
setfattr -n $PIN -v nvme "$DF_MNT/a"
wait_tier "$DF_MNT/a" nvme
wait_idle
df_ctl place --json >/dev/null || fail "place failed"
wait_idle
assert_eq "$(tiers_of "$DF_MNT/a")" nvme "the pinned cold file a"
assert_eq "$(tiers_of "$DF_MNT/b")" hdd "b, demoted instead of the pinned a"
assert_eq "$(tiers_of "$DF_MNT/c")" nvme "the hot file c"
used=$(tier_used nvme)
((used < NVME_CAP * 8 / 10)) || fail "nvme holds $used bytes, above its high watermark"

# c, the hottest, pinned to hdd: it goes there and stays however hot.
setfattr -n $PIN -v hdd "$DF_MNT/c"
json=$(df_ctl explain "$DF_MNT/c" --json)
python3 - "$json" <<'EOF' || fail "explain of c pinned to hdd: $json"
import json, sys
d = json.loads(sys.argv[1])
n = d["tiers"][0]
if d["policy"]["pin"] != "hdd" or n["allowed"] or "pinned to hdd" not in n["why"]:
    sys.exit("nvme must be refused by the pin")
# Until the pin's own migration is done, a pass would force the move.
if d["current"] == "nvme" and (d["decision"] != "forced" or d["target"] != "hdd"):
    sys.exit("decision")
EOF
wait_tier "$DF_MNT/c" hdd
wait_idle
promos=$(json_get "$(df_ctl place --status --json)" "d['promotions']")
read_direct "$DF_MNT/c" 10
df_ctl place >/dev/null || fail "place failed"
wait_idle
assert_eq "$(tiers_of "$DF_MNT/c")" hdd "the hot file c pinned to hdd"
assert_eq "$(json_get "$(df_ctl place --status --json)" "d['promotions']")" \
	"$promos" "promotions of a file pinned to hdd"
json=$(df_ctl explain "$DF_MNT/c" --json)
assert_eq "$(json_get "$json" "d['decision']")" stay "c's decision on hdd"
for n in a b c; do
	assert_file_eq "$DF_MNT/$n" "$T/$n.src"
done

# --- (f) a confidential file never goes to s3 ----------------------------------

if [[ $DF_S3 == 1 ]]; then
	x=$DF_MNT/secret
	y=$DF_MNT/public
	head -c $((4 * MiB)) /dev/urandom >"$T/secret.src"
	cp "$T/secret.src" "$x"
	setfattr -n user.dfabric.class -v confidential "$x"
	df_ctl migrate "$x" --to hdd --wait >/dev/null 2>&1 || fail "migrate secret failed"
	# hdd (32M, high watermark 0.9) filled to 30M with a public file.
	used=$(tier_used hdd)
	size=$((30 * MiB - used))
	((size > 0)) || fail "hdd already holds $used bytes"
	head -c $size /dev/urandom >"$T/public.src"
	cp "$T/public.src" "$y"
	df_ctl migrate "$y" --to hdd --wait >/dev/null 2>&1 || fail "migrate public failed"
	# The confidential file is the coldest there: written once, never read.
	read_direct "$y" 2
	json=$(df_ctl explain "$x" --json)
	python3 - "$json" <<'EOF' || fail "explain of the confidential file: $json"
import json, sys
d = json.loads(sys.argv[1])
s3 = [t for t in d["tiers"] if t["name"] == "s3"][0]
if d["policy"]["class"] != "confidential" or s3["allowed"] or "local tiers only" not in s3["why"]:
    sys.exit("s3 must be refused by the class")
if d["target"] == "s3":
    sys.exit("target s3")
EOF
	(($(tier_used hdd) > 32 * MiB * 9 / 10)) || fail "hdd not above its high watermark"
	df_ctl place >/dev/null || fail "place failed"
	wait_idle
	assert_eq "$(tiers_of "$x")" hdd "the confidential file"
	(($(tier_used s3) > 0)) || fail "nothing was moved to s3 to make room on hdd"
	used=$(tier_used hdd)
	((used < 32 * MiB * 9 / 10)) || fail "hdd holds $used bytes, above its high watermark"
	assert_file_eq "$x" "$T/secret.src"
	assert_file_eq "$y" "$T/public.src"
fi

# Bad arguments.
expect_fail df_ctl place --now 2>/dev/null
expect_fail df_ctl explain 2>/dev/null
expect_fail df_ctl cost extra 2>/dev/null

df_umount
echo "PASS"
