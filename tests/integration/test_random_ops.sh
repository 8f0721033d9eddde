#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Random operations against reference files: fsx runs several seeds on a
# mounted dfabric next to reference files on the native filesystem; after a
# remount the files must still equal their references. A second run with a
# 16 MiB nvme tier makes extents spill to the hdd tier, and the
# user.dfabric.tier xattr must show files spanning both tiers.
set -Eeuo pipefail

. "$(dirname "$0")/../lib.sh"
# Name the command that ended the test through set -e.
trap 'echo "FAIL [$DF_TEST_NAME]: line $LINENO: \"$BASH_COMMAND\" exited with status $?" >&2' ERR

FSX=$B/tests/fsx
[[ -x $FSX ]] || fail "no $FSX (build first)"

SEEDS=(101 202 303)
NOPS=${FSX_OPS:-5000}

# compare_all DIR REFDIR SEED...: files equal their references.
compare_all()
{
	local dir=$1 ref=$2 s
	shift 2

	for s in "$@"; do
		[[ -f $dir/fsx.$s ]] || fail "fsx.$s missing after remount"
		assert_eq "$(stat -c %s "$dir/fsx.$s")" "$(stat -c %s "$ref/fsx.$s")" \
			"size of fsx.$s after remount"
		assert_file_eq "$dir/fsx.$s" "$ref/fsx.$s"
	done
}

# tier_map FILE: the value of user.dfabric.tier.
tier_map()
{
	getfattr -n user.dfabric.tier --only-values --absolute-names -- "$1"
}

# check_tier_map FILE: every token is TIER:FIRST-LAST with a known tier
# and FIRST <= LAST; the ranges do not overlap. (An extent may reach past
# EOF: the map shows whole extents, and fallocate KEEP_SIZE may place some
# beyond it.)
check_tier_map()
{
	local file=$1 map tok

	map=$(tier_map "$file") || fail "getfattr user.dfabric.tier $file failed"
	for tok in $map; do
		[[ $tok =~ ^(nvme|hdd):([0-9]+)-([0-9]+)$ ]] ||
			fail "$file: bad token '$tok' in user.dfabric.tier '$map'"
		((BASH_REMATCH[2] <= BASH_REMATCH[3])) ||
			fail "$file: empty range $tok in '$map'"
	done
	tr -s ' ' '\n' <<<"$map" | awk -F'[:-]' 'NF { print $2, $3 }' | sort -n | awk -v f="$file" '
		NR > 1 && $1 <= last { print f ": overlapping extents at " $1; bad = 1 }
		{ last = $2 }
		END { exit bad }' >&2 || fail "$file: overlapping ranges in '$map'"
}

# --- part 1: three seeds, remount, compare -----------------------------------
(
	df_setup
	mkdir "$T/ref"
	df_mount
	t0=$SECONDS
	df_fsx_parallel "$DF_MNT" "$T/ref" "$NOPS" "${SEEDS[@]}"
	echo "fsx: ${#SEEDS[@]} seeds x $NOPS ops in $((SECONDS - t0)) s"
	compare_all "$DF_MNT" "$T/ref" "${SEEDS[@]}"
	df_umount
	df_mount
	compare_all "$DF_MNT" "$T/ref" "${SEEDS[@]}"
	for s in "${SEEDS[@]}"; do
		check_tier_map "$DF_MNT/fsx.$s"
	done
	df_umount
)

# --- part 2: a tiny nvme tier, extents spill to hdd --------------------------
(
	DF_NVME_CAP=16M
	df_setup
	mkdir "$T/ref"
	df_mount
	# A dense 40 MiB file written first, on an empty filesystem: its first
	# extents fit on nvme, the rest cannot.
	head -c $((40 << 20)) /dev/urandom >"$T/ref/big"
	cp "$T/ref/big" "$DF_MNT/big" || fail "writing 40 MiB with a 16 MiB nvme tier failed"
	assert_file_eq "$DF_MNT/big" "$T/ref/big"
	df_fsx_parallel "$DF_MNT" "$T/ref" 1500 404 505
	df_umount
	df_mount
	assert_file_eq "$DF_MNT/big" "$T/ref/big"
	compare_all "$DF_MNT" "$T/ref" 404 505

	both=
	nvme_bytes=0
	for f in big fsx.404 fsx.505; do
		size=$(stat -c %s "$DF_MNT/$f")
		check_tier_map "$DF_MNT/$f"
		map=$(tier_map "$DF_MNT/$f")
		echo "user.dfabric.tier of $f (size $size): $map"
		if [[ " $map" == *" nvme:"* && " $map" == *" hdd:"* ]]; then
			both+=" $f"
		fi
		for tok in $map; do
			if [[ $tok =~ ^nvme:([0-9]+)-([0-9]+)$ ]]; then
				nvme_bytes=$((nvme_bytes + BASH_REMATCH[2] - BASH_REMATCH[1] + 1))
			fi
		done
	done
	[[ -n $both ]] || fail "no file has extents on both nvme and hdd with a 16 MiB nvme tier"
	echo "files on both tiers:$both; extent bytes on nvme: $nvme_bytes"
	((nvme_bytes <= 16 << 20)) ||
		fail "extents on nvme add up to $nvme_bytes bytes, over its 16 MiB capacity"
	# The dense file covers [0, size) without gaps.
	gaps=$(tier_map "$DF_MNT/big" | tr -s ' ' '\n' | awk -F'[:-]' 'NF { print $2, $3 }' |
		sort -n | awk -v size=$((40 << 20)) '
			$1 != next_off { print "gap or overlap at " next_off; }
			{ next_off = $2 + 1 }
			END { if (next_off < size) print "map ends at " next_off }')
	[[ -z $gaps ]] || fail "user.dfabric.tier of big does not cover the file: $gaps"
	echo "allocated on the nvme tier: $(du -s --block-size=1 "$T/nvme" | cut -f1) bytes"
	df_umount
)

echo "test_random_ops: passed"
