// quick_pair_bench: single-thread malloc+free pairs of 16..256 bytes with a small live window (64
// slots), for a side-by-side figure of allocators chosen by LD_PRELOAD. Prints ns per pair.
// Not a test (timings are no assertion); bench/ holds the project's real benchmarks.
//
//   quick_pair_bench [pairs=20000000]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const long pairs = argc > 1 ? std::atol(argv[1]) : 20000000;
  void* window[64] = {};
  std::uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 64; ++i) window[i] = std::malloc(64);
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < pairs; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const unsigned slot = x & 63;
    std::free(window[slot]);
    window[slot] = std::malloc(16 + ((x >> 8) & 15) * 16);
    static_cast<char*>(window[slot])[0] = 1;
  }
  auto t1 = std::chrono::steady_clock::now();
  for (void* p : window) std::free(p);
  std::printf("%.2f ns per malloc+free pair\n",
              std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(pairs));
}
