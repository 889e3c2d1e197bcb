#!/bin/sh
# Reproducer (fixed; ctest analyzer_integration.record_agent_survives_a_malformed_profile; analyzer/recorder.cpp, Session::read_agent_profile): a profile with the
# right schema but "policy": {"pin": 1} makes `j["policy"].value("pin", "?")` throw nlohmann
# type_error 302, which nothing catches: `numa-analyze record --agent` aborts (exit 134) after the
# program ran, and writes no recording. The program writes its own "profile" and dies by SIGKILL so
# that the agent's exit handler does not overwrite it. No fuzz target reaches this code (the
# profile reader is private to the recorder), hence a script.
#   tests/fuzz/crashes/recorder-profile-pin-not-string.sh [build dir]   exits 0 when fixed
build=${1:-$(dirname "$0")/../../../build}
out=$(mktemp -d)
"$build/numa-analyze" record --agent -o "$out/rec.json" -- sh -c \
  'printf "{\"schema\":\"numa-agent-profile/1\",\"policy\":{\"pin\":1}}" > "${NUMA_AGENT_PROFILE%/*}/profile-$$.json"; kill -9 $$'
status=$?
test -f "$out/rec.json"; written=$?
rm -rf "$out"
echo "numa-analyze exit status $status, recording written: $([ $written = 0 ] && echo yes || echo no)"
[ $status -lt 128 ] && [ $written = 0 ]
