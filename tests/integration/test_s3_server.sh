#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The S3 test harness and the daemon's checks of an s3 tier's config:
# DF_S3=1 starts the test server and adds [tier.s3]; the server can be
# stopped and started again on its port; the daemon refuses a credentials
# file that others may read, naming the file, the line and the tier, and
# never prints the secret.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

# http_get PATH: the server's answer to an unsigned GET (bounded).
http_get()
{
	timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$DF_S3_PORT"' &&
		printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$1" >&3 &&
		cat <&3' _ "$1"
}

listening()
{
	(exec 3<>"/dev/tcp/127.0.0.1/$DF_S3_PORT") 2>/dev/null
}

DF_S3=1
df_setup
grep -q '^\[tier.s3\]$' "$DF_CONF" || fail "no [tier.s3] in $DF_CONF"
grep -q "^endpoint = 127.0.0.1:$DF_S3_PORT\$" "$DF_CONF" || fail "endpoint not in the config"
assert_eq "$(stat -c %a "$T/s3.creds")" 600 "mode of the credentials file"
pid=$(cat "$DF_S3_DIR/pid")
kill -0 "$pid" || fail "no server process $pid"
out=$(http_get /dfabric)
[[ $out == *"<ListBucketResult"* && $out == *"<Name>dfabric</Name>"* ]] ||
	fail "the bucket dfabric does not answer a listing: $out"

# The port lies below the kernel's ephemeral range: a readiness probe to a
# port inside it can connect to itself and report a server that is not
# there (a daemon then failed to mount on "cannot connect").
read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
((DF_S3_PORT < lo)) || fail "port $DF_S3_PORT is in the ephemeral range (from $lo)"
# and start's readiness check wants an HTTP answer, not just a connection
http_get / | head -1 | grep -q '^HTTP/' || fail "no HTTP answer on $DF_S3_PORT"

# stop: the process is gone and the port closed; start: the same port
df_s3_stop
! kill -0 "$pid" 2>/dev/null || fail "server $pid still running after stop"
! listening || fail "port $DF_S3_PORT still open after stop"
[[ ! -e $DF_S3_DIR/pid ]] || fail "pid file left behind"
port=$DF_S3_PORT
df_s3_start
assert_eq "$DF_S3_PORT" "$port" "port after a restart"
listening || fail "not listening again"

# A PUT is answered only once its object is written (tests/s3rver-put.js):
# s3rver's own store could answer first, and a HEAD right after the PUT,
# as the migrator's read-back of a new copy does, then found a short
# object ("no footer"). With every file write 100 ms late
# (tests/helpers/slow-writes.js), a HEAD right after each PUT, on the same
# connection, must give the whole length.
df_s3_stop
export NODE_OPTIONS="--require $DF_ROOT/tests/helpers/slow-writes.js"
df_s3_start
unset NODE_OPTIONS
timeout 60 node -e '
const http = require("http");
const crypto = require("crypto");
const port = Number(process.argv[1]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = crypto.randomBytes(1 << 20);

function call(method, key, data) {
	return new Promise((resolve, reject) => {
		const rq = http.request({ host: "127.0.0.1", port, method, agent,
			path: "/dfabric/" + key,
			headers: data ? { "content-length": data.length } : {} },
			(res) => { res.resume(); res.on("end", () => resolve(res)); });
		rq.on("error", reject);
		rq.end(data);
	});
}

(async () => {
	for (const key of ["late-put-1", "late-put-2"]) {
		const put = await call("PUT", key, body);
		if (put.statusCode !== 200)
			throw new Error(key + ": PUT answered " + put.statusCode);
		const n = Number((await call("HEAD", key)).headers["content-length"]);
		if (n !== body.length)
			throw new Error(key + ": HEAD right after the PUT: " + n +
					" bytes of " + body.length);
	}
	agent.destroy();
})().catch((e) => { console.error(e.message); process.exit(1); });
' "$DF_S3_PORT" || fail "the S3 test server answered a PUT before writing the object"

# a credentials file others may read: the daemon refuses to start
chmod 0644 "$T/s3.creds"
line=$(grep -n '^credentials_file' "$DF_CONF" | cut -d: -f1)
rc=0
out=$(timeout 20 "$B/dfabric" "$DF_CONF" "$DF_MNT" -f 2>&1) || rc=$?
echo "$out"
[[ $rc != 0 && $rc != 124 ]] || fail "the daemon started (or hung) with a 0644 credentials file: $rc"
[[ $out == *"$DF_CONF:$line: tier s3: credentials file"* ]] ||
	fail "the message does not name the file, line $line and the tier"
[[ $out == *"mode 0644"* ]] || fail "the message does not give the mode"
[[ $out != *S3RVER* ]] || fail "the message shows a key"
df_is_mounted && fail "mounted anyway"

# no credentials at all: refused, naming the tier and the variables
sed -i '/^credentials_file/d' "$DF_CONF"
rc=0
out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY timeout 20 \
	"$B/dfabric" "$DF_CONF" "$DF_MNT" -f 2>&1) || rc=$?
[[ $rc != 0 && $rc != 124 ]] || fail "the daemon started without credentials"
[[ $out == *"tier s3: no credentials"*AWS_ACCESS_KEY_ID* ]] || fail "unclear message: $out"
echo "test_s3_server: ok"
