// kat_handoff [--seconds S]: producers on the first node (one per CPU there, pinned to the node)
// malloc 64 KiB messages, fill them and queue them; consumers on the other nodes (one per CPU)
// read each message, sum it and free it: every message crosses nodes once (on a one-node machine
// the node's CPUs are split between the two roles). Runs S seconds (default 3).
// Prints the KAT truth line (kat_truth.hpp); expect colocate or pin-threads (run the consumers
// with their producers), naming the producers' malloc.
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "kat_truth.hpp"

namespace {

constexpr std::size_t kPayload = 64 * 1024 / sizeof(double) - 8;   // a 64 KiB block with malloc's header

struct Message {
  std::size_t sequence;
  double payload[kPayload];
};

// A bounded queue: producers wait when consumers fall behind, as any pipeline does.
class Queue {
 public:
  void push(Message* m) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < kCapacity; });
    items_.push_back(m);
    not_empty_.notify_one();
  }
  Message* pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty(); });
    Message* m = items_.front();
    items_.pop_front();
    not_full_.notify_one();
    return m;
  }

 private:
  static constexpr std::size_t kCapacity = 32;
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Message*> items_;
};

kat::Site malloc_site;
std::mutex site_mutex;

void produce(int node, Queue& queue, kat::Clock::time_point deadline, kat::Truth& truth) {
  kat::run_on_node(node);
  kat::Tally tally;
  kat::PageNodes pages;
  std::size_t sequence = 0;
  while (kat::Clock::now() < deadline) {
    kat::Site site = KAT_SITE(); auto* m = static_cast<Message*>(std::malloc(sizeof(Message)));
    if (m == nullptr) break;
    if (sequence == 0) {
      std::lock_guard<std::mutex> lock(site_mutex);
      malloc_site = site;
    }
    m->sequence = sequence++;
    const int cpu_node = kat::Machine::get().node_of(sched_getcpu());
    for (std::size_t i = 0; i < kPayload; ++i) m->payload[i] = static_cast<double>(m->sequence + i);
    pages.query(m->payload, sizeof m->payload);
    tally.touched(pages, m->payload, sizeof m->payload, cpu_node);
    queue.push(m);
  }
  truth.merge(tally);
}

void consume(int node, Queue& queue, kat::Truth& truth, double* checksum) {
  kat::run_on_node(node);
  kat::Tally tally;
  kat::PageNodes pages;
  double sum = 0;
  while (Message* m = queue.pop()) {
    const int cpu_node = kat::Machine::get().node_of(sched_getcpu());
    for (std::size_t i = 0; i < kPayload; ++i) sum += m->payload[i];
    pages.query(m->payload, sizeof m->payload);
    tally.touched(pages, m->payload, sizeof m->payload, cpu_node);
    std::free(m);
  }
  *checksum = sum;
  truth.merge(tally);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = kat::seconds_option(argc, argv);
  const auto& machine = kat::Machine::get();
  const auto nodes = kat::nodes_with_cpus();
  std::vector<int> producer_nodes, consumer_nodes;   // one entry per thread: the node it runs on
  for (std::size_t c = 0; c < machine.cpus_of_node[static_cast<std::size_t>(nodes[0])].size(); ++c)
    producer_nodes.push_back(nodes[0]);
  for (std::size_t i = 1; i < nodes.size(); ++i)
    for (std::size_t c = 0; c < machine.cpus_of_node[static_cast<std::size_t>(nodes[i])].size(); ++c)
      consumer_nodes.push_back(nodes[i]);
  if (consumer_nodes.empty()) {   // one node: half its CPUs consume
    consumer_nodes.assign(std::max<std::size_t>(producer_nodes.size() / 2, 1), nodes[0]);
    producer_nodes.resize(std::max<std::size_t>(producer_nodes.size() - consumer_nodes.size(), 1));
  }
  const auto t0 = kat::Clock::now();
  const auto deadline = kat::after(t0, seconds);
  kat::Truth truth;
  Queue queue;
  std::vector<double> checksums(consumer_nodes.size());
  std::vector<std::thread> producers, consumers;
  for (std::size_t i = 0; i < consumer_nodes.size(); ++i)
    consumers.emplace_back(consume, consumer_nodes[i], std::ref(queue), std::ref(truth), &checksums[i]);
  for (int node : producer_nodes) producers.emplace_back(produce, node, std::ref(queue), deadline, std::ref(truth));
  for (auto& t : producers) t.join();
  for (std::size_t i = 0; i < consumers.size(); ++i) queue.push(nullptr);   // one end mark per consumer
  for (auto& t : consumers) t.join();
  truth.print("handoff", "colocate,pin-threads", malloc_site, static_cast<int>(producers.size() + consumers.size()),
              kat::since(t0));
  double sum = 0;
  for (double c : checksums) sum += c;
  std::printf("checksum %.6g\n", sum);
  return 0;
}
