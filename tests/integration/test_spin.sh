#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -o spin_us: while lookups come one after another within spin_us, the
# leader polls /dev/fuse between them instead of sleeping in read(2);
# once they stop it sleeps again. A client looks up new names one after
# another for 1.5 s. With spin_us=0 the daemon's threads sleep (voluntary
# context switches) 0.5 to 1 times per lookup here; with spin_us=1000
# they do not sleep between the lookups (0.01 to 0.02 times). Idle
# afterwards, the daemon uses next to no CPU. (test_basic: bad values
# are refused.)
set -euo pipefail
unset DF_TEST_OPTS   # the poll is of /dev/fuse
. "$(dirname "$0")/../lib.sh"

df_setup

# Prints, over a run of lookups, the daemon's voluntary context
# switches per lookup and its CPU seconds per second, then its CPU seconds
# per second over 1 s of idleness: "SLEEPS BUSY IDLE LOOKUPS".
lookups() {
	python3 - "$DF_PID" "$DF_MNT" <<-'EOF'
		import glob, os, sys, time
		pid, mnt = sys.argv[1], sys.argv[2]
		tick = os.sysconf("SC_CLK_TCK")
		def cpu():
		    with open("/proc/%s/stat" % pid) as f:
		        fields = f.read().rsplit(")", 1)[1].split()
		    return (int(fields[11]) + int(fields[12])) / tick
		def sleeps():
		    n = 0
		    for path in glob.glob("/proc/%s/task/*/status" % pid):
		        try:
		            with open(path) as f:
		                for line in f:
		                    if line.startswith("voluntary_ctxt_switches:"):
		                        n += int(line.split()[1])
		        except FileNotFoundError:
		            pass
		    return n
		s0 = sleeps(); c0 = cpu(); t0 = time.monotonic(); i = 0
		while time.monotonic() - t0 < 1.5:
		    try:
		        os.stat("%s/none-%d" % (mnt, i))
		        sys.exit("none-%d exists" % i)
		    except FileNotFoundError:
		        pass
		    i += 1
		busy = (cpu() - c0) / (time.monotonic() - t0)
		per = (sleeps() - s0) / i
		time.sleep(0.2)   # the last poll ends
		c1 = cpu(); t1 = time.monotonic()
		time.sleep(1)
		idle = (cpu() - c1) / (time.monotonic() - t1)
		print("%.2f %.2f %.2f %d" % (per, busy, idle, i))
	EOF
}

df_mount -o spin_us=1000
read -r per busy idle n < <(lookups)
echo "spin_us=1000: $n lookups, $per sleeps per lookup, CPU $busy, idle $idle"
df_umount
df_mount -o spin_us=0
read -r per0 busy0 idle0 n < <(lookups)
echo "spin_us=0: $n lookups, $per0 sleeps per lookup, CPU $busy0, idle $idle0"
df_umount

python3 -c 'import sys; sys.exit(float(sys.argv[1]) > 0.2 or float(sys.argv[1]) > float(sys.argv[2]) / 2)' \
	"$per" "$per0" ||
	fail "sleeps per lookup: $per with spin_us=1000, $per0 with 0"
python3 -c 'import sys; sys.exit(float(sys.argv[1]) > 0.1)' "$idle" ||
	fail "spin_us=1000: the daemon used $idle of a CPU while idle"
