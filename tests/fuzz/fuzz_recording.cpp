// Fuzzes the recording file as `numa-analyze report` reads it: parse_recording, then the report
// and its text rendering (analyzer/model/recording.hpp, rules/report.hpp, views/render_text.hpp). Invariants: bad
// input is refused with a RecordingError of one line naming the file, and with nothing else (any
// other exception escapes and counts as a crash); an accepted recording is reported and rendered
// without an exception, and survives a write/read round trip with the same report.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "analyzer/model/recording.hpp"
#include "analyzer/views/render_text.hpp"
#include "analyzer/rules/report.hpp"

using namespace numa_agent::analyzer;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Recording recording;
  try {
    recording = parse_recording(text, "fuzz.json");
  } catch (const RecordingError& e) {
    const std::string message = e.what();
    require(message.rfind("fuzz.json: ", 0) == 0);
    require(message.size() > 11 && message.find('\n') == std::string::npos);
    return 0;
  }
  const nlohmann::json report = build_report(recording);
  require(report.is_object());
  const std::string rendered = render_report_text(report);
  require(!rendered.empty());
  const Recording again = parse_recording(serialize_recording(recording), "again.json");
  require(build_report(again) == report);
  return 0;
}
