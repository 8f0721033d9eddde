# SPDX-License-Identifier: GPL-2.0-or-later
# Shared harness of the integration tests: sourced (never run) by every
# tests/integration/test_*.sh. It makes a private directory with two local
# tiers and a config, mounts dfabric there as a child of the test, unmounts
# it and checks that the daemon exited cleanly with a clean log, and removes
# everything on exit. Every wait is bounded.
#
# Environment it reads:
#   B                    build directory (default: build), made absolute
#   DF_NVME_CAP          capacity of the nvme tier (default 1G)
#   DF_HDD_CAP           capacity of the hdd tier (default 4G)
#   DF_EXTRA_CONF        extra lines appended to the [fabric] section
#   DF_S3                1: df_setup starts an S3 test server (s3rver, see
#                        tests/s3server) and adds a third tier [tier.s3]
#   DF_S3_SIG            its signature, v2 (default) or v4
#   DF_S3_CAP            its capacity (default 100G)
#   DF_S3_EXTRA          extra lines appended to [tier.s3]
#   DF_ALLOW_LOG_ERRORS  1: df_umount tolerates error/warning log lines
#   DF_KEEP              1: keep the test directory $T after the test
#   DF_TRACK             a file to which df_setup appends $T (the runner's)
# Exported by df_setup: T DF_CONF DF_MNT DF_LOG; by df_mount: DF_PID; by
# df_s3_start: DF_S3_DIR DF_S3_PORT.

