// vm_check: assertions that guest tests run inside a numa-vm guest (busybox has no Python).
// Each subcommand prints one "ok"/"FAIL" line per check and exits 1 if any check failed.
//
//   vm_check topology  --profile P --node-cpus "0-1/2-3" [--distances "10,21/21,10"]
//       The agent's profile (agent/PROFILE_SCHEMA.md) lists exactly these nodes, in this order,
//       with these CPUs and this SLIT; the guest's /sys agrees (so the guest is what was asked).
//   vm_check placement --report FILE --expect-cpus 0,2,1,3
//       thread_report lines: thread of ordinal k runs on, and is allowed only, CPU k of the list,
//       and reports the node that /sys gives for that CPU.
//   vm_check profile-threads --profile P --expect-cpus 0,2,1,3
//       The profile's thread records agree: ordinal k pinned to that CPU, on that CPU's node.
//   vm_check first-touch
//       For every node: a page first touched from that node's CPUs is on that node, as
//       move_pages (query mode) reports it. Proves move_pages and first-touch work in the guest.
// Test program: it reads /sys directly on purpose, as the ground truth for the agent's view.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

class Checks {
 public:
  void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++failures_;
  }
  int exit_code() const {
    if (failures_) std::printf("%d check(s) failed\n", failures_);
    return failures_ ? 1 : 0;
  }

 private:
  int failures_ = 0;
};

