// The terminal for `numa-analyze top`: keys without Enter and without echo (termios), the window
// size, and waiting on several descriptors at once. Contract: os.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <optional>

#include "os.hpp"

namespace numa_agent::os {

// A terminal's settings as saved by terminal_enter_cbreak, to be handed back to terminal_restore.
// Opaque here (the termios struct lives only in terminal.cpp).
struct TerminalSettings {
  alignas(8) std::array<unsigned char, 128> bytes{};
};

// Saves `fd`'s settings and switches it to non-canonical mode without echo (single key presses,
// read returns at once when nothing is pending); signal keys (Ctrl-C) still raise SIGINT.
Result<TerminalSettings> terminal_enter_cbreak(int fd);
int terminal_restore(int fd, const TerminalSettings& saved);   // 0 or -errno

struct TerminalSize {
  int rows = 0, columns = 0;
};
std::optional<TerminalSize> terminal_size(int fd);   // TIOCGWINSZ; nullopt when not a terminal

// poll() for POLLIN on two descriptors (either may be -1): bit 0 set when `a` is readable, bit 1
// when `b` is; 0 on timeout or EINTR; -errno on failure.
int wait_readable_either(int a, int b, int timeout_ms);
// read(2) once: bytes read (0 at end of input or nothing pending), or -errno.
long read_some(int fd, char* buffer, std::size_t size);

}  // namespace numa_agent::os
