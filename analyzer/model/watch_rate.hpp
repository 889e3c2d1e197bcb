// The watchpoint estimator's one formula, shared by the sampler's remote share
// (evidence/watchpoint_sampler) and the report's watchpoint rows (rules/access_evidence), which
// group hits differently (by thread and mapping; by thread, memory node and mapping) but weigh
// each group the same way.
#pragma once

namespace numa_agent::analyzer {

// A group's accesses: its rate per word, hits over probe time (`exposure_ns`, the times to hit and
// cold windows, plus `prior_ns`, one more cold window so that a few lucky early hits do not read as
// a hot word), times the thread's probes, times the bytes those probes stand for.
inline double watched_accesses(double hits, double exposure_ns, double prior_ns, double probes, double bytes) {
  return hits / (exposure_ns + prior_ns) * probes * bytes;
}

}  // namespace numa_agent::analyzer
