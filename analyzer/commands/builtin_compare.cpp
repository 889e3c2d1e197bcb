// numa-analyze compare BEFORE AFTER: score, component, node and thread deltas and recommendation
// changes between two reports (or recordings); exit status gates CI on AFTER's score.
// Exit (commands.hpp): 0 compared (and every gate passed), 1 a gate failed, 2 a missing,
// unreadable or malformed input, or a gate that cannot be evaluated (a null score), 3 the output
// could not be written.
#include <memory>

#include "analyzer/commands/commands.hpp"
#include "analyzer/rules/compare.hpp"
#include "analyzer/rules/report.hpp"
#include "analyzer/views/render_compare.hpp"

namespace numa_agent::analyzer {
namespace {

struct CompareArgs {
  std::string before, after;
  std::string format = "text";
  std::string output;
  double fail_below = 0, fail_if_worse = 0;
  bool gate_below = false, gate_worse = false;   // whether the option was given
};

int run_compare(const CompareArgs& args) {
  nlohmann::json before, after;
  try {
    before = load_report_model(args.before);
    after = load_report_model(args.after);
  } catch (const ReportInputError& e) {
    print_error(e.what());
    return kExitBadInput;
  }
  nlohmann::json comparison = compare_reports(before, after, args.before, args.after);
  CompareGates gates;
  if (args.gate_below) gates.fail_below = args.fail_below;
  if (args.gate_worse) gates.fail_if_worse = args.fail_if_worse;
  GateOutcome gate = evaluate_gates(comparison, gates);
  if (gate.exit_code != 0) comparison["gate"] = {{"passed", false}, {"exit_code", gate.exit_code}, {"reason", gate.message}};
  else if (args.gate_below || args.gate_worse) comparison["gate"] = {{"passed", true}};
  std::string text = args.format == "json" ? comparison.dump(2) + "\n" : render_compare_text(comparison);
  if (!write_output(args.output, text)) return kExitFailed;
  if (gate.exit_code != 0) print_error(gate.message);
  return gate.exit_code;
}

}  // namespace

void register_compare_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* sub = app.add_subcommand(
      "compare", "Compare two reports or recordings (before/after a change); exit 1 when a --fail-* gate fails");
  sub->add_option("before", args->before, "report JSON (report --format json) or recording")->required();
  sub->add_option("after", args->after, "report JSON or recording")->required();
  sub->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  sub->add_option("-o,--output", args->output, "write here (atomically) instead of stdout");
  CLI::Option* below = sub->add_option("--fail-below", args->fail_below, "exit 1 when AFTER's score is below X (0-100)")
      ->check(CLI::Range(0.0, 100.0));
  CLI::Option* worse = sub->add_option("--fail-if-worse", args->fail_if_worse, "exit 1 when the score drops by more than D points")
      ->check(CLI::NonNegativeNumber);
  sub->callback([args, below, worse, &exit_code] {
    args->gate_below = below->count() > 0;
    args->gate_worse = worse->count() > 0;
    exit_code = run_compare(*args);
  });
}

}  // namespace numa_agent::analyzer
