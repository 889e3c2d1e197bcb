#!/bin/sh
# guest_checks.sh: runs inside a numa-vm guest (busybox sh) and performs several checks in one boot.
#
#   guest_checks.sh BUILD_DIR STEP [STEP...]
#   steps:
#     kernel                      NUMA balancing can be switched on; numa_maps and the hint-fault
#                                 counters exist; move_pages finds each node's first-touched page
#     topology NODE_CPUS DIST     the agent's profile shows these nodes ("0-1/2-3") and this
#                                 SLIT ("10,21/21,10"; "-" to skip the distance check)
#     pin POLICY EXPECTED_CPUS    under NUMA_AGENT_PIN=POLICY, thread ordinal k runs on, and is
#                                 allowed only, CPU k of EXPECTED_CPUS ("0,2,1,3")
#     locality                    arena_locality without the agent (must be remote: the scenario
#                                 holds) and with it (must be >= 99 % local; 20000 and 2000 blocks)
#     unharmed                    programs behave the same with the agent as without it
# Every step runs even if an earlier one failed; the exit status is 1 if any failed.
set -u
build=$1
shift
agent=$build/libnumaagent.so
thread_report=$build/tests/programs/thread_report
pthread_semantics=$build/tests/programs/pthread_semantics
vm_check=$build/tests/vm/vm_check
arena_locality=$build/tests/vm/arena_locality
failed=""

fail() {
  echo "FAIL $step: $*"
  case "$failed" in
    *"[$step]"*) ;;
    *) failed="$failed [$step]" ;;
  esac
}

need() {  # the files a step needs; a missing one fails the step with its name
  for f in "$@"; do
    [ -e "$f" ] || { fail "missing $f (not built?)"; return 1; }
  done
}

step_kernel() {
  echo 1 >/proc/sys/kernel/numa_balancing 2>/dev/null
  value=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null)
  [ "$value" = 1 ] && echo "ok   numa_balancing can be switched on" || fail "numa_balancing reads '$value' after writing 1"
  grep -q '^numa_hint_faults ' /proc/vmstat && grep -q '^numa_hint_faults_local ' /proc/vmstat &&
    echo "ok   /proc/vmstat has numa_hint_faults and numa_hint_faults_local" ||
    fail "/proc/vmstat lacks the numa_hint_faults counters"
  grep -q ' N[0-9]*=' /proc/self/numa_maps &&
    echo "ok   /proc/self/numa_maps shows page counts per node" || fail "/proc/self/numa_maps has no N<node>= fields"
  grep -q 'numa_faults\|total_numa_faults\|numa_preferred_nid' /proc/self/sched &&
    echo "ok   /proc/self/sched has NUMA fault fields" || fail "/proc/self/sched has no NUMA fields"
  need "$vm_check" || return
  "$vm_check" first-touch || fail "move_pages does not report first-touched pages on their node"
}

step_topology() {
  need "$agent" "$thread_report" "$vm_check" || return
  rm -f /tmp/topology.json
  LD_PRELOAD=$agent NUMA_AGENT_PROFILE=/tmp/topology.json "$thread_report" --threads 3 >/tmp/topology.out 2>&1 ||
    { cat /tmp/topology.out; fail "thread_report exited non-zero under the agent"; return; }
  if [ "$2" = - ]; then
    "$vm_check" topology --profile /tmp/topology.json --node-cpus "$1" || fail "topology differs"
  else
    "$vm_check" topology --profile /tmp/topology.json --node-cpus "$1" --distances "$2" || fail "topology differs"
  fi
}

step_pin() {
  need "$agent" "$thread_report" "$vm_check" || return
  threads=$(($(echo "$2" | tr ',' '\n' | grep -c .) - 1))
  rm -f /tmp/pin.json
  LD_PRELOAD=$agent NUMA_AGENT_PIN=$1 NUMA_AGENT_PROFILE=/tmp/pin.json \
    "$thread_report" --threads "$threads" >/tmp/pin.out 2>&1
  rc=$?
  cat /tmp/pin.out
  [ $rc = 0 ] || fail "thread_report exited $rc under NUMA_AGENT_PIN=$1"
  "$vm_check" placement --report /tmp/pin.out --expect-cpus "$2" || fail "placement differs for NUMA_AGENT_PIN=$1"
  "$vm_check" profile-threads --profile /tmp/pin.json --expect-cpus "$2" ||
    fail "profile thread records differ for NUMA_AGENT_PIN=$1"
}

