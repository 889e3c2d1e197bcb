// `top`'s live model. TopSampler polls a running process through /proc (thread CPUs, sched NUMA
// faults, numa_maps, vmstat), keeps the evidence since top started as a Recording, and scores it
// with build_report like every other view: top renders that report model plus what only a live
// view has (each thread's current CPU and node, migrations since the previous refresh, the
// system-wide hint-fault locality of the last interval). render_top_frame is pure.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzer/model/recording.hpp"

namespace numa_agent::analyzer {

// The process cannot be watched at all (no such PID, zombie): a one-line message.
struct TopError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TopThread {
  int tid = 0;
  std::string name;
  int cpu = -1;                               // CPU it last ran on
  int node = -1;                              // node index of that CPU
  std::uint64_t node_migrations_interval = 0; // node changes seen since the previous refresh
};

struct TopFrame {
  int pid = 0;
  std::string command;
  double elapsed_s = 0, interval_s = 0;
  nlohmann::json report;                      // build_report of the evidence since top started
  std::vector<TopThread> threads;             // live threads, in /proc order
  // /proc/vmstat over the last interval, system-wide: hint faults and the local share of them.
  std::uint64_t hint_faults_interval = 0;
  std::optional<double> hint_fault_locality_interval;
  std::vector<std::string> notes;             // evidence top could not read, and why
};

class TopSampler {
 public:
  // Throws TopError when `pid` does not exist or is a zombie.
  TopSampler(int pid, MachineInfo machine);
  // One residency poll of every thread's CPU. False once the process has exited.
  bool poll_threads();
  // numa_maps, maps, sched and vmstat; then the frame. nullopt once the process has exited.
  std::optional<TopFrame> refresh(double interval_s);

 private:
  struct ThreadState {
    ThreadRecord record;
    int cpu = -1, node = -1;
    std::uint64_t node_migrations_at_refresh = 0;
    std::optional<std::uint64_t> first_nr_migrations;
    bool alive = false;
  };
  std::string proc(const std::string& leaf) const { return "/proc/" + std::to_string(pid_) + "/" + leaf; }
  double now_s() const;

  int pid_;
  Recording rec_;
  std::vector<int> cpu_node_;
  std::uint64_t start_ns_ = 0;
  std::map<int, ThreadState> threads_;
  std::vector<int> thread_order_;                 // tids in the order /proc listed them last
  std::map<std::string, std::uint64_t> vmstat_start_, vmstat_last_;
  std::uint64_t polls_ = 0;
  int numa_maps_error_ = 0, sched_error_ = 0;
  int numa_maps_reads_ = 0;
};

enum class TopSort { Node, Score, Migrations };

struct TopLayout {
  TopSort sort = TopSort::Node;
  int columns = 0;   // 0: no limit (plain mode)
  int rows = 0;      // 0: no limit
};
// The screen (or the plain block) for a frame, one string per line, without ANSI sequences.
std::vector<std::string> render_top_frame(const TopFrame& frame, const TopLayout& layout);

}  // namespace numa_agent::analyzer
