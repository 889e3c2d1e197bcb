#!/usr/bin/env bash
# watchdog_test.sh: numa-vm's stall watchdog, from the host side (runs numa-vm itself).
#
#   watchdog_test.sh NUMA_VM BUILD_DIR quiet|one-stall|two-stalls|bad-limit
#
#   quiet       a command silent for 16 s (over 3x a 5 s stall limit) is not killed: one boot, its
#               exact output and status
#   one-stall   the first boot's real QEMU process gets SIGSTOP while the command runs: numa-vm
#               kills it, boots once more, and returns the command's status (3) and its output once
#   two-stalls  both boots' QEMU get SIGSTOP: exit 123 with the "both boots stalled" message
#   bad-limit   NUMA_VM_STALL_S / --stall-limit garbage, 0, negative, too small: one error line, exit 2
#
# The QEMU pids come from NUMA_VM_PID_LOG (numa-vm appends "<boot> <qemu pid>" when a guest's
# command starts). Every QEMU this script stopped is checked to be gone afterwards (and SIGKILLed
# on the way out if it is not).
set -uo pipefail
numa_vm=$1 build=$2 mode=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/watchdog-test.XXXXXX")
stopped=() vm_pid=""
cleanup() {
  local p
  [[ -n $vm_pid ]] && kill "$vm_pid" 2>/dev/null
  for p in "${stopped[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
fail() { echo "FAIL $mode: $*"; failed=1; }
ok() { echo "ok   $mode: $*"; }

stall_s=5
# One line first, a pause long enough to be stopped in, one line last, a status of its own.
cmd=(sh -c 'echo "first line"; sleep 10; echo "second line"; exit 3')

start_vm() {  # numa-vm in the background, output to $tmp/out and $tmp/err
  : >"$tmp/pids"
  NUMA_VM_STALL_S=$stall_s NUMA_VM_PID_LOG=$tmp/pids \
    "$numa_vm" --build "$build" --nodes 2 --cpus 2 --timeout 120 -- "$@" >"$tmp/out" 2>"$tmp/err" &
  vm_pid=$!
  started=$SECONDS
}

finish_vm() {  # sets rc, elapsed
  wait "$vm_pid"; rc=$?
  vm_pid="" elapsed=$((SECONDS - started))
  echo "numa-vm exited $rc after $elapsed s; its stderr:"
  sed 's/^/  | /' "$tmp/err"
}

stop_boot() {  # boot number: wait until its command runs, then SIGSTOP its QEMU 2 s later
  local boot=$1 pid="" state
  while [[ -z $pid ]]; do
    pid=$(awk -v b="$boot" '$1 == b { print $2 }' "$tmp/pids")
    if [[ -z $pid ]]; then
      kill -0 "$vm_pid" 2>/dev/null || { fail "numa-vm ended before boot $boot ran the command"; return 1; }
      ((SECONDS - started < 200)) || { fail "boot $boot never started the command"; return 1; }
      sleep 0.2
    fi
  done
  [[ $pid =~ ^[0-9]+$ ]] || { fail "boot $boot logged no QEMU pid ('$pid')"; return 1; }
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == qemu-system-* ]] || { fail "pid $pid is not a QEMU process"; return 1; }
  sleep 2
  kill -STOP "$pid" || { fail "cannot SIGSTOP QEMU $pid"; return 1; }
  stopped+=("$pid")
  # SIGSTOP reaches every QEMU thread asynchronously: the main thread can still read 'R' for a
  # moment after kill returns (seen on a busy 2-core host), so give the group stop up to 2 s.
  local tries=0
  while :; do
    state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    [[ $state == T || $((++tries)) -gt 20 ]] && break
    sleep 0.1
  done
  [[ $state == T ]] && ok "boot $boot: QEMU $pid stopped (state T) while the command ran" ||
    fail "QEMU $pid is in state '$state' after SIGSTOP, not T"
}

