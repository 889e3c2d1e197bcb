// numa-analyze report: recording (or an existing report JSON) in, the report model out as JSON,
// or rendered from it as text, a self-contained HTML page, or Prometheus text exposition.
// Exit (commands.hpp): 0 written, 2 a missing, unreadable or malformed input, 3 the output could
// not be written.
#include "analyzer/commands/commands.hpp"
#include "analyzer/rules/report.hpp"
#include "analyzer/views/render_html.hpp"
#include "analyzer/views/render_prometheus.hpp"
#include "analyzer/views/render_folded.hpp"
#include "analyzer/views/render_text.hpp"

namespace numa_agent::analyzer {
namespace {

struct ReportArgs {
  std::string input = kDefaultRecordingPath;
  std::string format = "text";
  std::string output;
};

int run_report(const ReportArgs& args) {
  nlohmann::json report;
  try {
    report = report_model(read_report_input(args.input));
  } catch (const ReportInputError& e) {
    print_error(e.what());
    return kExitBadInput;
  }
  std::string out;
  if (args.format == "json") out = report.dump(2) + "\n";
  else if (args.format == "html") out = render_report_html(report);
  else if (args.format == "prometheus") out = render_report_prometheus(report);
  else if (args.format == "folded") out = render_report_folded(report);
  else out = render_report_text(report);
  return write_output(args.output, out) ? kExitOk : kExitFailed;
}

}  // namespace

void register_report_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand("report", "Score a recording and rank recommendations");
  sub->add_option("file", args->input, "recording file (or a report written by --format json)")->capture_default_str();
  sub->add_option("--format", args->format, "text, json, html, prometheus or folded (remote cost by call path, for flamegraph.pl)")
      ->check(CLI::IsMember({"text", "json", "html", "prometheus", "folded"}))
      ->capture_default_str();
  sub->add_option("-o,--output", args->output, "write here (atomically) instead of stdout");
  sub->callback([args, &exit_code] { exit_code = run_report(*args); });
}

}  // namespace numa_agent::analyzer
