#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The placement policies on a live mount with two local tiers and an s3
# tier (s3rver, private = no):
#  (a) user.dfabric.pin, .latency, .class set with setfattr (with and
#      without a trailing newline) read back with getfattr, listed when
#      set, summed up in the read-only user.dfabric.policy, removed;
#  (b) bad values fail with EINVAL, change nothing, and the daemon's log
#      names the value;
#  (c) a pin moves the file to its tier at once;
#  (d) `dfabric-ctl migrate --to s3` of a confidential or restricted file
#      is refused with the reason and the file stays where it is; a file
#      on s3 made confidential comes back to a local tier by itself;
#  (e) new entries inherit their directory's policies as a snapshot;
#  (f) a user other than the owner cannot set or remove them.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

command -v python3 >/dev/null || skip "python3 is needed"
command -v getfattr >/dev/null || skip "getfattr (package attr) is needed"
command -v setpriv >/dev/null || skip "setpriv is needed"
[[ -f $DF_ROOT/node_modules/s3rver/bin/s3rver.js ]] ||
	skip "no s3rver (run npm ci --no-audit --no-fund at the top of the tree)"

PIN=user.dfabric.pin
LAT=user.dfabric.latency
CLS=user.dfabric.class
POL=user.dfabric.policy

# wait_tiers FILE WANT: until FILE's extents are all on WANT (at most 20 s).
wait_tiers()
{
	local i got

	for ((i = 0; i < 200; i++)); do
		got=$(tiers_of "$1")
		[[ $got == "$2" ]] && return 0
		sleep 0.1
	done
	fail "$1 is on '$got', not on '$2' after 20 s"
}

# val FILE NAME: the value of xattr NAME, or "<none>" when it has none.
val()
{
	getfattr --only-values -n "$2" "$1" 2>/dev/null || echo "<none>"
}

# setx FILE NAME BYTES: setxattr(2) with exactly BYTES (a Python bytes
# literal); prints "ok" or the errno name.
setx()
{
	python3 - "$@" <<'EOF'
import errno, os, sys
try:
    os.setxattr(sys.argv[1], sys.argv[2], eval(sys.argv[3]))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
}

DF_S3=1 DF_EXTRA_CONF="extent_size = 64K"
df_setup
df_mount -o allow_other

# (a) set, get, list, remove
f=$DF_MNT/a
head -c 262144 /dev/urandom >"$f"
assert_eq "$(val "$f" $POL)" "pin=none latency=standard class=public" "defaults"
assert_eq "$(val "$f" $CLS)" "<none>" "class unset"
setfattr -n $LAT -v critical "$f"
printf 'private\n' >"$T/v"
setfattr -n $CLS -v "$(cat "$T/v")" "$f"
assert_eq "$(setx "$f" $CLS "b'private\n'")" ok "value with a newline"
assert_eq "$(val "$f" $LAT)" critical "latency"
assert_eq "$(val "$f" $CLS)" private "class"
names=$(getfattr -d -m - --absolute-names "$f" | grep -c '^user\.dfabric\.' || true)
assert_eq "$names" 2 "listed policy xattrs"
getfattr -d -m - --absolute-names "$f" | grep -q "^$POL" &&
	fail "user.dfabric.policy must not be listed"
expect_fail setfattr -n $POL -v "pin=none" "$f"
setfattr -x $LAT "$f"
assert_eq "$(val "$f" $LAT)" "<none>" "latency removed"
assert_eq "$(val "$f" $POL)" "pin=none latency=standard class=private" "summary"

# (c) a pin moves the file at once
assert_eq "$(tiers_of "$f")" nvme "written to nvme"
setfattr -n $PIN -v hdd "$f"
assert_eq "$(val "$f" $PIN)" hdd "pin"
wait_tiers "$f" hdd
head -c 65536 /dev/urandom >>"$f"
assert_eq "$(tiers_of "$f")" hdd "appended extent lands on the pinned tier"
setfattr -n $PIN -v none "$f"
assert_eq "$(val "$f" $PIN)" "<none>" "pin none clears"

# (b) bad values: EINVAL, nothing changes, the log names the value
for v in "b'bogus'" "b''" "b'critical x'" "b'criticalx'" "b'critical\n\n'" \
	 "b'\x01\xff'" "b'x' * 300"; do
	assert_eq "$(setx "$f" $LAT "$v")" EINVAL "latency = $v"
done
assert_eq "$(setx "$f" $CLS "b'secret'")" EINVAL "class secret"
assert_eq "$(setx "$f" $PIN "b'tape'")" EINVAL "pin to an unknown tier"
assert_eq "$(val "$f" $POL)" "pin=none latency=standard class=private" \
	"nothing changed by bad values"
grep -q 'user.dfabric.latency.*bad value "bogus"' "$DF_LOG" ||
	fail "no log line naming the bad value"
grep -q 'user.dfabric.pin.*bad value "tape"' "$DF_LOG" ||
	fail "no log line naming the bad pin"
grep -q 'bad value "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\.\.\."' \
	"$DF_LOG" || fail "a long bad value is not cut in the log"
# an unknown name under user.dfabric. is shown as a bad value is: a
# newline in it made a log line of the writer's choosing
forged='dfabric 00:00:00.000 error: forged'
assert_eq "$(setx "$f" "user.dfabric.x"$'\n'"$forged" "b'1'")" EINVAL \
	"unknown name with a newline"