check_reaped() {  # every stopped QEMU must be gone (or at most a zombie) once numa-vm exited
  local p state
  for p in "${stopped[@]}"; do
    state=$(awk '/^State:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    if [[ -z $state || $state == Z ]]; then ok "stopped QEMU $p was killed"
    else fail "stopped QEMU $p is still there (state $state)"; fi
  done
}

expect_stall_lines() {  # expected count of "the guest stalled ..." retry lines on stderr
  local n
  n=$(grep -c '^numa-vm: the guest stalled while the command ran (no heartbeat for 5 s; QEMU killed); booting it once more$' "$tmp/err")
  [[ $n == "$1" ]] && ok "$1 stall-and-retry line(s) on stderr" || fail "$n stall-and-retry lines on stderr, expected $1"
}

case $mode in
  quiet)
    start_vm sh -c 'echo "quiet start"; sleep 16; printf "quiet end\n"; exit 4'
    finish_vm
    [[ $rc == 4 ]] && ok "exit status 4" || fail "exit status $rc, expected 4"
    printf 'quiet start\nquiet end\n' >"$tmp/want"
    cmp -s "$tmp/want" "$tmp/out" && ok "exact output" || { fail "output differs:"; cat -A "$tmp/out"; }
    [[ $(wc -l <"$tmp/pids") == 1 ]] && ok "one boot" || fail "$(wc -l <"$tmp/pids") boots, expected 1"
    grep -q stall "$tmp/err" && fail "stderr mentions a stall"
    ;;
  one-stall)
    start_vm "${cmd[@]}"
    stop_boot 1
    finish_vm
    [[ $rc == 3 ]] && ok "exit status 3, the command's" || fail "exit status $rc, expected 3"
    printf 'first line\nsecond line\n' >"$tmp/want"
    cmp -s "$tmp/want" "$tmp/out" && ok "the command's output, once" || { fail "output differs:"; cat -A "$tmp/out"; }
    expect_stall_lines 1
    [[ $(grep -c . "$tmp/err") == 1 ]] && ok "nothing else on stderr" || fail "more than the one line on stderr"
    [[ $(wc -l <"$tmp/pids") == 2 ]] && ok "two boots" || fail "$(wc -l <"$tmp/pids") boots, expected 2"
    check_reaped
    ;;
  two-stalls)
    start_vm "${cmd[@]}"
    stop_boot 1
    stop_boot 2
    finish_vm
    [[ $rc == 123 ]] && ok "exit status 123" || fail "exit status $rc, expected 123"
    expect_stall_lines 1
    grep -q '^numa-vm: error: the guest stalled again on its second boot, while the command ran (no heartbeat for 5 s); both boots stalled' "$tmp/err" &&
      ok "the final error names both stalls" || fail "no 'both boots stalled' error line"
    # What the second boot's command printed before it stopped, once; nothing of the first boot.
    printf 'first line\n' >"$tmp/want"
    cmp -s "$tmp/want" "$tmp/out" && ok "the last boot's partial output, once" || { fail "output differs:"; cat -A "$tmp/out"; }
    check_reaped
    ;;
  bad-limit)
    for v in garbage 0 -5 2 1.5 '5 s' 99999999; do
      for how in env option; do
        if [[ $how == env ]]; then
          NUMA_VM_STALL_S=$v "$numa_vm" --build "$build" -- true >"$tmp/out" 2>"$tmp/err"; rc=$?
        else
          "$numa_vm" --build "$build" --stall-limit "$v" -- true >"$tmp/out" 2>"$tmp/err"; rc=$?
        fi
        if [[ $rc == 2 && ! -s $tmp/out && $(wc -l <"$tmp/err") == 1 ]] && grep -q "^numa-vm: error: stall limit '$v'" "$tmp/err"; then
          ok "$how '$v': exit 2, one line: $(cat "$tmp/err")"
        else
          fail "$how '$v': exit $rc, stderr: $(cat "$tmp/err")"
        fi
      done
    done
    "$numa_vm" --help | grep -q -- '--stall-limit S' && ok "--help shows --stall-limit" || fail "--help lacks --stall-limit"
    ;;
  *) echo "usage: $0 NUMA_VM BUILD_DIR quiet|one-stall|two-stalls|bad-limit" >&2; exit 2 ;;
esac
exit "$failed"
