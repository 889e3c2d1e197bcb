// role_target: a program with two roles that live long enough for `numa-analyze record` to see
// every thread, for the report's role column (issue 19).
//
//   role_target [--ingest N] [--workers N] [--seconds S]
//
// Ingest threads start in the static function ingest_loop (a start= rule finds it in the ELF
// symbol table) and keep the name they inherit; workers start in worker_loop and name themselves
// worker-<k> (a name= rule places them again). Every thread writes its own 1 MiB buffer now and
// then and otherwise sleeps, until S seconds (default 1) have passed. Once all are named it prints
//   ready ingest=<tid>,<tid> worker=<tid>,<tid> main=<tid>
// Test helper: uses the OS directly.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stop{false};
std::atomic<int> named{0};

struct Slot {
  long index = 0;
  std::atomic<int> tid{0};
};

void work_until_stopped() {
  std::vector<char> buffer(1 << 20);
  while (!stop.load()) {
    std::memset(buffer.data(), 1, buffer.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

// Static: not in the dynamic symbol table, as a role's start routine often is not.
static void* ingest_loop(void* arg) {
  auto* slot = static_cast<Slot*>(arg);
  slot->tid = static_cast<int>(gettid());
  named.fetch_add(1);
  work_until_stopped();
  return nullptr;
}

static void* worker_loop(void* arg) {
  auto* slot = static_cast<Slot*>(arg);
  pthread_setname_np(pthread_self(), ("worker-" + std::to_string(slot->index)).c_str());
  slot->tid = static_cast<int>(gettid());
  named.fetch_add(1);
  work_until_stopped();
  return nullptr;
}

int main(int argc, char** argv) {
  long ingest = 2, workers = 2;
  double seconds = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--ingest") ingest = std::atol(argv[i + 1]);
    else if (a == "--workers") workers = std::atol(argv[i + 1]);
    else if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "role_target: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (argc % 2 == 0 || ingest < 0 || workers < 0 || ingest + workers > 64 || seconds < 0) {
    std::fprintf(stderr, "usage: role_target [--ingest N] [--workers N] [--seconds S] (at most 64 threads)\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Slot> slots(static_cast<std::size_t>(ingest + workers));
  std::vector<pthread_t> threads(slots.size());
  for (std::size_t k = 0; k < slots.size(); ++k) {
    const bool is_ingest = static_cast<long>(k) < ingest;
    slots[k].index = is_ingest ? static_cast<long>(k) : static_cast<long>(k) - ingest;
    if (pthread_create(&threads[k], nullptr, is_ingest ? ingest_loop : worker_loop, &slots[k]) != 0) return 3;
  }
  while (named.load() < static_cast<int>(slots.size())) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::string line = "ready ingest=";
  for (std::size_t k = 0; k < slots.size(); ++k) {
    if (static_cast<long>(k) == ingest) line += " worker=";
    else if (k > 0) line += ",";
    line += std::to_string(slots[k].tid.load());
  }
  if (ingest == static_cast<long>(slots.size())) line += " worker=";
  std::printf("%s main=%d\n", line.c_str(), static_cast<int>(gettid()));
  std::fflush(stdout);
  std::this_thread::sleep_until(t0 + std::chrono::duration<double>(seconds));
  stop = true;
  for (auto t : threads) pthread_join(t, nullptr);
  return 0;
}