DF_TEST_NAME=$(basename "${0%.sh}")
DF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The build directory, absolute: relative to the current directory if it
# exists there, else relative to the top of the work tree.
df_resolve_build()
{
	local b=${B:-build}

	if [[ $b != /* ]]; then
		if [[ -d $b ]]; then
			b=$(cd "$b" && pwd)
		else
			b=$DF_ROOT/$b
		fi
	fi
	B=$b
	export B
}
df_resolve_build

# --- assertions -------------------------------------------------------------

# fail MSG: report on stderr with the test's name and end the test.
fail()
{
	echo "FAIL [$DF_TEST_NAME]: $*" >&2
	exit 1
}

# assert_eq A B MSG
assert_eq()
{
	if [[ "$1" != "$2" ]]; then
		fail "${3:-values differ}: expected '$2', got '$1'"
	fi
}

# assert_file_eq F1 F2: identical contents.
assert_file_eq()
{
	cmp -- "$1" "$2" >&2 || fail "files differ: $1 $2"
}

# expect_fail CMD...: the command must fail (its output is shown).
expect_fail()
{
	if "$@"; then
		fail "expected to fail: $*"
	fi
	return 0
}

# skip MSG: the test cannot run here (exit 77, counted as skipped).
skip()
{
	echo "SKIP [$DF_TEST_NAME]: $*" >&2
	exit 77
}

# --- setup and teardown -----------------------------------------------------

# df_setup: the test directory, tiers, mount point and config.
df_setup()
{
	[[ -x $B/dfabric ]] || fail "no daemon at $B/dfabric (build first)"
	T=$(mktemp -d /tmp/dft.XXXXXX) || fail "mktemp failed"
	# Other users must be able to reach the mount point (tests that drop
	# privileges); the tiers stay root's.
	chmod 0755 "$T"
	# The runner (tests/run) cleans up after a test killed by its timeout.
	if [[ -n ${DF_TRACK:-} ]]; then
		echo "$T" >>"$DF_TRACK"
	fi
	mkdir -p "$T/nvme" "$T/hdd" "$T/mnt" || fail "cannot create $T/*"
	chmod 0700 "$T/nvme" "$T/hdd"
	DF_CONF=$T/dfabric.conf
	DF_MNT=$T/mnt
	DF_LOG=$T/daemon.log
	DF_PID=
	export T DF_CONF DF_MNT DF_LOG DF_PID
	trap df_cleanup EXIT
	# A signal ends the test through the EXIT trap as well.
	trap 'exit 130' INT
	trap 'exit 143' TERM
	{
		echo "[fabric]"
		echo "meta = $T/meta"
		if [[ -n ${DF_EXTRA_CONF:-} ]]; then
			printf '%s\n' "$DF_EXTRA_CONF"
		fi
		echo
		echo "[tier.nvme]"
		echo "kind = local"
		echo "path = $T/nvme"
		echo "capacity = ${DF_NVME_CAP:-1G}"
		echo
		echo "[tier.hdd]"
		echo "kind = local"
		echo "path = $T/hdd"
		echo "capacity = ${DF_HDD_CAP:-4G}"
	} >"$DF_CONF"
	if [[ ${DF_S3:-0} == 1 ]]; then
		df_s3_start
		printf 'access_key = S3RVER\nsecret_key = S3RVER\n' >"$T/s3.creds"
		chmod 0600 "$T/s3.creds"
		{
			echo
			echo "[tier.s3]"
			echo "kind = s3"
			echo "endpoint = 127.0.0.1:$DF_S3_PORT"
			echo "bucket = dfabric"
			echo "prefix = $DF_TEST_NAME/"
			echo "tls = no"
			echo "signature = ${DF_S3_SIG:-v2}"
			echo "credentials_file = $T/s3.creds"
			echo "capacity = ${DF_S3_CAP:-100G}"
			if [[ -n ${DF_S3_EXTRA:-} ]]; then
				printf '%s\n' "$DF_S3_EXTRA"
			fi
		} >>"$DF_CONF"
	fi
	: >"$DF_LOG"
}

# df_s3_start: start the S3 test server with its data in $T/s3 (again on
# the same port if it ran before), waiting (bounded) until it listens.
df_s3_start()
{
	local port

	[[ -n ${T:-} ]] || fail "df_s3_start: call df_setup first"
	DF_S3_DIR=$T/s3
	mkdir -p "$DF_S3_DIR" || fail "cannot create $DF_S3_DIR"
	port=$("$DF_ROOT/tests/s3server" start "$DF_S3_DIR" ${DF_S3_PORT:-}) ||
		fail "df_s3_start: the S3 test server did not start (npm ci --no-audit --no-fund?)"
	DF_S3_PORT=$port
	export DF_S3_DIR DF_S3_PORT
}

# df_s3_stop: stop the S3 test server (if running) and wait for it.
df_s3_stop()
{
	[[ -n ${DF_S3_DIR:-} ]] || return 0
	"$DF_ROOT/tests/s3server" stop "$DF_S3_DIR" || true
}

# True while the mount point is in the mount table (reads the table, never
# stats the mount point, so a hung daemon cannot hang the check).
df_is_mounted()
{
	local mnt=${1:-$DF_MNT}

	[[ -n $mnt ]] || return 1
	awk -v m="$mnt" '$5 == m { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

df_alive()
{
	[[ -n ${DF_PID:-} ]] && kill -0 "$DF_PID" 2>/dev/null
}

df_log_tail()
{
	echo "--- last lines of $DF_LOG ---" >&2
	tail -n "${1:-40}" "$DF_LOG" >&2 2>/dev/null || true
	echo "---" >&2
}

# df_mount [-o opts]: start the daemon in the foreground as our child and
# wait (at most 10 s) until the mount is there. DF_TEST_OPTS, if set, is
# given as one more -o (e.g. DF_TEST_OPTS=uring to run the tests over
# io_uring).
df_mount()
{
	local i

	if df_alive; then
		fail "df_mount: daemon $DF_PID is still running"
	fi
	echo "dfabric: mount $DF_CONF $DF_MNT $*" >>"$DF_LOG"
	"$B/dfabric" "$DF_CONF" "$DF_MNT" -f ${DF_TEST_OPTS:+-o "$DF_TEST_OPTS"} \
		"$@" >>"$DF_LOG" 2>&1 &
	DF_PID=$!
	export DF_PID
	for ((i = 0; i < 500; i++)); do
		if mountpoint -q "$DF_MNT"; then
			return 0
		fi
		if ! kill -0 "$DF_PID" 2>/dev/null; then
			local rc=0

			wait "$DF_PID" || rc=$?
			DF_PID=
			echo "df_mount: the daemon exited with status $rc before mounting" >&2
			df_log_tail
			return 1
		fi
		sleep 0.02
	done
	echo "df_mount: $DF_MNT not mounted after 10 s" >&2
	df_log_tail
	return 1
}

# Asserts that the kernel readahead of the mount is $1 KiB ($2: what).
# The daemon sets it once the kernel has handled its INIT reply, which
# would cut back a value set earlier: waits for it (5 s at most).
df_check_ra()
{
	local i ra=

	for ((i = 0; i < 250; i++)); do
		ra=$(cat "/sys/class/bdi/$(mountpoint -d "$DF_MNT")/read_ahead_kb")
		[[ $ra == "$1" ]] && break
		sleep 0.02
	done
	assert_eq "$ra" "$1" "$2"
}

# Waits (at most $2 seconds, default 10) for DF_PID to exit; puts its exit
# status in DF_STATUS. Returns 1 if it is still running.
df_wait_exit()
{
	local i n=$((${1:-10} * 50))

	DF_STATUS=
	for ((i = 0; i < n; i++)); do
		if ! kill -0 "$DF_PID" 2>/dev/null; then
			DF_STATUS=0
			wait "$DF_PID" 2>/dev/null || DF_STATUS=$?
			return 0
		fi
		sleep 0.02
	done
	return 1
}

# Lines of the daemon log that must fail a test: sanitizer reports always,
# error and warning (and worse) lines unless DF_ALLOW_LOG_ERRORS=1.
df_check_log()
{
	local bad

	bad=$(grep -nE 'AddressSanitizer|LeakSanitizer|runtime error' "$DF_LOG" || true)
	if [[ -n $bad ]]; then
		cat "$DF_LOG" >&2
		fail "sanitizer report in the daemon log: ${bad%%$'\n'*}"
	fi
	[[ ${DF_ALLOW_LOG_ERRORS:-0} == 1 ]] && return 0
	# A process reading hundreds of files (tar, git, diff -r in the tests)
	# is a scan to the profiler, which says so in a warning: expected,
	# not a fault (test_predict checks it).
	bad=$(grep -nE '^dfabric [0-9:.]+ (emerg|alert|crit|error|warning):' "$DF_LOG" |
		grep -v 'treating it as a scan' || true)
	if [[ -n $bad ]]; then
		echo "$bad" >&2
		fail "error or warning lines in the daemon log (set DF_ALLOW_LOG_ERRORS=1 if expected)"
	fi
}

# df_umount: unmount, wait for the daemon, check its status and log.
df_umount()
{
	local i out

	[[ -n ${DF_PID:-} ]] || fail "df_umount: no daemon started"
	for ((i = 0; i < 50; i++)); do
		if out=$(fusermount3 -u "$DF_MNT" 2>&1); then
			break
		fi
		if [[ $out != *"busy"* ]]; then
			echo "$out" >&2
			df_log_tail
			fail "df_umount: fusermount3 -u $DF_MNT failed"
		fi
		sleep 0.1
	done
	((i < 50)) || fail "df_umount: $DF_MNT still busy after 5 s"
	if ! df_wait_exit 10; then
		df_log_tail
		fail "df_umount: daemon $DF_PID still running 10 s after unmount"
	fi
	DF_PID=
	# A sanitizer report makes the status non-zero: the whole report,
	# stacks included, rather than its last lines.
	if [[ $DF_STATUS != 0 ]] &&
	   ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$DF_LOG"; then
		df_log_tail
		fail "df_umount: the daemon exited with status $DF_STATUS"
	fi
	df_check_log
	[[ $DF_STATUS == 0 ]] || fail "df_umount: the daemon exited with status $DF_STATUS"
}

# df_kill9: crash the daemon and clear the dead mount so that it can be
# mounted again.
df_kill9()
{
	[[ -n ${DF_PID:-} ]] || fail "df_kill9: no daemon started"
	kill -9 "$DF_PID" 2>/dev/null || true
	df_wait_exit 10 || fail "df_kill9: daemon $DF_PID survived SIGKILL"
	DF_PID=
	echo "dfabric: killed with SIGKILL (status $DF_STATUS)" >>"$DF_LOG"
	if df_is_mounted; then
		fusermount3 -uz "$DF_MNT" 2>/dev/null || umount -l "$DF_MNT" ||
			fail "df_kill9: cannot detach $DF_MNT"
	fi
}

# df_fsx_parallel DIR REFDIR OPS SEED...: one fsx ($B/tests/fsx) per
# seed, concurrently, each on its own file, each bounded by
# ${FSX_TIMEOUT:-120} s and pinned to CPU $FSX_CPU if that is set; fails
# with the log of every failed run.
df_fsx_parallel()
{
	local dir=$1 ref=$2 ops=$3 s bad=0 fsx=$B/tests/fsx
	local -A pids=()
	shift 3

	for s in "$@"; do
		${FSX_CPU:+taskset -c "$FSX_CPU"} timeout -k 5 "${FSX_TIMEOUT:-120}" \
			"$fsx" -N "$ops" -S "$s" \
			"$dir/fsx.$s" "$ref/fsx.$s" >"$T/fsx.$s.out" 2>&1 &
		pids[$s]=$!
	done
	for s in "$@"; do
		local rc=0

		wait "${pids[$s]}" || rc=$?
		cat "$T/fsx.$s.out"
		if [[ $rc != 0 ]]; then
			echo "fsx seed $s exited with status $rc$( ((rc == 124)) && echo ' (timeout)')" >&2
			bad=1
		fi
	done
	((bad == 0)) || fail "fsx found a difference (see above; reproduce with $fsx -N $ops -S SEED FILE REF)"
}

# df_trap_exit CMD: the EXIT trap runs CMD (a test's own cleanup; its
# failures are ignored), then df_cleanup with the test's exit status. A
# trap written as 'CMD; df_cleanup' under set -e ends at the first failing
# command and never reaches df_cleanup (mounts and the S3 server left
# behind), and gives df_cleanup the status of CMD.
df_trap_exit()
{
	DF_EXIT_CMD=$1
	trap '__df_rc=$?; set +e; eval "$DF_EXIT_CMD"; (exit "$__df_rc"); df_cleanup' EXIT
}

# df_cleanup: the EXIT trap; safe to call more than once.
df_cleanup()
{
	local rc=$?

	if df_is_mounted; then
		fusermount3 -uz "$DF_MNT" 2>/dev/null ||
			umount -l "$DF_MNT" 2>/dev/null || true
	fi
	if df_alive; then
		kill -TERM "$DF_PID" 2>/dev/null || true
		if ! df_wait_exit 5; then
			kill -KILL "$DF_PID" 2>/dev/null || true
			df_wait_exit 5 || true
		fi
	fi
	DF_PID=
	df_s3_stop
	if [[ $rc != 0 && $rc != 77 && -n ${DF_LOG:-} && -s $DF_LOG ]]; then
		df_log_tail 60
	fi
	if [[ -n ${T:-} && -d $T ]]; then
		if [[ ${DF_KEEP:-0} == 1 ]]; then
			echo "kept $T" >&2
		elif df_is_mounted; then
			echo "not removing $T: $DF_MNT is still mounted" >&2
		else
			rm -rf --one-file-system "$T" || true
		fi
	fi
	return 0
}

# df_ctl ARGS: the admin tool on this test's config.
df_ctl()
{
	"$B/dfabric-ctl" -c "$DF_CONF" "$@"
}

# json_get JSON EXPR: prints EXPR evaluated on the parsed JSON `d`.
json_get()
{
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(eval(sys.argv[2]))' "$1" "$2"
}

# tiers_of FILE: the distinct tiers of FILE's extents, sorted.
tiers_of()
{
	df_ctl --json where "$1" | python3 -c '
import json, sys
print(" ".join(sorted({e["tier"] for e in json.load(sys.stdin)["extents"]})))'
}

# df_quiet: waits (bounded, 10 s) until the profiler has no access left
# to fold (the promotions it asks for are queued by then) and then no
# migration job is pending or running.
df_quiet()
{
	local i q

	for ((i = 0; i < 100; i++)); do
		q=$(df_ctl status --json | python3 -c '
import json, sys
print(json.load(sys.stdin).get("profiler", {}).get("queued", 0))') ||
			fail "status --json failed"
		if [[ $q == 0 ]]; then
			df_ctl jobs | grep -qE 'pending|copying|verifying' || return 0
		fi
		sleep 0.1
	done
	fail "profiler or jobs still busy after 10 s: queued $q; $(df_ctl jobs)"
}

# df_to_hdd FILE: moves FILE to hdd and waits for it.
df_to_hdd()
{
	df_ctl migrate "$1" --to hdd --wait >/dev/null 2>&1 ||
		fail "migrate $1 to hdd failed"
	assert_eq "$(tiers_of "$1")" hdd "$1 after migrate --to hdd"
}

# df_read_direct FILE: reads FILE whole with O_DIRECT (every read reaches the
# daemon).
df_read_direct()
{
	dd if="$1" of=/dev/null bs=256K iflag=direct status=none ||
		fail "O_DIRECT read of $1 failed"
}
