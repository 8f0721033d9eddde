#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -o spin_us: while lookups come one after another within spin_us, the
# leader polls /dev/fuse between them instead of sleeping, and so uses
# CPU for the time between them; once they stop it sleeps again. A client
# looks up a new name every ~0.3 ms for 1.5 s: with spin_us=1000 the
# daemon uses a third of a CPU or more (all of one on a quiet machine),
# with spin_us=0 under half as much; idle afterwards, it uses next to
# none. Bad values are refused.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

df_setup

# Prints the daemon's CPU seconds (user + system) over a paced run of
# lookups, then over 1 s of idleness: "BUSY IDLE".
paced_cpu() {
	python3 - "$DF_PID" "$DF_MNT" <<-'EOF'
		import os, sys, time
		pid, mnt = sys.argv[1], sys.argv[2]
		tick = os.sysconf("SC_CLK_TCK")
		def cpu():
		    with open("/proc/%s/stat" % pid) as f:
		        fields = f.read().rsplit(")", 1)[1].split()
		    return (int(fields[11]) + int(fields[12])) / tick
		c0 = cpu(); t0 = time.monotonic(); i = 0
		while time.monotonic() - t0 < 1.5:
		    try:
		        os.stat("%s/none-%d" % (mnt, i))
		        sys.exit("none-%d exists" % i)
		    except FileNotFoundError:
		        pass
		    i += 1
		    time.sleep(0.0003)
		busy = (cpu() - c0) / (time.monotonic() - t0)
		time.sleep(0.2)   # the last poll ends
		c1 = cpu(); t1 = time.monotonic()
		time.sleep(1)
		idle = (cpu() - c1) / (time.monotonic() - t1)
		print("%.2f %.2f %d" % (busy, idle, i))
	EOF
}

df_mount -o spin_us=1000
read -r busy idle n < <(paced_cpu)
echo "spin_us=1000: $n lookups, daemon CPU $busy of the time, idle $idle"
python3 -c 'import sys; sys.exit(float(sys.argv[1]) < 0.3)' "$busy" ||
	fail "spin_us=1000: the daemon used $busy of a CPU between paced lookups"
python3 -c 'import sys; sys.exit(float(sys.argv[1]) > 0.1)' "$idle" ||
	fail "spin_us=1000: the daemon used $idle of a CPU while idle"
df_umount

df_mount -o spin_us=0
read -r busy0 idle0 n < <(paced_cpu)
echo "spin_us=0: $n lookups, daemon CPU $busy0 of the time, idle $idle0"
python3 -c 'import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]) / 2)' \
	"$busy0" "$busy" ||
	fail "spin_us=0: the daemon used $busy0 of a CPU (spin_us=1000: $busy)"
df_umount

for o in spin_us=-1 spin_us=1001 spin_us=5x; do
	rc=0
	out=$(timeout 10 "$B/dfabric" "$DF_CONF" "$DF_MNT" -f -o "$o" 2>&1) || rc=$?
	assert_eq "$rc" 2 "exit status with -o $o"
	[[ $out == *"-o $o: expected a number from 0 to 1000"* ]] || fail "-o $o: $out"
	if mountpoint -q "$DF_MNT"; then fail "-o $o: mounted"; fi
done

