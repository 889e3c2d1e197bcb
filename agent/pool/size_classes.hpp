// Size classes of the pools. 16-byte steps up to 128 B, then four classes per power of two up to
// 32 KiB (at most 25 % internal waste). Every power of two from 16 B to 32 KiB is itself a class, so
// a power-of-two request is served by blocks that are naturally aligned to their size (spans are
// 64 KiB-aligned and blocks sit at multiples of the block size): the aligned entry points need no
// special layout.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace numa_agent::pool {

inline constexpr std::size_t kMinBlock = 16;
inline constexpr std::size_t kMaxClassBytes = 32 * 1024;          // largest NUMA_AGENT_SMALL_MAX
inline constexpr std::size_t kLookupSlots = kMaxClassBytes / 16 + 1;  // (n+15)/16 for n <= 32 KiB
inline constexpr std::size_t kOverflowSlot = kLookupSlots;        // any larger n

inline constexpr std::array<std::uint32_t, 40> kClassBytes = [] {
  std::array<std::uint32_t, 40> sizes{};
  std::size_t i = 0;
  for (std::uint32_t s = 16; s <= 128; s += 16) sizes[i++] = s;
  for (std::uint32_t base = 128; base < kMaxClassBytes; base *= 2)
    for (std::uint32_t step = 1; step <= 4; ++step) sizes[i++] = base + step * (base / 4);
  return sizes;
}();
inline constexpr unsigned kClassCount = kClassBytes.size();
// One past the real classes: the class of requests the pools never serve. A heap's current span
// for it is always the empty span, so the fast path's only branch sends such requests to the slow
// path without a separate size test.
inline constexpr unsigned kOverflowClass = kClassCount;
inline constexpr unsigned kClassSlots = kClassCount + 1;

// (n + 15) / 16 → class, for every n up to 32 KiB; kOverflowSlot → kOverflowClass.
inline constexpr std::array<std::uint8_t, kLookupSlots + 1> kClassOfSlot = [] {
  std::array<std::uint8_t, kLookupSlots + 1> table{};
  unsigned cls = 0;
  for (std::size_t slot = 0; slot < kLookupSlots; ++slot) {
    while (kClassBytes[cls] < slot * 16) ++cls;
    table[slot] = static_cast<std::uint8_t>(cls);
  }
  table[kOverflowSlot] = static_cast<std::uint8_t>(kOverflowClass);
  return table;
}();

// Class of a request of n bytes (kOverflowClass above 32 KiB). Branch-free: a conditional move.
[[gnu::always_inline]] inline unsigned class_of(std::size_t n) {
  std::size_t slot = (n >> 4) + ((n & 15) != 0);   // (n + 15) / 16 without overflow near SIZE_MAX
  slot = slot < kOverflowSlot ? slot : kOverflowSlot;
  return kClassOfSlot[slot];
}

inline constexpr std::size_t class_bytes(unsigned cls) { return kClassBytes[cls]; }

static_assert(kClassBytes[kClassCount - 1] == kMaxClassBytes);
static_assert([] {
  for (std::size_t p = 16; p <= kMaxClassBytes; p *= 2) {
    bool found = false;
    for (auto s : kClassBytes) found |= s == p;
    if (!found) return false;
  }
  return true;
}(), "every power of two up to 32 KiB must be a class (natural alignment)");

}  // namespace numa_agent::pool
