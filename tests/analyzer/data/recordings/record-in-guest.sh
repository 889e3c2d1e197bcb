#!/bin/sh
# record-in-guest.sh BUILD_DIR SCENARIO[:agent]...: how the guest recordings here were made.
# Run inside a multi-node guest, e.g.
#   scripts/numa-vm --nodes 2 --cpus 4 --distances 21 --with tests/analyzer/data/recordings -- \
#     sh tests/analyzer/data/recordings/record-in-guest.sh build all-remote shared-hot:agent
# Records each numa_traffic scenario (":agent" under libnumaagent.so) and prints the recording
# between "=== BEGIN name" / "=== END name" lines, for the host to cut out of the guest's output.
B=$1; shift
for arg in "$@"; do
  s=${arg%%:*}; agent=""; name=$s
  [ "$s" != "$arg" ] && agent="--agent" && name="$s-agent"
  timeout -s KILL 200 "$B/numa-analyze" record $agent -o /tmp/$name.rec.json -- \
    "$B/tests/analyzer/numa_traffic" "$s" --seconds 3 --mib 8 --scans 2 --deadline 120 > /tmp/$name.log 2>&1 \
    || { echo "record $name failed:"; cat /tmp/$name.log; continue; }
  echo "=== BEGIN $name"; cat /tmp/$name.rec.json; echo "=== END $name"
done
