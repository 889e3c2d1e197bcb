// numa-analyze report: recording in, report model out (JSON, or text rendered from the JSON).
#include <cstring>

#include "../agent/os/procfs.hpp"
#include "commands.hpp"
#include "recording.hpp"
#include "render_text.hpp"
#include "report.hpp"

namespace numa_agent::analyzer {
namespace {

struct ReportArgs {
  std::string input = kDefaultRecordingPath;
  std::string format = "text";
  std::string output;
};

int run_report(const ReportArgs& args) {
  auto text = os::read_text_file(args.input);
  if (auto* err = std::get_if<os::OsError>(&text)) {
    print_error("cannot read " + args.input + ": " + std::strerror(err->error) + " (" + errno_name(err->error) + ")");
    return 1;
  }
  Recording recording;
  try {
    recording = parse_recording(std::get<std::string>(text), args.input);
  } catch (const RecordingError& e) {
    print_error(e.what());
    return 1;
  }
  nlohmann::json report = build_report(recording);
  std::string out = args.format == "json" ? report.dump(2) + "\n" : render_report_text(report);
  return write_output(args.output, out) ? 0 : 1;
}

}  // namespace

void register_report_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand("report", "Score a recording and rank recommendations");
  sub->add_option("file", args->input, "recording file")->capture_default_str();
  sub->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  sub->add_option("-o,--output", args->output, "write here (atomically) instead of stdout");
  sub->callback([args, &exit_code] { exit_code = run_report(*args); });
}

}  // namespace numa_agent::analyzer
