// watchpoint_probe: a development driver of the watchpoint sampler until `record` plugs it in.
//
//   watchpoint_probe --self-test
//   watchpoint_probe [options] -p PID [--duration S]
//   watchpoint_probe [options] -- COMMAND ARGS...      (runs COMMAND, samples it until it exits)
//   watchpoint_probe --no-watch -- COMMAND ARGS...     (the same launch unwatched: a baseline)
//
// Options: --rate R (probes/s; default from the self-test and --budget), --budget F (default 0.02),
// --window-ms W (fixed windows; default: adaptive, at most 1000), --path auto|modify|reopen, --seed N, --json FILE (the result, with
// every hit and cold probe). Prints one summary line: "watchpoint_probe remote_share=... hits=...".
// Exit status: the command's (launch mode), 0 (attach), 2 bad usage, 77 watchpoints refused.
#include <algorithm>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "agent/os/launch.hpp"
#include "analyzer/evidence/probe.hpp"
#include "analyzer/evidence/watchpoint_sampler.hpp"

using namespace numa_agent;
using namespace numa_agent::analyzer;
using nlohmann::json;

namespace {

json self_test_json(const os::BreakpointSelfTest& t) {
  return {{"modify_works", t.modify_works}, {"modify_hits", t.modify_hits}, {"modify_loop_ratio", t.modify_loop_ratio},
          {"trap_ns", t.trap_ns}, {"reopen_ns", t.reopen_ns}, {"modify_ns", t.modify_ns}};
}

json result_json(const WatchpointSampler& s, double seconds, std::uint64_t window_bound_ns) {
  const WatchpointCounters& c = s.counters();
  const WatchSchedulerCounters& k = c.scheduler;
  json refused = json::object();
  for (const auto& [err, n] : c.refused_by_errno) refused[errno_name(err)] = n;
  json out = {
      {"path", watch_path_name(c.path)}, {"probes_per_second", c.probes_per_second}, {"seconds", seconds},
      {"self_test", self_test_json(c.self_test)},
      {"counters",
       {{"aims", k.aims}, {"armed", c.armed}, {"hits", k.hits}, {"cold", k.cold}, {"late", k.late},
        {"not_resident", k.not_resident}, {"refused", k.refused}, {"refused_by_errno", refused}, {"dropped", k.dropped},
        {"rate_limited", k.rate_limited}, {"modify_reaims", c.modify_reaims}, {"reopen_reaims", c.reopen_reaims},
        {"polls", c.polls}, {"poll_ms", double(c.poll_ns) / 1e6}, {"drain_ms", double(c.drain_ns) / 1e6},
        {"threads_ms", double(c.threads_ns) / 1e6}, {"regions_ms", double(c.regions_ns) / 1e6}, {"arm_ms", double(c.arm_ns) / 1e6}, {"threads_attached", c.threads_attached}, {"threads_exited", c.threads_exited},
        {"lost_records", c.lost_records}, {"decode_errors", c.decode_errors}, {"unresolved_pages", c.unresolved_pages},
        {"numa_maps_error", c.numa_maps_error}, {"target_exited", c.target_exited}}},
      {"remote_share", watchpoint_remote_share(s.samples(), s.cold(), s.resident_bytes(), window_bound_ns)}, {"hit_remote_share", watchpoint_remote_share(s.samples())}};
  json hits = json::array(), cold = json::array();
  for (const auto& h : s.samples())
    hits.push_back({{"tid", h.tid}, {"cpu", h.cpu}, {"cpu_node", h.cpu_node}, {"memory_node", h.memory_node},
                    {"addr", h.addr}, {"mapping", h.mapping}, {"time_to_hit_ns", h.time_to_hit_ns}});
  for (const auto& p : s.cold())
    cold.push_back({{"tid", p.tid}, {"memory_node", p.memory_node}, {"addr", p.addr}, {"mapping", p.mapping}});
  out["hits"] = hits;
  out["cold"] = cold;
  return out;
}

struct Reaped {
  bool done = false;
  int status = 0;
  std::uint64_t at_ns = 0;
  double cpu_s = 0;   // user + system time of the program
};
// wait4: the program's status and CPU time (a test program may call the OS itself).
Reaped reap(int pid, bool block) {
  int st = 0;
  rusage ru{};
  Reaped r;
  if (wait4(pid, &st, block ? 0 : WNOHANG, &ru) != pid) return r;
  r.done = true;
  r.at_ns = os::monotonic_ns();
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.cpu_s = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"watchpoint_probe: sample a program's memory accesses with hardware watchpoints"};
  bool self_test = false, no_watch = false;
  int pid = 0;
  double duration = 0, rate = 0, budget = 0.02, window_ms = 0;
  std::string path_text = "auto", json_path;
  std::uint64_t seed = 1;
  std::vector<std::string> command;
  app.add_flag("--self-test", self_test, "measure this kernel's watchpoints and exit");
  app.add_flag("--no-watch", no_watch, "run COMMAND unwatched and print its wall and CPU time (a baseline)");
  app.add_option("-p,--pid", pid, "attach to a running process")->check(CLI::PositiveNumber);
  app.add_option("--duration", duration, "seconds to sample (attach mode; 0: until it exits)")->check(CLI::NonNegativeNumber);
  app.add_option("--rate", rate, "probes per second (0: from the self-test and --budget)")->check(CLI::NonNegativeNumber);
  app.add_option("--budget", budget, "overhead budget, fraction of one CPU")->check(CLI::Range(0.0001, 1.0));
  app.add_option("--window-ms", window_ms, "fixed windows: a probe not hit within this is cold")->check(CLI::Range(0.1, 60000.0));
  app.add_option("--path", path_text, "re-aim by auto|modify|reopen");
  app.add_option("--seed", seed, "target drawing seed");
  app.add_option("--json", json_path, "write the result here");
  app.add_option("command", command, "program to run")->expected(-1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto path = parse_watch_path(path_text);
  if (!path) {
    std::fprintf(stderr, "watchpoint_probe: --path must be auto, modify or reopen, not '%s'\n", path_text.c_str());
    return 2;
  }
  if (((pid > 0) == !command.empty() && !self_test) || (no_watch && command.empty())) {
    std::fprintf(stderr, "watchpoint_probe: give either -p PID or -- COMMAND\n");
    return 2;
  }
  // Before the program starts, so that it is watched from its first thread on.
  auto test = os::breakpoint_self_test();
  if (!test) {
    std::fprintf(stderr, "watchpoint_probe: hardware watchpoints unavailable: %s: %s\n", test.error().what.c_str(),
                 explain_watchpoint_error(test.error().code).c_str());
    return 77;
  }
  if (self_test) {
    std::cout << self_test_json(*test).dump() << "\n";
    return 0;
  }
  os::LaunchedChild child;
  if (no_watch) {   // the baseline: the same launch and reap, unwatched
    auto launched = os::launch_suspended(command, {});
    if (!launched) return 2;
    child = *launched;
    const std::uint64_t t0 = os::monotonic_ns();
    if (os::release_child(child) < 0) return 127;
    Reaped r = reap(child.pid, true);
    std::printf("watchpoint_probe unwatched wall_s=%.3f cpu_s=%.3f\n", double(r.at_ns - t0) / 1e9, r.cpu_s);
    return r.status;
  }
  std::uint64_t t0 = os::monotonic_ns();   // the program's start (launch) or the attach
  if (!command.empty()) {
    auto launched = os::launch_suspended(command, {});
    if (!launched) {
      std::fprintf(stderr, "watchpoint_probe: %s\n", launched.error().what.c_str());
      return 2;
    }
    child = *launched;
    t0 = os::monotonic_ns();
    if (int rc = os::release_child(child); rc < 0) {
      std::fprintf(stderr, "watchpoint_probe: cannot run %s: %s\n", command[0].c_str(), errno_name(-rc).c_str());
      return 127;
    }
    pid = child.pid;
  }
  WatchpointOptions options;
  options.path = *path;
  options.probes_per_second = rate;
  options.overhead_budget = budget;
  if (window_ms > 0) options.window_ns = static_cast<std::uint64_t>(window_ms * 1e6), options.adaptive_window = false;
  options.seed = seed;
  auto sampler = WatchpointSampler::attach(pid, probe_machine(), options, &*test);
  if (!sampler) {
    std::fprintf(stderr, "watchpoint_probe: %s\n", sampler.error().what.c_str());
    if (child.pid > 0) (void)os::wait_child(child.pid);
    return 77;
  }
  // Launch mode: reap the program the moment it exits, for its exact wall and CPU time.
  const std::uint64_t end = duration > 0 ? t0 + static_cast<std::uint64_t>(duration * 1e9) : UINT64_MAX;
  int status = 0;
  Reaped reaped;
  while (os::monotonic_ns() < end && (*sampler)->poll()) {
    if (child.pid > 0 && (reaped = reap(child.pid, false)).done) break;
    usleep(2000);
  }
  (*sampler)->stop();
  const double seconds = double(os::monotonic_ns() - t0) / 1e9;
  if (child.pid > 0 && !reaped.done) reaped = reap(child.pid, true);
  if (child.pid > 0) status = reaped.status;
  json out = result_json(**sampler, seconds, options.window_ns);
  if (child.pid > 0) out["program"] = {{"wall_s", double(reaped.at_ns - t0) / 1e9}, {"cpu_s", reaped.cpu_s}};
  const auto& c = out["counters"];
  if (out.contains("program"))
    std::printf("watchpoint_probe program wall_s=%.3f cpu_s=%.3f\n", out["program"]["wall_s"].get<double>(),
                out["program"]["cpu_s"].get<double>());
  std::printf("watchpoint_probe remote_share=%.4f hit_remote_share=%.4f hits=%llu cold=%llu armed=%llu refused=%llu path=%s rate=%.0f/s seconds=%.1f\n",
              out["remote_share"].get<double>(), out["hit_remote_share"].get<double>(), (unsigned long long)c["hits"].get<std::uint64_t>(),
              (unsigned long long)c["cold"].get<std::uint64_t>(), (unsigned long long)c["armed"].get<std::uint64_t>(),
              (unsigned long long)c["refused"].get<std::uint64_t>(), out["path"].get<std::string>().c_str(),
              out["probes_per_second"].get<double>(), seconds);
  // Where the hits were: per mapping, hits, how many of them remote, cold probes, median time to hit.
  struct PerMapping {
    std::uint64_t hits = 0, remote = 0, cold = 0;
    std::vector<std::uint64_t> tth;
  };
  std::map<std::uint64_t, PerMapping> by_mapping;
  for (const auto& h : (*sampler)->samples()) {
    auto& m = by_mapping[h.mapping];
    ++m.hits;
    m.remote += h.cpu_node >= 0 && h.memory_node >= 0 && h.cpu_node != h.memory_node;
    m.tth.push_back(h.time_to_hit_ns);
  }
  for (const auto& p : (*sampler)->cold()) ++by_mapping[p.mapping].cold;
  std::printf("watchpoint_probe polls=%llu taking %.0f ms (drain %.0f, threads %.0f, regions %.0f, arm %.0f); by mapping hits/remote/cold/median ms to hit:",
              (unsigned long long)c["polls"].get<std::uint64_t>(), c["poll_ms"].get<double>(), c["drain_ms"].get<double>(),
              c["threads_ms"].get<double>(), c["regions_ms"].get<double>(), c["arm_ms"].get<double>());
  for (auto& [start, m] : by_mapping) {
    std::sort(m.tth.begin(), m.tth.end());
    std::printf(" %#llx=%llu/%llu/%llu/%.1f", (unsigned long long)start, (unsigned long long)m.hits, (unsigned long long)m.remote,
                (unsigned long long)m.cold, m.tth.empty() ? 0.0 : double(m.tth[m.tth.size() / 2]) / 1e6);
  }
  std::printf("\n");
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(1) << "\n";
  return status;
}
