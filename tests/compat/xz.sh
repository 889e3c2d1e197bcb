#!/usr/bin/env bash
# xz -T2 with 512 KiB blocks (so both threads work), then threaded decompression.
# Rule: compressed bytes identical to the run without the agent; round trip gives the input.
. "$(dirname "$0")/common.sh"
need xz xz-utils
make_text $((4 << 20)) "$WORK/input.txt"
run_both sh -c 'xz -T2 -3 --block-size=512KiB -c ../input.txt > input.xz && xz -T2 -d -c input.xz > roundtrip.txt'
same_file "$WORK/plain/input.xz" "$WORK/agent/input.xz" "xz output"
same_file "$WORK/input.txt" "$WORK/agent/roundtrip.txt" "xz round trip"
same_stderr
agent_ran threads
