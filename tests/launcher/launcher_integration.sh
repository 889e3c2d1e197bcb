#!/usr/bin/env bash
# launcher_integration.sh CASE LAUNCHER THREAD_REPORT: one behaviour of numa-agent on this machine.
# Exit 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE).
set -uo pipefail
case_name=$1 launcher=$2 thread_report=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Cpus_allowed_list "0-2,5" -> "0 1 2 5"
expand_list() {
  local out=() part
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then out+=($(seq "${part%-*}" "${part#*-}")); else out+=("$part"); fi
  done
  echo "${out[@]}"
}
allowed=$(expand_list "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)")

case $case_name in
  pins_every_thread)
    [[ " $allowed " == *" 1 "* ]] || { echo "CPU 1 is not allowed here ($allowed)"; exit 77; }
    "$launcher" -c 1 -- "$thread_report" --threads 4 >"$scratch/out" || fail "thread_report exited $?"
    cat "$scratch/out"
    [[ $(grep -c '^thread ordinal=' "$scratch/out") == 5 ]] || fail "expected 5 thread lines (main + 4)"
    bad=$(grep '^thread ordinal=' "$scratch/out" | grep -v ' cpu=1 .* allowed=1$' || true)
    [[ -z $bad ]] || fail "threads not pinned to CPU 1: $bad"
    ;;
  preload_appended)
    other=$(ldconfig -p | sed -n 's/^[[:space:]]*libm\.so\.6 .*x86-64.*=> //p' | head -1)
    [[ -n $other ]] || fail "no libm.so.6 to preload"
    LD_PRELOAD=$other "$launcher" -- sh -c 'printf "%s\n" "$LD_PRELOAD"; cat /proc/$$/maps' >"$scratch/out" || fail "exit $?"
    first=$(head -1 "$scratch/out")
    echo "LD_PRELOAD in the command: $first"
    [[ $first == "$other:"*/libnumaagent.so ]] || fail "LD_PRELOAD is '$first', expected '$other:<dir>/libnumaagent.so'"
    grep -q '/libnumaagent\.so$' "$scratch/out" || fail "the agent is not mapped in the command"
    grep -q "$(readlink -f "$other")\$\|$other\$" "$scratch/out" || fail "the preexisting preload is not mapped"
    ;;
  bad_flag_exits_2_command_not_run)
    for args in "--frobnicate" "-c Q:0" "-c 4096" "-c 64" "-c M7:0" "-s zz" "--bind socket" "-c"; do
      # shellcheck disable=SC2086
      "$launcher" $args -- touch "$scratch/ran" 2>"$scratch/err"
      rc=$?
      [[ $rc == 2 ]] || fail "'$args': exit $rc, expected 2"
      [[ ! -e $scratch/ran ]] || fail "'$args': the command ran"
      grep -q '^numa-agent: ' "$scratch/err" || fail "'$args': no 'numa-agent:' message"
      echo "ok '$args' -> 2: $(head -1 "$scratch/err")"
    done
    usage=$("$launcher" --frobnicate -- true 2>&1)
    grep -q '^usage: numa-agent' <<<"$usage" || fail "no usage on a bad flag"
    ;;
  exit_status_passed_through)
    "$launcher" -- sh -c 'exit 7'; rc=$?
    [[ $rc == 7 ]] || fail "exit status $rc, expected 7"
    "$launcher" -q -- sh -c 'kill -TERM $$' 2>/dev/null; rc=$?
    [[ $rc == 143 ]] || fail "killed command: $rc, expected 143 (the shell's 128+SIGTERM)"
    "$launcher" -- /nonexistent/prog 2>"$scratch/err"; rc=$?
    [[ $rc == 127 ]] && grep -q 'nonexistent/prog' "$scratch/err" || fail "missing command: $rc, expected 127 and its name"
    pools=$("$launcher" -q --no-pools --bind node -- sh -c 'echo "$NUMA_AGENT_LOG $NUMA_AGENT_POOLS $NUMA_AGENT_BIND"')
    [[ $pools == "error 0 node" ]] || fail "flags as environment: '$pools'"
    echo "ok: 7, 143, 127; -q --no-pools --bind node -> '$pools'"
    ;;
  print_domains_lists_this_machine)
    "$launcher" -p >"$scratch/out" || fail "-p exited $?"
    cat "$scratch/out"
    listed=$(sed -n '/^Domain N:/{n;p}' "$scratch/out" | tr -d '\t' | tr , '\n' | sort -n | xargs)
    [[ $listed == "$(tr ' ' '\n' <<<"$allowed" | sort -n | xargs)" ]] || fail "Domain N lists '$listed', allowed CPUs are '$allowed'"
    nodes_with_cpus=$(cat /sys/devices/system/node/node[0-9]*/cpulist | grep -c .)
    [[ $(grep -c '^Domain M' "$scratch/out") == "$nodes_with_cpus" ]] || fail "expected $nodes_with_cpus M domains"
    first=${allowed%% *}
    restricted=$(taskset -c "$first" "$launcher" -p | sed -n '/^Domain N:/{n;p}' | tr -d '\t')
    [[ $restricted == "$first" ]] || fail "under taskset -c $first, Domain N is '$restricted'"
    ;;
  print_domains_matches_likwid_pin)
    command -v likwid-pin >/dev/null || { echo "likwid-pin not installed (Debian package likwid)"; exit 77; }
    "$launcher" -p >"$scratch/ours" || fail "-p exited $?"
    # likwid also lists cache (C) and die (D) domains, which the agent does not support.
    likwid-pin -p 2>/dev/null | awk '/^Domain [CD][0-9]*:/ { skip = 1; next } /^Domain / { skip = 0 } !skip' >"$scratch/likwid"
    diff "$scratch/likwid" "$scratch/ours" || fail "numa-agent -p differs from likwid-pin -p (N, S, M domains)"
    cat "$scratch/ours"
    ;;
  *) fail "unknown case $case_name" ;;
esac
echo "ok $case_name"
