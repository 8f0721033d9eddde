#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A malformed dfabric.conf (unknown key or section, bad size, missing tier
# path, two tiers on one path, ...) makes the daemon exit nonzero within
# seconds, with a message "dfabric.conf:LINE: ..." naming the right line,
# and nothing is mounted.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
# Name the command that ended the test through set -e.
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

df_setup

# good_config: a valid config, one numbered line per line; the cases
# below replace or insert lines of it.
good_config()
{
	cat <<EOF
[fabric]
meta = $T/meta

[tier.nvme]
kind = local
path = $T/nvme
capacity = 1G

[tier.hdd]
kind = local
path = $T/hdd
capacity = 4G
EOF
}

# The daemon must accept the good config: otherwise the failures below
# would prove nothing.
mkdir -p "$T/good"
good_config >"$T/good/dfabric.conf"
DF_CONF=$T/good/dfabric.conf
df_mount || fail "the daemon does not mount with a valid config"
df_umount

ncase=0

# bad_case NAME LINES SED_SCRIPT: the good config edited by SED_SCRIPT
# must be refused; LINES is the set of acceptable line numbers ("7" or
# "9|11") in "dfabric.conf:LINE:".
bad_case()
{
	local name=$1 lines=$2 script=$3 dir rc=0 t0 ms out

	ncase=$((ncase + 1))
	dir=$T/bad$ncase
	mkdir -p "$dir"
	good_config | sed -e "$script" >"$dir/dfabric.conf"
	t0=$(date +%s%N)
	timeout -k 2 10 "$B/dfabric" "$dir/dfabric.conf" "$DF_MNT" -f >"$dir/out" 2>&1 || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	out=$(cat "$dir/out")
	if df_is_mounted; then
		fusermount3 -uz "$DF_MNT" 2>/dev/null || umount -l "$DF_MNT" || true
		fail "$name: the daemon mounted $DF_MNT with a malformed config"
	fi
	if ((rc == 124 || rc == 137)); then
		fail "$name: the daemon was still running after 10 s with a malformed config"
	fi
	if ((rc == 0)); then
		fail "$name: the daemon exited 0 with a malformed config; output: $out"
	fi
	((ms < 5000)) || fail "$name: the daemon took $ms ms to refuse the config"
	if ! grep -qE "dfabric\.conf:($lines):" "$dir/out"; then
		echo "--- config ---" >&2
		cat -n "$dir/dfabric.conf" >&2
		fail "$name: no message naming dfabric.conf:($lines): in the output: $out"
	fi
	mountpoint -q "$DF_MNT" && fail "$name: $DF_MNT is a mount point after the daemon exited"
	echo "ok: $name (exit $rc, $ms ms): $(grep -m1 -E "dfabric\.conf:($lines):" "$dir/out")"
}

# Lines of the good config:
#  1 [fabric]          5 kind = local      9 [tier.hdd]
#  2 meta = ...        6 path = nvme      10 kind = local
#  3                   7 capacity = 1G    11 path = hdd
#  4 [tier.nvme]       8                  12 capacity = 4G
bad_case "unknown key in a tier"      6  '6i colour = blue'
bad_case "unknown key in [fabric]"    3  '3i fast = yes'
bad_case "unknown section"            9  '9s/.*/[tyre.hdd]/'
bad_case "size with a bad suffix"     7  '7s/.*/capacity = 12Q/'
bad_case "negative size"              12 '12s/.*/capacity = -4G/'
bad_case "size that is not a number"  7  '7s/.*/capacity = lots/'
bad_case "extent size not a power of 2" 3 '2a extent_size = 3M'
bad_case "tier path does not exist"   6  "6s|.*|path = $T/no/such/dir|"
bad_case "tier path is a file"        11 "11s|.*|path = $T/good/dfabric.conf|"
bad_case "two tiers on one path"      '9|11' "11s|.*|path = $T/nvme|"
mkdir "$T/nvme/inner"
bad_case "a tier inside another"      '9|11' "11s|.*|path = $T/nvme/inner|"
rmdir "$T/nvme/inner"
bad_case "tier without a path"        '9|10|11|12' '11d'

echo "test_bad_config: $ncase malformed configs refused"
