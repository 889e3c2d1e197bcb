// CpuSet: a fixed-size set of OS CPU indices. Fixed size (no allocation) so that it can be used on
// thread start-up paths that run before the pools are ready.
#pragma once
#include <bitset>
#include <cstddef>
#include <string>
#include <vector>

namespace numa_agent {

class CpuSet {
 public:
  static constexpr int kMaxCpus = 1024;  // glibc's CPU_SETSIZE

  CpuSet() = default;
  static CpuSet of(std::initializer_list<int> cpus) {
    CpuSet s;
    for (int c : cpus) s.add(c);
    return s;
  }

  bool add(int cpu) {
    if (cpu < 0 || cpu >= kMaxCpus) return false;
    bits_.set(static_cast<std::size_t>(cpu));
    return true;
  }
  void remove(int cpu) {
    if (cpu >= 0 && cpu < kMaxCpus) bits_.reset(static_cast<std::size_t>(cpu));
  }
  bool contains(int cpu) const {
    return cpu >= 0 && cpu < kMaxCpus && bits_.test(static_cast<std::size_t>(cpu));
  }
  int count() const { return static_cast<int>(bits_.count()); }
  bool empty() const { return bits_.none(); }
  // Lowest CPU in the set, or -1.
  int first() const { return next(-1); }
  // Lowest CPU greater than `after`, or -1.
  int next(int after) const {
    for (int c = after + 1; c < kMaxCpus; ++c)
      if (bits_.test(static_cast<std::size_t>(c))) return c;
    return -1;
  }
  CpuSet operator&(const CpuSet& o) const { CpuSet r; r.bits_ = bits_ & o.bits_; return r; }
  CpuSet operator|(const CpuSet& o) const { CpuSet r; r.bits_ = bits_ | o.bits_; return r; }
  CpuSet& operator|=(const CpuSet& o) { bits_ |= o.bits_; return *this; }
  bool operator==(const CpuSet& o) const = default;

  std::vector<int> to_vector() const {
    std::vector<int> v;
    for (int c = first(); c >= 0; c = next(c)) v.push_back(c);
    return v;
  }
  // The kernel's list format ("0-3,8"), as in /proc/PID/status Cpus_allowed_list.
  std::string to_list_string() const;

 private:
  std::bitset<kMaxCpus> bits_;
};

}  // namespace numa_agent
