// numa-analyze plan REC -o PLAN: a placement plan (numa-agent-plan/1, analyzer/PLAN_SCHEMA.md)
// from a recording's first-touch sites, for the agent to apply (NUMA_AGENT_PLAN).
// Exit (commands.hpp): 0 written (an empty plan too), 2 a missing, unreadable or malformed
// recording (or a report, which has no sites), 3 the plan could not be written.
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <map>
#include <memory>

#include "agent/plan.hpp"
#include "analyzer/commands/commands.hpp"
#include "analyzer/evidence/symbolizer.hpp"
#include "analyzer/model/report_file.hpp"
#include "analyzer/rules/plan.hpp"
#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {
namespace {

struct PlanArgs {
  std::string input = kDefaultRecordingPath;
  std::string output;
  std::string multi_node = "auto";
};

const Dwfl_Callbacks kOfflineCallbacks = {dwfl_build_id_find_elf, dwfl_standard_find_debuginfo,
                                          dwfl_offline_section_address, nullptr};

// The ELF symbol (function) around a file offset, as file offsets: what the agent matches an
// allocation's return address against. The file must still be the build that was recorded.
class FunctionRanges {
 public:
  ~FunctionRanges() {
    for (auto& [path, m] : modules_)
      if (m.dwfl) dwfl_end(m.dwfl);
  }
  std::optional<std::pair<std::uint64_t, std::uint64_t>> operator()(const SiteFrame& frame) {
    const auto plus = frame.key.find('+');
    if (plus == std::string::npos || symbols_.build_id(frame.module) != frame.key.substr(0, plus)) return std::nullopt;
    Dwfl_Module* mod = module(frame.module);
    const auto vaddr = symbols_.vaddr_of_offset(frame.module, frame.offset);
    GElf_Addr bias = 0;
    if (!mod || !vaddr || !dwfl_module_getelf(mod, &bias)) return std::nullopt;
    GElf_Sym sym;
    GElf_Off into = 0;
    if (!dwfl_module_addrinfo(mod, *vaddr + bias, &into, &sym, nullptr, nullptr, nullptr) || sym.st_size == 0)
      return std::nullopt;
    const std::uint64_t start_vaddr = *vaddr - into;
    const auto start = symbols_.offset_of_vaddr(frame.module, start_vaddr);
    if (!start) return std::nullopt;
    return std::pair{*start, *start + sym.st_size};
  }

 private:
  struct Offline {
    Dwfl* dwfl = nullptr;
    Dwfl_Module* mod = nullptr;
  };
  Dwfl_Module* module(const std::string& path) {
    auto [it, fresh] = modules_.emplace(path, Offline{});
    if (fresh && (it->second.dwfl = dwfl_begin(&kOfflineCallbacks))) {
      it->second.mod = dwfl_report_offline(it->second.dwfl, std::string(module_basename(path)).c_str(), path.c_str(), -1);
      dwfl_report_end(it->second.dwfl, nullptr, nullptr);
    }
    return it->second.mod;
  }
  Symbolizer symbols_;
  std::map<std::string, Offline> modules_;
};

}  // namespace

namespace {

}  // namespace

plan::Plan plan_from_recording(const Recording& recording, const std::string& source, MultiNodePolicy multi_node) {
  FunctionRanges ranges;
  PlanInputs inputs;
  inputs.function_range = [&ranges](const SiteFrame& f) { return ranges(f); };
  inputs.multi_node = multi_node;
  inputs.source = source;
  return generate_plan(recording, inputs);
}

namespace {

int run_plan(const PlanArgs& args) {
  ReportInput input;
  try {
    input = read_report_input(args.input);
  } catch (const ReportInputError& e) {
    print_error(e.what());
    return kExitBadInput;
  }
  if (!input.recording) {
    print_error(args.input + " is a report; plan needs the recording (its sites and accesses)");
    return kExitBadInput;
  }
  const plan::Plan plan = plan_from_recording(*input.recording, args.input, multi_node_policy(args.multi_node));
  if (!write_output(args.output, plan::plan_to_json(plan).dump(2) + "\n")) return kExitFailed;
  if (!args.output.empty() && args.output != "-") {
    std::fprintf(stderr, "numa-analyze: %s\n", plan.summary.c_str());
    if (!plan.sites.empty())
      std::fprintf(stderr, "numa-analyze: apply it: NUMA_AGENT_PLAN=%s LD_PRELOAD=<libnumaagent.so> %s\n",
                   args.output.c_str(), plan.program.c_str());
  }
  return kExitOk;
}

}  // namespace

void add_multi_node_option(CLI::App* sub, std::string& value) {
  sub->add_option("--multi-node", value,
                  "memory used from several nodes: auto (partition after a serial first touch, else interleave), "
                  "interleave or partition")
      ->check(CLI::IsMember({"auto", "interleave", "partition"}))
      ->capture_default_str();
}

MultiNodePolicy multi_node_policy(const std::string& value) {
  if (value == "interleave") return MultiNodePolicy::Interleave;
  if (value == "partition") return MultiNodePolicy::Partition;
  return MultiNodePolicy::Auto;
}

void register_plan_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* sub = app.add_subcommand(
      "plan", "Write a placement plan (per allocation site: interleave, bind or partition) for NUMA_AGENT_PLAN");
  sub->add_option("file", args->input, "recording file (record, symbolised first-touch sites)")->capture_default_str();
  sub->add_option("-o,--output", args->output, "write the plan here (atomically) instead of stdout");
  add_multi_node_option(sub, args->multi_node);
  sub->callback([args, &exit_code] { exit_code = run_plan(*args); });
}

}  // namespace numa_agent::analyzer
