#!/usr/bin/env bash
# zstd -T2 (multi-threaded jobs), then decompression. Rule: compressed bytes identical to the run
# without the agent (zstd's output depends on the level and worker count only); round trip.
. "$(dirname "$0")/common.sh"
need zstd zstd
make_text $((4 << 20)) "$WORK/input.txt"
run_both sh -c 'zstd -q -T2 -5 -c ../input.txt > input.zst && zstd -q -d -c input.zst > roundtrip.txt'
same_file "$WORK/plain/input.zst" "$WORK/agent/input.zst" "zstd output"
same_file "$WORK/input.txt" "$WORK/agent/roundtrip.txt" "zstd round trip"
same_stderr
agent_ran threads
