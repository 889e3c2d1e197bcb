#!/bin/sh
# kat_check_test.sh BUILD_DIR: kat_check's verdicts on hand-written runs (truth line + report JSON
# in the shapes the report has or may take): each criterion passes and fails where it should, the
# expect-fail list turns a failure into XFAIL and prints XPASS for a listed case that passes,
# --strict fails on XPASS, and a malformed list line is one error and exit 2.
C="$1/tests/vm/kat_check"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
status=0
run() {   # NAME TRUTH-FIELDS REPORT-JSON
  mkdir -p "$T/$1"
  echo "KAT truth case=$1 $2" > "$T/$1/truth.txt"
  echo "$3" > "$T/$1/report.json"
  echo "case=$1 nodes=2 balancing=0 agent=0" > "$T/$1/run.txt"
}
expect() {   # WANT-EXIT PATTERN DESCRIPTION ARGS...
  want=$1; pattern=$2; what=$3; shift 3
  out=$("$C" "$@" 2>&1); rc=$?
  if [ $rc -eq "$want" ] && echo "$out" | grep -q -- "$pattern"; then echo "ok    $what"
  else echo "FAIL  $what: exit $rc (want $want), output:"; echo "$out"; status=1; fi
}
bug='remote_share=0.500 thread_nodes=0,1 expect=first-touch site=main@prog.cpp:42'
rec='"recommendations":[{"kind":"first-touch","title":"first touch in main (prog.cpp:42)","command":"move the loop"}]'
run near "$bug" "{\"components\":{\"remote_share\":0.52},\"evidence\":{\"confidence\":\"high\"},$rec}"
run off "$bug" "{\"components\":{\"locality\":0.8},\"evidence\":{\"confidence\":\"high\"},$rec}"
run inside "$bug" "{\"components\":{\"remote_share\":{\"value\":0.3,\"interval\":[0.42,0.58]}},\"evidence\":{\"confidence\":\"low\"},$rec}"
run wide "$bug" "{\"components\":{\"remote_share\":0.3,\"details\":{\"locality\":{\"confidence\":\"low\",\"interval\":{\"low\":0.30,\"high\":0.62}}}},$rec}"
run noisy 'remote_share=0.020 thread_nodes=0,1 expect=none site=main@prog.cpp:7' \
  '{"components":{"remote_share":0.03},"evidence":{"confidence":"high"},"recommendations":[{"kind":"colocate","title":"t","command":""}]}'
run bound "$bug" '{"components":{"remote_share":0.5},"evidence":{"confidence":"high"},"recommendations":[{"kind":"first-touch","title":"prog.cpp:42","command":"numactl --cpunodebind=0 --membind=0 -- ./prog"}]}'
run nosite "$bug" '{"components":{"remote_share":0.5},"evidence":{"confidence":"high"},"recommendations":[{"kind":"first-touch","title":"prog+0x1234","command":""}]}'

expect 0 '^near .* PASS' "within 0.05 of the truth, right kind and site: PASS" "$T/near"
expect 1 'FAIL  share: reported 0.200, truth 0.500' "1 - locality 0.8 against truth 0.5: share fails" "$T/off"
expect 0 '^inside .*\[0.42,0.58\] .* PASS' "low confidence, truth inside a 0.16-wide interval: PASS" "$T/inside"
expect 1 'FAIL  share: confidence low and the interval \[0.380, 0.700\] is wider than 0.20' \
  "a locality interval, mirrored, 0.32 wide does not excuse a miss" "$T/wide"
expect 1 'FAIL  quiet: 1 recommendation' "a well-placed run with a recommendation fails quiet" "$T/noisy"
expect 1 'FAIL  binding: threads ran on nodes 0,1, yet: numactl --cpunodebind=0' "a single-node binding for a 2-node program fails" "$T/bound"
expect 1 'FAIL  site: top recommendation does not name prog.cpp:42' "an address instead of file:line fails site" "$T/nosite"
printf '# known\noff/* share the estimate is off\nnear/* share listed though it passes\n' > "$T/list"
expect 0 'XFAIL share: .*(known: the estimate is off)' "a listed failure is XFAIL and the run does not fail" --expect-fail-list "$T/list" "$T/off"
expect 0 'XPASS share: listed at .*list:3 but passes now' "a listed case that passes is printed as XPASS" --expect-fail-list "$T/list" "$T/near"
expect 1 'XPASS' "--strict fails on XPASS" --strict --expect-fail-list "$T/list" "$T/near"
printf 'off/* sharing oops\n' > "$T/bad"
expect 2 "bad:1: want 'CASE/nN/bB/agent|plain CRITERION REASON'" "a malformed list line is one error, exit 2" --expect-fail-list "$T/bad" "$T/off"
mkdir -p "$T/empty"; echo "case=empty nodes=2 balancing=1 agent=1" > "$T/empty/run.txt"
expect 1 'FAIL  run: the program printed no KAT truth line' "a run without truth or report fails" "$T/empty"
exit $status
