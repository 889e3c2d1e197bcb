#!/bin/sh
# kat_suite.sh BUILD_DIR SECONDS EXPECT_FAIL_LIST CASE...: the known-answer suite (issue 14 part 5)
# in one multi-node guest. Every CASE (firsttouch-bug firsttouch-fix bind-local bind-half
# bind-remote handoff triad hopper) runs with kernel.numa_balancing=0 and =1, each without and
# with `record --agent` ($KAT_MODES overrides the list of BALANCING:plain|agent pairs), as
#   numa-analyze record -o rec.json -- PROGRAM --seconds SECONDS
#   numa-analyze report rec.json --format json -o report.json
# and then kat_check judges every run against the truth the program printed (see kat_check.cpp;
# EXPECT_FAIL_LIST is tests/vm/kat_known_wrong.txt). Exit: kat_check's status, 1 when a step failed.
# Every step is bounded by `timeout`, so a stuck step is a FAIL line, never a hung guest.
B=$1; S=$2; LIST=$3; shift 3
A="$B/numa-analyze"
P="$B/tests/programs"
MODES=${KAT_MODES:-"0:plain 0:agent 1:plain 1:agent"}
nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
balancing_at_boot=$(cat /proc/sys/kernel/numa_balancing)
status=0
dirs=
program() {
  case $1 in
    firsttouch-bug) echo "$P/kat_firsttouch bug" ;;
    firsttouch-fix) echo "$P/kat_firsttouch fix" ;;
    bind-local|bind-half|bind-remote) echo "$P/kat_bind ${1#bind-}" ;;
    handoff) echo "$P/kat_handoff" ;;
    triad) echo "$P/kat_triad" ;;
    hopper) echo "$P/kat_hopper" ;;
    *) return 1 ;;
  esac
}
t_start=$(date +%s)
for mode in $MODES; do
  balancing=${mode%%:*}; how=${mode#*:}
  echo "$balancing" > /proc/sys/kernel/numa_balancing || { echo "FAIL cannot set numa_balancing=$balancing"; status=1; continue; }
  for c in "$@"; do
    cmd=$(program "$c") || { echo "FAIL unknown case '$c'"; status=1; continue; }
    d=/tmp/kat/$c.b$balancing.$how
    rm -rf "$d"; mkdir -p "$d"
    agent=0; flag=
    [ "$how" = agent ] && { agent=1; flag=--agent; }
    echo "case=$c nodes=$nodes balancing=$balancing agent=$agent" > "$d/run.txt"
    t0=$(date +%s)
    # $cmd unquoted: the program and its mode word
    timeout -s KILL $((${S%.*} + 90)) "$A" record $flag -o "$d/rec.json" -- $cmd --seconds "$S" > "$d/truth.txt" 2> "$d/record.err"
    rc=$?
    [ $rc -ne 0 ] && { echo "FAIL $c balancing=$balancing $how: record exited $rc:"; tail -5 "$d/record.err"; status=1; }
    if [ -s "$d/rec.json" ] && ! timeout -s KILL 60 "$A" report "$d/rec.json" --format json -o "$d/report.json" 2> "$d/report.err"; then
      echo "FAIL $c balancing=$balancing $how: report failed:"; cat "$d/report.err"; status=1
    fi
    [ -f "$d/report.json" ] && [ "$(wc -c < "$d/report.json")" -lt 100 ] &&
      echo "FAIL $c balancing=$balancing $how: report exited 0 but wrote $(wc -c < "$d/report.json") bytes: $(head -c 80 "$d/report.json")"
    echo "      $c balancing=$balancing $how: $(grep -o 'remote_share=[0-9.]*' "$d/truth.txt") in $(($(date +%s) - t0)) s"
    rm -f "$d/rec.json"   # the guest's /tmp is RAM
    dirs="$dirs $d"
  done
done
echo "$balancing_at_boot" > /proc/sys/kernel/numa_balancing
echo "      suite: $(($(date +%s) - t_start)) s for $(echo $dirs | wc -w) runs on $nodes nodes"
# shellcheck disable=SC2086  # one word per run directory
timeout -s KILL 60 "$B/tests/vm/kat_check" --expect-fail-list "$LIST" $dirs || status=1
exit $status
