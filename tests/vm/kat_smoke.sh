#!/bin/sh
# kat_smoke.sh BUILD_DIR: on the host (any number of nodes), every known-answer program runs for
# a moment, exits 0 and prints its KAT truth line with a remote share in [0, 1], its expected
# action and a site in its own source file; bad arguments are one line and exit 2.
B=$1
P="$B/tests/programs"
status=0
check_case() {   # CASE SOURCE PROGRAM ARGS...
  c=$1; src=$2; shift 2
  out=$("$@" --seconds 0.3 --mib 8 2>&1); rc=$?
  line=$(echo "$out" | grep "^KAT truth case=$c ")
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    echo "FAIL $c: exit $rc, no 'KAT truth case=$c' line:"; echo "$out"; status=1; return
  fi
  share=$(echo "$line" | sed -n 's/.* remote_share=\([0-9.]*\) .*/\1/p')
  if ! awk -v s="$share" 'BEGIN { exit !(s != "" && s >= 0 && s <= 1) }' ||
     ! echo "$line" | grep -q " expect=[a-z,-]* " || ! echo "$line" | grep -q " site=[A-Za-z_][A-Za-z0-9_.]*@$src:[1-9][0-9]*$"; then
    echo "FAIL $c: malformed truth line: $line"; status=1; return
  fi
  echo "ok   $line"
}
check_case firsttouch-bug kat_firsttouch.cpp "$P/kat_firsttouch" bug
check_case firsttouch-fix kat_firsttouch.cpp "$P/kat_firsttouch" fix
for m in local half remote; do check_case bind-$m kat_bind.cpp "$P/kat_bind" $m; done
check_case handoff kat_handoff.cpp "$P/kat_handoff"
check_case hopper kat_hopper.cpp "$P/kat_hopper"
[ -x "$P/kat_triad" ] && check_case triad kat_triad.cpp "$P/kat_triad"
for bad in "kat_firsttouch sideways" "kat_bind local --seconds -1" "kat_hopper --mib 0"; do
  err=$($P/$bad 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 2 ] || [ "$(echo "$err" | wc -l)" -ne 1 ]; then
    echo "FAIL '$bad': want exit 2 and one line, got $rc: $err"; status=1
  else
    echo "ok   '$bad' -> $err"
  fi
done
exit $status
