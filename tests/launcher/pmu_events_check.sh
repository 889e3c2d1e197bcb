#!/usr/bin/env bash
# pmu_events_check.sh PROBE CHECK_EVENTS MODEL LOCAL_EVENT REMOTE_EVENT
# Forces libpfm to MODEL, and checks that os::dram_locality_events() (through PROBE) encodes the
# two events exactly as libpfm4's own example check_events does. check_events prints the raw
# PERFEVTSEL value, which also holds the bits the kernel sets itself for a perf event (USR, OS,
# INT, EN); the kernel honours only X86_RAW_EVENT_MASK of a PERF_TYPE_RAW config (event select
# 0-7 and 32-35, unit mask 8-15, edge 18, invert 23, counter mask 24-31), so compare those bits
# and require that the config holds no others.
set -euo pipefail
probe=$1 check_events=$2 model=$3 local_event=$4 remote_event=$5
readonly PERF_TYPE_RAW=4 X86_RAW_EVENT_MASK=$((0x0000000FFF84FFFF))
out=$(LIBPFM_FORCE_PMU=$model "$probe")
echo "$out"
grep -qx "pmu=$model" <<<"$out" || { echo "FAIL: probe did not pick $model"; exit 1; }
status=0
for which in local remote; do
  event=$local_event; [[ $which == remote ]] && event=$remote_event
  line=$(grep "^$which " <<<"$out")
  type=$(sed -n 's/.* type=\([0-9]*\) .*/\1/p' <<<"$line")
  config=$(sed -n 's/.* config=\(0x[0-9a-f]*\) .*/\1/p' <<<"$line")
  codes=$(LIBPFM_FORCE_PMU=$model "$check_events" "$model::$event" | sed -n 's/^Codes *: *\(0x[0-9a-f]*\).*/\1/p')
  [[ -n $codes ]] || { echo "FAIL: check_events cannot encode $model::$event"; status=1; continue; }
  expected=$(printf '0x%x' $((codes & X86_RAW_EVENT_MASK)))
  if [[ $type == "$PERF_TYPE_RAW" && $config == "$expected" ]]; then
    echo "ok    $which $model::$event: type $type config $config (check_events $codes)"
  else
    echo "FAIL  $which $model::$event: type $type config $config, check_events $codes -> expected type $PERF_TYPE_RAW config $expected"
    status=1
  fi
done
exit $status
