#!/usr/bin/env bash
# An OpenMP program (libgomp, 4 threads on this machine's CPUs: parallel for, tasks, reduction,
# ordered). Rule: stdout byte-identical.
. "$(dirname "$0")/common.sh"
: "${COMPAT_BIN:?}"
run_both env OMP_NUM_THREADS=4 "$COMPAT_BIN/compat_omp_workload"
same_stdout
same_stderr
agent_ran threads
