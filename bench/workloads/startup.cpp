// Process start-up and exit: bench/run times the whole exec of this program, which does nothing
// else. What a preloaded library does in its constructor and at exit (topology discovery,
// profile) shows here, and it is paid once by every short-lived program.
#include "common.hpp"

int main() { bench::JsonLine().str("workload", "startup").print(); }
