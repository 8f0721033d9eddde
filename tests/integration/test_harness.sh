#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test library's cleanup: a test that fails after df_trap_exit with
# a cleanup command of its own (which fails, too) still stops its S3
# server and removes its directory, and the cleanup command ran.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

[[ -f $DF_ROOT/node_modules/s3rver/bin/s3rver.js ]] ||
	skip "no s3rver (run npm ci --no-audit --no-fund at the top of the tree)"
out=$(mktemp -d /tmp/dfh.XXXXXX)
trap 'rm -rf "$out"' EXIT
DF_ROOT=$DF_ROOT B=$B bash -s "$out" >"$out/log" 2>&1 <<'INNER' && fail "the inner test did not fail"
set -euo pipefail
. "$DF_ROOT/tests/lib.sh"
DF_S3=1
df_setup
echo "$T" >"$1/dir"
cat "$DF_S3_DIR/pid" >"$1/pid"
df_trap_exit "touch $1/ran; false"
fail "on purpose"
INNER
[[ -s $out/pid ]] || { cat "$out/log"; fail "the inner test did not start its S3 server"; }
[[ -e $out/ran ]] || fail "the test's own cleanup command did not run"
pid=$(cat "$out/pid")
for ((i = 0; i < 100; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
	kill "$pid"
	fail "the S3 server $pid outlived the failed test"
fi
[[ ! -e $(cat "$out/dir") ]] || fail "the failed test left $(cat "$out/dir")"
echo "PASS test_harness"
