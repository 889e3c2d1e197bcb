// See report_file.hpp.
#include "analyzer/model/report_file.hpp"

#include <cstring>

#include "agent/os/procfs.hpp"
#include "analyzer/model/json_field.hpp"

namespace numa_agent::analyzer {

using nlohmann::json;

namespace {

// A report must carry these with these types to be rendered at all.
void validate_report(const json& j, const std::string& origin) {
  auto need = [&](const char* key, bool ok) {
    if (!ok) throw ReportInputError(origin + ": corrupt report: \"" + key + "\" is missing or has the wrong type");
  };
  need("score", j.contains("score") && (j["score"].is_number() || j["score"].is_null()));
  need("components", j.contains("components") && j["components"].is_object());
  need("machine", j.contains("machine") && j["machine"].is_object() && field(j["machine"], "nodes").is_array());
  need("threads", j.contains("threads") && j["threads"].is_array());
  need("mappings", j.contains("mappings") && j["mappings"].is_array());
  need("recommendations", j.contains("recommendations") && j["recommendations"].is_array());
  need("evidence", j.contains("evidence") && j["evidence"].is_object());
  for (const auto& t : j["threads"])
    if (!t.is_object() || !t.contains("tid") || !t["tid"].is_number_integer())
      throw ReportInputError(origin + ": corrupt report: a thread without a numeric \"tid\"");
  for (const auto& r : j["recommendations"])
    if (!r.is_object() || !field(r, "kind").is_string() || !field(r, "title").is_string())
      throw ReportInputError(origin + ": corrupt report: a recommendation without \"kind\" and \"title\"");
}

}  // namespace

ReportInput parse_report_input(const std::string& text, const std::string& origin) {
  if (text.empty()) throw ReportInputError(origin + ": empty file, not a numa-analyze recording or report");
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ReportInputError(origin + ": not a numa-analyze recording or report (truncated or corrupt JSON)");
  if (!j.is_object() || !field(j, "schema").is_string())
    throw ReportInputError(origin + ": not a numa-analyze recording or report (no \"schema\" key)");
  std::string schema = j["schema"];
  if (schema.starts_with(std::string(kRecordingSchemaName) + "/")) {
    try {
      return {parse_recording(text, origin), nullptr};
    } catch (const RecordingError& e) {
      throw ReportInputError(e.what());
    }
  }
  const std::string prefix = "numa-analyze-report/";
  if (!schema.starts_with(prefix))
    throw ReportInputError(origin + ": a '" + schema + "' file, not a numa-analyze recording or report");
  if (schema != kReportSchema)
    throw ReportInputError(origin + ": report format '" + schema + "' is not supported by this numa-analyze (reads " +
                           kReportSchema + ")");
  validate_report(j, origin);
  return {std::nullopt, std::move(j)};
}

ReportInput read_report_input(const std::string& path) {
  auto text = os::read_text_file(path);
  if (auto* err = (text ? nullptr : &text.error()))
    throw ReportInputError("cannot read " + path + ": " + std::strerror(err->code) + " (" + errno_name(err->code) + ")");
  return parse_report_input(*text, path);
}

}  // namespace numa_agent::analyzer
