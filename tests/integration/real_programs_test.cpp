// Real Debian programs that create threads: identical output with and without the agent.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>

#include "../support/run_under_agent.hpp"

using namespace numa_agent::test;

namespace {
std::string make_input(const std::string& name, std::size_t bytes) {
  const std::string path = "/tmp/numa-agent-input-" + name;
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(42);
  const char* words[] = {"numa ", "node ", "thread ", "remote ", "local ", "page ", "\n"};
  for (std::size_t n = 0; n < bytes;) {
    const char* w = words[rng() % 7];
    out << w;
    n += std::char_traits<char>::length(w);
  }
  return path;
}

void same_output(const std::vector<std::string>& argv, const std::string& stdin_path = "/dev/null") {
  INFO(argv[0]);
  auto plain = run_program(argv, {.stdin_path = stdin_path});
  auto agent = run_under_agent(argv, {.stdin_path = stdin_path});
  REQUIRE(plain.status == 0);
  CHECK(agent.status == 0);
  CHECK(agent.out.size() == plain.out.size());
  CHECK(agent.out == plain.out);
  CHECK(agent.err == plain.err);
}
}  // namespace

TEST_CASE("xz -T2 compresses byte-identically under the agent") {
  const std::string input = make_input("xz", 8u << 20);
  same_output({"xz", "-T2", "-c", "-3", input});
}

TEST_CASE("python3 threading gives the same result under the agent") {
  same_output({"python3", "-c",
               "import threading, hashlib\n"
               "out = [None]*8\n"
               "def work(i):\n"
               "    h = hashlib.sha256()\n"
               "    for k in range(20000): h.update(str(i*k).encode())\n"
               "    out[i] = h.hexdigest()\n"
               "ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n"
               "[t.start() for t in ts]; [t.join() for t in ts]\n"
               "print('\\n'.join(out))\n"});
}

TEST_CASE("sort --parallel sorts identically under the agent") {
  const std::string input = make_input("sort", 4u << 20);
  same_output({"sort", "--parallel=4", "-S", "1M", input});
}