step_locality() {
  need "$agent" "$arena_locality" || return
  "$arena_locality" --label without-agent --expect remote --min-fraction 0.9 ||
    fail "without the agent B's blocks are not remote: the scenario does not hold on this guest"
  LD_PRELOAD=$agent NUMA_AGENT_PROFILE=/tmp/locality.json \
    "$arena_locality" --label with-agent --expect local --min-fraction 0.99 ||
    fail "with the agent B's blocks are not >= 99 % on B's node"
  pools=$(grep -A3 '"pools"' /tmp/locality.json 2>/dev/null | tr -d ' \n')
  echo "     with-agent profile pools section starts: $pools"
  # Fewer blocks: B reuses A's heap with A's freed blocks still listed and A's last move fresh;
  # B must still leave it at its first refill after pinning itself.
  LD_PRELOAD=$agent "$arena_locality" --label with-agent-2000 --blocks 2000 --hint-seconds 0 \
    --expect local --min-fraction 0.99 ||
    fail "with the agent and 2000 blocks B's blocks are not >= 99 % on B's node"
}

step_unharmed() {
  need "$agent" "$thread_report" "$pthread_semantics" || return
  "$thread_report" --threads 4 >/tmp/plain.out 2>&1 || fail "thread_report fails without the agent"
  LD_PRELOAD=$agent "$thread_report" --threads 4 >/tmp/agent.out 2>&1 || fail "thread_report fails under the agent"
  plain=$(grep -c '^thread ordinal=' /tmp/plain.out)
  with=$(grep -c '^thread ordinal=' /tmp/agent.out)
  [ "$plain" = 5 ] && [ "$with" = 5 ] && echo "ok   thread_report: 5 thread lines without and with the agent" ||
    fail "thread_report printed $plain lines without and $with with the agent (expected 5)"
  if LD_PRELOAD=$agent "$pthread_semantics" >/tmp/sem.out 2>&1; then
    echo "ok   pthread_semantics passes under the agent ($(grep -c '^ok' /tmp/sem.out) checks)"
  else
    cat /tmp/sem.out
    fail "pthread_semantics fails under the agent"
  fi
  LD_PRELOAD=$agent NUMA_AGENT_PIN=bogus "$thread_report" --threads 1 >/tmp/bad.out 2>&1 ||
    fail "a bad NUMA_AGENT_PIN breaks the program"
  grep -q 'NUMA_AGENT_PIN' /tmp/bad.out && echo "ok   a bad NUMA_AGENT_PIN gives a warning and the program runs" ||
    fail "a bad NUMA_AGENT_PIN gave no warning"
}

args_needed() {  # step name, argument count, arguments left
  [ "$3" -gt "$2" ] && return 0
  fail "needs $2 argument(s)"
  return 1
}

while [ $# -gt 0 ]; do
  step=$1
  case $1 in
    kernel) echo "== kernel"; step_kernel; shift ;;
    topology)
      args_needed topology 2 $# || break
      echo "== topology nodes=$2 distances=$3"; step_topology "$2" "$3"; shift 3 ;;
    pin)
      args_needed pin 2 $# || break
      step="pin $2"; echo "== pin NUMA_AGENT_PIN=$2 expecting cpus $3"; step_pin "$2" "$3"; shift 3 ;;
    locality) echo "== locality"; step_locality; shift ;;
    unharmed) echo "== unharmed"; step_unharmed; shift ;;
    *) fail "unknown step '$1'"; shift ;;
  esac
done
if [ -n "$failed" ]; then
  echo "FAILED steps:$failed"
  exit 1
fi
echo "all steps passed"
