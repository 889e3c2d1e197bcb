// numa-analyze apply -- ./app args: record under the agent, plan, run again under the agent with
// the plan (recorded), then compare the two recordings side by side.
// Exit (commands.hpp): 0 compared (or nothing to apply: an empty plan; or a run without a score,
// said so), 1 the plan made the score worse by more than --fail-if-worse points (compare's gate), 2 bad usage or a recording that
// cannot be read back, 3 a step could not be done (the program or a recording failed).
#include <cstdio>
#include <memory>

#include "agent/os/launch.hpp"
#include "analyzer/commands/commands.hpp"
#include "analyzer/model/report_file.hpp"
#include "analyzer/rules/numbers.hpp"

namespace numa_agent::analyzer {
namespace {

struct ApplyArgs {
  std::string prefix = "numa-analyze.apply";
  std::string multi_node = "auto";
  double fail_if_worse = 0;
  std::vector<std::string> command;
};

// This executable's `args` as a child process (with `env` added); its exit status, or -1 after
// printing why it could not run.
int run_self(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  auto exe = os::executable_path();
  if (!exe) {
    print_error("apply: cannot find this executable: " + exe.error().what);
    return -1;
  }
  std::vector<std::string> argv{*exe};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = os::launch_suspended(argv, env);
  if (!child) {
    print_error("apply: " + child.error().what);
    return -1;
  }
  if (int rc = os::release_child(*child); rc < 0) {
    print_error("apply: cannot run " + *exe);
    return -1;
  }
  auto status = os::wait_child(child->pid);
  if (!status || !status->exited) return -1;
  return status->exit_code;
}

int record_step(const ApplyArgs& args, const std::string& output, const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> argv{"record", "--agent", "-o", output, "--"};
  argv.insert(argv.end(), args.command.begin(), args.command.end());
  const int rc = run_self(argv, env);
  return rc == 0 ? kExitOk : rc == kExitBadInput ? kExitBadInput : kExitFailed;
}

int run_apply(const ApplyArgs& args) {
  if (args.command.empty()) {
    print_error("apply: nothing to run: give a command after --");
    return kExitBadInput;
  }
  const std::string before = args.prefix + ".before.rec.json", plan_path = args.prefix + ".plan.json",
                    after = args.prefix + ".after.rec.json";
  std::fprintf(stderr, "[numa-analyze] apply 1/3: recording under the agent -> %s\n", before.c_str());
  if (int rc = record_step(args, before, {}); rc != kExitOk) return rc;

  ReportInput input;
  try {
    input = read_report_input(before);
  } catch (const ReportInputError& e) {
    print_error(e.what());
    return kExitBadInput;
  }
  const plan::Plan plan = plan_from_recording(*input.recording, before, multi_node_policy(args.multi_node));
  if (!write_output(plan_path, plan::plan_to_json(plan).dump(2) + "\n")) return kExitFailed;
  std::fprintf(stderr, "[numa-analyze] apply 2/3: %s -> %s\n", plan.summary.c_str(), plan_path.c_str());
  if (plan.sites.empty()) {
    std::printf("Nothing to apply: %s\n", plan.summary.c_str());
    return kExitOk;
  }

  // The plan's path as the program sees it, whatever directory it changes to.
  const std::string plan_env = plan_path.starts_with("/") ? plan_path : os::current_directory() + "/" + plan_path;
  std::fprintf(stderr, "[numa-analyze] apply 3/3: recording under the agent with NUMA_AGENT_PLAN=%s -> %s\n",
               plan_env.c_str(), after.c_str());
  if (int rc = record_step(args, after, {{"NUMA_AGENT_PLAN", plan_env}}); rc != kExitOk) return rc;

  std::printf("Plan %s: %zu site(s)\n", plan_path.c_str(), plan.sites.size());
  for (const auto& s : plan.sites) {
    const auto& e = s.evidence;
    std::printf("  %-24s %-10s remote share before %s, expected after %s\n",
                (s.function.empty() ? s.site : s.function).c_str(), std::string(plan::to_string(s.policy)).c_str(),
                e.contains("remote_share") ? percent(e["remote_share"].get<double>()).c_str() : "?",
                e.contains("expected_remote_share") ? percent(e["expected_remote_share"].get<double>()).c_str() : "?");
  }
  std::fflush(stdout);
  // Without a score on one side the gate cannot say "worse": compare side by side, say why, exit 0.
  // (The after run can lack one when its evidence covers too little of its memory.)
  std::string unscored;
  try {
    for (const auto* path : {&before, &after})
      if (const auto report = load_report_model(*path); !report.contains("score") || report["score"].is_null())
        unscored = *path;
  } catch (const ReportInputError& e) {
    print_error(e.what());
    return kExitBadInput;
  }
  std::vector<std::string> compare{"compare", before, after};
  if (unscored.empty()) {
    char worse[32];
    std::snprintf(worse, sizeof worse, "%g", args.fail_if_worse);
    compare.insert(compare.end(), {"--fail-if-worse", worse});
  }
  const int compared = run_self(compare);
  if (compared < 0) return kExitFailed;
  if (!unscored.empty())
    std::printf("apply: %s has no score (its access evidence covers too little of its memory): the plan's effect "
                "is not measured, so the --fail-if-worse gate was not applied\n",
                unscored.c_str());
  return compared;
}

}  // namespace

void register_apply_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ApplyArgs>();
  CLI::App* sub = app.add_subcommand(
      "apply", "Record under the agent, plan, run with the plan, compare before and after (exit 1 when worse)");
  sub->add_option("--prefix", args->prefix, "files written: PREFIX.before.rec.json, PREFIX.plan.json, PREFIX.after.rec.json")
      ->capture_default_str();
  add_multi_node_option(sub, args->multi_node);
  sub->add_option("--fail-if-worse", args->fail_if_worse, "exit 1 when the score drops by more than D points")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("command", args->command, "program and its arguments (after --)");
  sub->callback([args, &exit_code] { exit_code = run_apply(*args); });
}

}  // namespace numa_agent::analyzer
