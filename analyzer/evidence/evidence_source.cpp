// See evidence_source.hpp.
#include "analyzer/evidence/evidence_source.hpp"

#include <cstring>

#include "agent/os/os.hpp"

namespace numa_agent::analyzer {

void RecordingClock::start() { start_ns_ = os::monotonic_ns(); }

double RecordingClock::now_s() const { return double(os::monotonic_ns() - start_ns_) / 1e9; }

EvidenceProbe probe(std::string source, bool used, std::string detail, int error) {
  return {std::move(source), used, std::move(detail), error, errno_name(error)};
}

std::string describe_errno(int error) { return std::string(std::strerror(error)) + " (" + errno_name(error) + ")"; }

}  // namespace numa_agent::analyzer
