#!/usr/bin/env bash
# redis-server (Debian's links jemalloc: the agent must hand pointers it does not own to it; its
# background threads are pinned) on 127.0.0.1 and a private port; redis-benchmark (2 threads,
# bounded request count) and redis-cli against it, all under the agent. Rules: redis-cli
# SET/GET/INCR/LRANGE/SCAN results byte-identical to a server without the agent; redis-benchmark
# finishes every test it was given (its timings differ by nature); the server shuts down cleanly
# and logs no agent line.
. "$(dirname "$0")/common.sh"
need redis-server redis-server
need redis-benchmark redis-tools
need redis-cli redis-tools

# Commands: 2000 SETs, GETs of all of them, counters and a list (redis-cli reads them from stdin).
{
  for i in $(seq 1 2000); do echo "SET key:$i value-$i-$((i * 7919 % 10007))"; done
  for i in $(seq 1 2000); do echo "GET key:$i"; done
  for i in $(seq 1 300); do echo "INCRBY counter:$((i % 7)) $i"; echo "RPUSH list $i"; done
  echo "LRANGE list 0 -1"; echo "DBSIZE"; echo "MGET key:1 key:1000 key:2000 missing"
  echo "DEL key:5"; echo "GET key:5"; echo "EXISTS key:6"; echo "STRLEN key:1999"
} >"$WORK/commands.txt"

port=$((20000 + ($$ % 20000)))
server_pid=
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; wait "$server_pid" || true; fi
  server_pid=
}
trap stop_server EXIT

# serve MODE: starts the server (with the agent when MODE = agent), waits until it answers.
serve() {
  local mode=$1 preload=()
  [ "$mode" = agent ] && preload=(env LD_PRELOAD="$AGENT" NUMA_AGENT_PROFILE="$WORK/profiles/%p.json")
  for attempt in 1 2 3 4 5; do
    port=$((port + 1))
    (cd "$WORK/$mode" && exec "${preload[@]}" redis-server --bind 127.0.0.1 --port "$port" --save '' \
       --appendonly no --daemonize no --logfile server.log \
       --dir "$WORK/$mode") &
    server_pid=$!
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; then return 0; fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    stop_server
  done
  fail "redis-server ($mode) did not start"
}

for mode in plain agent; do
  serve "$mode"
  run_in "$mode" sh -c "redis-cli -p $port < ../commands.txt && redis-cli -p $port --scan --pattern 'key:1??' | sort"
  mv "$WORK/$mode.out" "$WORK/$mode.cli.out"; mv "$WORK/$mode.err" "$WORK/$mode.cli.err"
  run_in "$mode" redis-benchmark -h 127.0.0.1 -p "$port" -n 10000 -c 10 --threads 2 -t set,get,incr,lpush,lpop -q
  tr '\r' '\n' <"$WORK/$mode.out" | grep -o '^[A-Z_]*[a-z_ ]*[A-Z]*: [0-9.]* requests per second' | cut -d: -f1 >"$WORK/$mode.bench"
  mv "$WORK/$mode.err" "$WORK/$mode.bench.err"
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$server_pid" || fail "redis-server ($mode) exited with status $?"
  server_pid=
done
same_file "$WORK/plain.cli.out" "$WORK/agent.cli.out" "redis-cli results"
[ "$(wc -l <"$WORK/agent.cli.out")" -gt 4000 ] || fail "redis-cli gave too few results"
same_file "$WORK/plain.bench" "$WORK/agent.bench" "redis-benchmark tests completed"
[ "$(wc -l <"$WORK/agent.bench")" -eq 5 ] || fail "redis-benchmark did not complete its 5 tests"
grep -qi 'ready to accept connections' "$WORK/agent/server.log" || fail "server log has no start line"
agent_silent "$WORK/agent/server.log" "$WORK/agent.cli.err" "$WORK/agent.bench.err"
agent_ran threads