// Rows of a matrix or per-node lists: ';' or '/' between rows ('/' survives CMake lists).
std::vector<std::string> split_rows(std::string text) {
  for (auto& c : text)
    if (c == '/') c = ';';
  std::vector<std::string> rows;
  std::string row;
  std::istringstream in(text);
  while (std::getline(in, row, ';')) rows.push_back(row);
  return rows;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\n");
  const auto e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<int> parse_ints(const std::string& text, char sep) {
  std::vector<int> v;
  for (const auto& p : split(text, sep)) {
    const auto t = trim(p);
    if (!t.empty()) v.push_back(std::stoi(t));
  }
  return v;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /sys truth: node → cpulist, node → distance row, cpu → node.
std::optional<std::string> sys_node_cpus(int node) {
  auto t = read_file("/sys/devices/system/node/node" + std::to_string(node) + "/cpulist");
  if (!t) return std::nullopt;
  return trim(*t);
}

std::vector<int> sys_node_distances(int node) {
  auto t = read_file("/sys/devices/system/node/node" + std::to_string(node) + "/distance");
  return t ? parse_ints(*t, ' ') : std::vector<int>{};
}

std::vector<int> expand_cpu_list(const std::string& list) {   // "0-1,4" → {0,1,4}
  std::vector<int> cpus;
  for (const auto& part : split(trim(list), ',')) {
    if (part.empty()) continue;
    const auto dash = part.find('-');
    const int lo = std::stoi(part.substr(0, dash));
    const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
  }
  return cpus;
}

int sys_node_of_cpu(int cpu) {
  for (int node = 0; node < 64; ++node) {
    auto cpus = sys_node_cpus(node);
    if (!cpus) continue;
    for (int c : expand_cpu_list(*cpus))
      if (c == cpu) return node;
  }
  return -1;
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

nlohmann::json load_profile(const std::string& path, Checks& checks) {
  auto text = read_file(path);
  checks.expect(text.has_value(), "profile " + path + " exists");
  if (!text) return nullptr;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  checks.expect(!j.is_discarded(), "profile " + path + " is valid JSON");
  if (j.is_discarded()) return nullptr;
  checks.expect(j.value("schema", "") == "numa-agent-profile/1",
                "profile schema is numa-agent-profile/1 (got '" + j.value("schema", "") + "')");
  return j;
}

int check_topology(const std::string& profile_path, const std::string& node_cpus_text,
                   const std::string& distances_text) {
  Checks checks;
  const auto expected_cpus = split_rows(node_cpus_text);
  const int n = static_cast<int>(expected_cpus.size());

  // The guest itself first: if QEMU built another machine, the agent is not to blame.
  for (int node = 0; node < n; ++node) {
    auto sys = sys_node_cpus(node);
    checks.expect(sys && *sys == trim(expected_cpus[node]),
                  "guest /sys node" + std::to_string(node) + " cpus '" + sys.value_or("missing") +
                      "' == '" + trim(expected_cpus[node]) + "'");
  }
  checks.expect(!sys_node_cpus(n).has_value(), "guest has no node" + std::to_string(n));

  const auto profile = load_profile(profile_path, checks);
  if (profile.is_null()) return checks.exit_code();
  const auto& topo = profile.at("topology");
  const auto& nodes = topo.at("nodes");
  checks.expect(nodes.is_array() && static_cast<int>(nodes.size()) == n,
                "agent sees " + std::to_string(nodes.size()) + " node(s), expected " + std::to_string(n));
  for (int i = 0; i < n && i < static_cast<int>(nodes.size()); ++i) {
    const auto& node = nodes[i];
    checks.expect(node.value("index", -1) == i && node.value("os_index", -1) == i,
                  "node " + std::to_string(i) + " index/os_index == " + std::to_string(i));
    checks.expect(node.value("cpus", "") == trim(expected_cpus[i]),
                  "node " + std::to_string(i) + " cpus '" + node.value("cpus", "") + "' == '" +
                      trim(expected_cpus[i]) + "'");
    checks.expect(node.value("memory_bytes", 0ull) > 0, "node " + std::to_string(i) + " has memory");
  }

  if (!distances_text.empty()) {
    const auto rows = split_rows(distances_text);
    const auto& distances = topo.at("distances");
    checks.expect(distances.is_array() && distances.size() == rows.size(),
                  "distance matrix has " + std::to_string(rows.size()) + " rows");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto expected = parse_ints(rows[i], ',');
      std::vector<int> got;
      if (i < distances.size()) got = distances[i].get<std::vector<int>>();
      checks.expect(got == expected, "agent distances row " + std::to_string(i) + " [" + join(got) +
                                         "] == [" + join(expected) + "]");
      const auto sys = sys_node_distances(static_cast<int>(i));
      checks.expect(sys == expected, "guest /sys node" + std::to_string(i) + "/distance [" + join(sys) +
                                         "] == [" + join(expected) + "]");
    }
  }
  return checks.exit_code();
}

int check_placement(const std::string& report_path, const std::vector<int>& expected_cpus) {
  Checks checks;
  auto text = read_file(report_path);
  checks.expect(text.has_value(), "report " + report_path + " exists");
  if (!text) return checks.exit_code();
  static const std::regex line_re(
      R"(thread ordinal=(\d+) tid=(\d+) cpu=(-?\d+) node=(-?\d+) allowed=(\S+))");
  std::vector<std::string> lines = split(*text, '\n');
  std::map<int, std::string> raw;
  for (const auto& line : lines) {
    std::smatch m;
    if (std::regex_search(line, m, line_re)) {
      const int ordinal = std::stoi(m[1]);
      checks.expect(!raw.count(ordinal), "one line for ordinal " + std::to_string(ordinal));
      raw[ordinal] = line;
    }
  }
  checks.expect(raw.size() == expected_cpus.size(), "report has " + std::to_string(raw.size()) +
                                                        " thread lines, expected " +
                                                        std::to_string(expected_cpus.size()));
  for (std::size_t k = 0; k < expected_cpus.size(); ++k) {
    const int ordinal = static_cast<int>(k);
    const int want_cpu = expected_cpus[k];
    const int want_node = sys_node_of_cpu(want_cpu);
    auto it = raw.find(ordinal);
    if (it == raw.end()) {
      checks.expect(false, "ordinal " + std::to_string(ordinal) + " reported");
      continue;
    }
    std::smatch m;
    std::regex_search(it->second, m, line_re);
    const int cpu = std::stoi(m[3]);
    const int node = std::stoi(m[4]);
    const std::string allowed = m[5];
    checks.expect(cpu == want_cpu && allowed == std::to_string(want_cpu) && node == want_node,
                  "ordinal " + std::to_string(ordinal) + ": cpu=" + std::to_string(cpu) + " node=" +
                      std::to_string(node) + " allowed=" + allowed + "; expected cpu=" +
                      std::to_string(want_cpu) + " node=" + std::to_string(want_node) +
                      " allowed=" + std::to_string(want_cpu));
  }
  return checks.exit_code();
}

int check_profile_threads(const std::string& profile_path, const std::vector<int>& expected_cpus) {
  Checks checks;
  const auto profile = load_profile(profile_path, checks);
  if (profile.is_null()) return checks.exit_code();
  const auto& threads = profile.at("threads");
  const auto& nodes = profile.at("topology").at("nodes");
  for (std::size_t k = 0; k < expected_cpus.size(); ++k) {
    const nlohmann::json* record = nullptr;
    for (const auto& t : threads)
      if (t.value("ordinal", -1) == static_cast<int>(k)) record = &t;
    if (!record) {
      checks.expect(false, "profile has a thread record with ordinal " + std::to_string(k));
      continue;
    }
    const int want_os_node = sys_node_of_cpu(expected_cpus[k]);
    const int node_index = record->value("node", -1);
    int os_node = -1;
    if (node_index >= 0 && node_index < static_cast<int>(nodes.size()))
      os_node = nodes[node_index].value("os_index", -1);
    checks.expect(record->value("pinned", false) &&
                      record->value("cpus", "") == std::to_string(expected_cpus[k]) &&
                      os_node == want_os_node,
                  "profile ordinal " + std::to_string(k) + ": pinned=" +
                      (record->value("pinned", false) ? "true" : "false") + " cpus=" +
                      record->value("cpus", "") + " node(os)=" + std::to_string(os_node) +
                      "; expected cpus=" + std::to_string(expected_cpus[k]) +
                      " node(os)=" + std::to_string(want_os_node));
  }
  return checks.exit_code();
}

int check_first_touch() {
  Checks checks;
  const long page_size = sysconf(_SC_PAGESIZE);
  cpu_set_t original;
  sched_getaffinity(0, sizeof original, &original);
  for (int node = 0; node < 64; ++node) {
    const auto cpus = sys_node_cpus(node);
    if (!cpus) continue;
    if (cpus->empty()) continue;   // memory-only node
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : expand_cpu_list(*cpus)) CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
      checks.expect(false, "pin to node " + std::to_string(node) + " cpus " + *cpus);
      continue;
    }
    void* page = mmap(nullptr, static_cast<std::size_t>(page_size), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
      checks.expect(false, "mmap a page");
      continue;
    }
    static_cast<volatile char*>(page)[0] = 1;   // first touch, from this node
    int status = -1000;
    const long rc = syscall(SYS_move_pages, 0, 1UL, &page, nullptr, &status, 0);
    checks.expect(rc == 0 && status == node, "page first touched from node " + std::to_string(node) +
                                                 " cpus " + *cpus + " is on node " +
                                                 std::to_string(status) + " (move_pages rc " +
                                                 std::to_string(rc) + ")");
    munmap(page, static_cast<std::size_t>(page_size));
  }
  sched_setaffinity(0, sizeof original, &original);
  return checks.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vm_check: assertions for numa-vm guest tests"};
  app.require_subcommand(1);
  std::string profile, node_cpus, distances, report, expect_cpus_text;

  auto* topology = app.add_subcommand("topology", "the agent's profile shows the guest's nodes and distances");
  topology->add_option("--profile", profile, "profile JSON")->required();
  topology->add_option("--node-cpus", node_cpus, "expected CPUs per node, ';' or '/' between nodes (\"0-1/2-3\")")->required();
  topology->add_option("--distances", distances, "expected SLIT rows, ';' or '/' between rows (\"10,21/21,10\")");

  auto* placement = app.add_subcommand("placement", "thread_report lines match the expected CPUs");
  placement->add_option("--report", report, "thread_report output")->required();
  placement->add_option("--expect-cpus", expect_cpus_text, "CPU of ordinal 0,1,2,...")->required();

  auto* threads = app.add_subcommand("profile-threads", "the profile's thread records match the expected CPUs");
  threads->add_option("--profile", profile, "profile JSON")->required();
  threads->add_option("--expect-cpus", expect_cpus_text, "CPU of ordinal 0,1,2,...")->required();

  auto* first_touch = app.add_subcommand("first-touch", "move_pages reports each node's first-touched page on that node");

  CLI11_PARSE(app, argc, argv);
  try {
    if (topology->parsed()) return check_topology(profile, node_cpus, distances);
    if (placement->parsed()) return check_placement(report, parse_ints(expect_cpus_text, ','));
    if (threads->parsed()) return check_profile_threads(profile, parse_ints(expect_cpus_text, ','));
    if (first_touch->parsed()) return check_first_touch();
  } catch (const std::exception& e) {   // malformed profile or arguments: a failed check, said once
    std::printf("FAIL %s\n", e.what());
    return 1;
  }
  return 2;
}
