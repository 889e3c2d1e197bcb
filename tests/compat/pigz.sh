#!/usr/bin/env bash
# pigz -p2 (parallel deflate in 128 KiB blocks; -n: no name or time stamp in the header), then
# decompression. Rule: gzip bytes identical to the run without the agent; round trip.
. "$(dirname "$0")/common.sh"
need pigz pigz
make_text $((4 << 20)) "$WORK/input.txt"
run_both sh -c 'pigz -p2 -6 -n -c < ../input.txt > input.gz && pigz -p2 -d -c input.gz > roundtrip.txt'
same_file "$WORK/plain/input.gz" "$WORK/agent/input.gz" "pigz output"
same_file "$WORK/input.txt" "$WORK/agent/roundtrip.txt" "pigz round trip"
same_stderr
agent_ran threads