assert_eq "$(python3 -c 'import errno, os, sys
try:
    os.removexattr(sys.argv[1], sys.argv[2])
except OSError as e:
    print(errno.errorcode[e.errno])' "$f" "user.dfabric.y"$'\n'"$forged")" EINVAL \
	"removing an unknown name with a newline"
grep -q '^dfabric 00:00:00.000 error: forged' "$DF_LOG" &&
	fail "a name under user.dfabric. wrote a line of its own in the log"
grep -q 'unknown attribute user.dfabric.x?dfabric 00:00:00.000 error: forge' \
	"$DF_LOG" || fail "no log line naming the unknown attribute"

# (d) confidential and restricted data stay off the s3 tier
setfattr -n $CLS -v confidential "$f"
if df_ctl migrate "$f" --to s3 --wait >"$T/out" 2>&1; then
	fail "migrate of a confidential file to s3 succeeded"
fi
grep -q "$f: class confidential may not leave local tiers" "$T/out" ||
	fail "no reason for the refusal: $(cat "$T/out")"
assert_eq "$(tiers_of "$f")" hdd "confidential file stays"
g=$DF_MNT/r
head -c 100000 /dev/urandom >"$g"
setfattr -n $CLS -v restricted "$g"
if df_ctl migrate "$g" --to s3 >"$T/out" 2>&1; then
	fail "migrate of a restricted file to a non-private tier succeeded"
fi
grep -q "class restricted" "$T/out" || fail "no reason: $(cat "$T/out")"
assert_eq "$(tiers_of "$g")" nvme "restricted file stays"
df_ctl migrate "$g" --to hdd --wait >/dev/null 2>&1 ||
	fail "migrate of a restricted file to a local tier failed"
assert_eq "$(tiers_of "$g")" hdd "restricted file moved to hdd"
# A pin the class forbids is refused.
assert_eq "$(setx "$f" $PIN "b's3'")" EPERM "pin of a confidential file to s3"
# A public file on s3 made confidential comes back by itself.
h=$DF_MNT/p
head -c 200000 /dev/urandom >"$h"
cp "$h" "$T/p.ref"
df_ctl migrate "$h" --to s3 --wait >/dev/null 2>&1 || fail "migrate to s3"
assert_eq "$(tiers_of "$h")" s3 "public file on s3"
setfattr -n $CLS -v confidential "$h"
wait_tiers "$h" nvme
echo 3 >/proc/sys/vm/drop_caches
cmp "$h" "$T/p.ref" || fail "content changed by the moves"

# (e) inheritance, a snapshot
d=$DF_MNT/d
mkdir "$d"
setfattr -n $CLS -v restricted "$d"
setfattr -n $LAT -v flexible "$d"
echo x >"$d/x"
mkdir "$d/sub"
# (Symlinks and special files inherit them too, but the kernel shows no
# user.* xattrs on those: tests/unit/test_policy.c checks them.)
for e in x sub; do
	assert_eq "$(val "$d/$e" $POL)" "pin=none latency=flexible class=restricted" \
		"inherited by $e"
done
echo y >"$d/sub/y"
assert_eq "$(val "$d/sub/y" $CLS)" restricted "inherited two levels down"
setfattr -n $CLS -v public "$d"
assert_eq "$(val "$d/x" $CLS)" restricted "a snapshot: the child keeps its class"
echo z >"$d/z"
assert_eq "$(val "$d/z" $CLS)" public "a new child gets the new class"

# (f) only who may write the file may change them
chmod 0644 "$f"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	setfattr -n $CLS -v public "$f" 2>&1) &&
	fail "nobody could set the class"
[[ $out == *"Permission denied"* || $out == *"not permitted"* ]] ||
	fail "unexpected error for nobody: $out"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	setfattr -x $CLS "$f" 2>&1) && fail "nobody could remove the class"
assert_eq "$(val "$f" $CLS)" confidential "class kept"
# ...but may on a file they may write.
chmod 0666 "$f"
setpriv --reuid=65534 --regid=65534 --clear-groups \
	setfattr -n $LAT -v flexible "$f" || fail "nobody could not set o+w file"
assert_eq "$(val "$f" $LAT)" flexible "set by a writer"
# ...and so may a member of the file's group by a supplementary group
# only: the daemon's own check sees those groups too.
chgrp 4242 "$f"
chmod 0664 "$f"
setpriv --reuid=65534 --regid=65534 --groups=4242 \
	setfattr -n $LAT -v critical "$f" ||
	fail "a supplementary group member with g+w could not set it"
assert_eq "$(val "$f" $LAT)" critical "set by a group member"
out=$(setpriv --reuid=65534 --regid=65534 --groups=4243 \
	setfattr -n $LAT -v flexible "$f" 2>&1) &&
	fail "a user of another group could set it"

# Persisted across a remount.
df_umount
df_mount -o allow_other
assert_eq "$(val "$f" $POL)" "pin=none latency=critical class=confidential" \
	"after a remount"
assert_eq "$(val "$d/x" $POL)" "pin=none latency=flexible class=restricted" \
	"inherited, after a remount"
df_umount
echo "PASS [$DF_TEST_NAME]"
