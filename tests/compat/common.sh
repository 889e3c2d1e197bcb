# Sourced by every tests/compat/*.sh: runs a real program twice, without and with
# LD_PRELOAD=libnumaagent.so, in two scratch directories, so that outputs can be compared.
#
# Environment (set by tests/compat/CMakeLists.txt):
#   COMPAT_AGENT_LIB  path of libnumaagent.so
#   COMPAT_WORK       scratch directory of this test (emptied first)
#   COMPAT_BIN        build directory of tests/compat (helper programs)
# NUMA_AGENT_POOLS from the caller's environment is kept (NUMA_AGENT_POOLS=0 ctest -L compat runs the
# suite with pinning only); every other NUMA_AGENT_* variable is removed so the agent runs with its
# defaults. The agent run also writes one profile per process (NUMA_AGENT_PROFILE), which is how the
# test proves the agent really ran: a profile must exist and, with pools on, show pool allocations.
set -euo pipefail
export LC_ALL=C TZ=UTC
: "${COMPAT_AGENT_LIB:?}" "${COMPAT_WORK:?}"
for v in $(env | sed -n 's/^\(NUMA_AGENT_[A-Za-z0-9_]*\)=.*/\1/p'); do
  [ "$v" = NUMA_AGENT_POOLS ] || unset "$v"
done
unset LD_PRELOAD
AGENT=$COMPAT_AGENT_LIB
WORK=$COMPAT_WORK
rm -rf "$WORK"
mkdir -p "$WORK/plain" "$WORK/agent" "$WORK/profiles"
PY=/usr/bin/python3   # Debian's interpreter, not a pyenv shim

fail() { echo "FAIL: $*" >&2; exit 1; }

# need CMD PACKAGE: exit 77 (ctest: skipped) when a program is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "SKIP: $1 not found (Debian package $2)"; exit 77; }
}

now_ms() { date +%s%3N; }

# run_in MODE CMD...: runs CMD in $WORK/MODE (MODE = plain | agent), stdout → $WORK/MODE.out,
# stderr → $WORK/MODE.err; fails the test when CMD fails. Prints the wall time.
run_in() {
  local mode=$1; shift
  local t0 rc=0
  t0=$(now_ms)
  if [ "$mode" = agent ]; then
    (cd "$WORK/agent" && env LD_PRELOAD="$AGENT" NUMA_AGENT_PROFILE="$WORK/profiles/%p.json" "$@") \
      >"$WORK/agent.out" 2>"$WORK/agent.err" || rc=$?
  else
    (cd "$WORK/plain" && "$@") >"$WORK/plain.out" 2>"$WORK/plain.err" || rc=$?
  fi
  echo "time $mode $(( $(now_ms) - t0 )) ms: $*" | cut -c1-160
  if [ $rc -ne 0 ]; then
    echo "--- $mode stderr:" >&2; tail -20 "$WORK/$mode.err" >&2
    fail "$mode run exited with status $rc"
  fi
}

# run_both CMD...: the same command without, then with the agent.
run_both() { run_in plain "$@"; run_in agent "$@"; }

# same_file A B WHAT: byte-for-byte comparison with a short diff on failure.
same_file() {
  if ! cmp -s "$1" "$2"; then
    echo "--- differences in $3 (plain vs agent):" >&2
    diff <(head -c 200000 "$1") <(head -c 200000 "$2") | head -20 >&2 || true
    fail "$3 differs"
  fi
  echo "same $3 ($(wc -c <"$1") bytes)"
}

same_stdout() { same_file "$WORK/plain.out" "$WORK/agent.out" stdout; }
same_stderr() { same_file "$WORK/plain.err" "$WORK/agent.err" stderr; }

# same_sorted A B WHAT: the same lines in any order (for output whose order depends on scheduling).
same_sorted() {
  sort "$1" >"$1.sorted"
  sort "$2" >"$2.sorted"
  same_file "$1.sorted" "$2.sorted" "$3 (sorted lines)"
}

# The agent said nothing: default options on a healthy machine give no warning.
agent_silent() {
  local f
  for f in "$@"; do
    if grep -a 'numa-agent' "$f" >&2; then fail "the agent printed the lines above into $f"; fi
  done
}

# agent_ran [threads]: profiles were written under the agent; with pools on, the pools served
# allocations; with "threads", some process pinned a thread it created.
agent_ran() {
  env -u LD_PRELOAD "$PY" - "$WORK/profiles" "${NUMA_AGENT_POOLS:-1}" "${1:-}" <<'EOF'
import json, os, sys
d, pools, want_threads = sys.argv[1], sys.argv[2] not in ("0", "false", "no", "off"), sys.argv[3] == "threads"
profiles = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d))]
if not profiles:
    sys.exit("FAIL: no agent profile was written: the agent did not run")
pool_allocs = sum(p["pools"].get("totals", {}).get("pool_allocations", 0) for p in profiles)
pinned = sum(1 for p in profiles for t in p["threads"] if t["ordinal"] > 0 and t["pinned"])
warnings = [w for p in profiles for w in p["warnings"]]
print(f"agent: {len(profiles)} process profile(s), {pool_allocs} pool allocations, "
      f"{pinned} created threads pinned, pools {'on' if pools else 'off'}")
if warnings:
    sys.exit(f"FAIL: agent warnings: {warnings[:3]}")
if pools and pool_allocs == 0:
    sys.exit("FAIL: pools are on but served no allocation")
if not pools and pool_allocs != 0:
    sys.exit("FAIL: NUMA_AGENT_POOLS=0 but the pools served allocations")
if want_threads and pinned == 0:
    sys.exit("FAIL: no created thread was pinned")
EOF
}

# A deterministic text of about $1 bytes (words and numbers), written to $2.
make_text() {
  env -u LD_PRELOAD "$PY" - "$1" "$2" <<'EOF'
import random, sys
size, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
words = ["numa", "node", "thread", "remote", "local", "page", "cache", "socket", "core", "pool"]
out, n = [], 0
while n < size:
    line = " ".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(rng.randrange(1, 12)))
    out.append(line)
    n += len(line) + 1
open(path, "w").write("\n".join(out) + "\n")
EOF
}
