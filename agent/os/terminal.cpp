// See terminal.hpp.
#include "terminal.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace numa_agent::os {

static_assert(sizeof(termios) <= sizeof(TerminalSettings::bytes), "TerminalSettings too small for termios");

Result<TerminalSettings> terminal_enter_cbreak(int fd) {
  termios current{};
  if (tcgetattr(fd, &current) != 0) return fail(errno, "tcgetattr");
  TerminalSettings saved;
  std::memcpy(saved.bytes.data(), &current, sizeof current);
  termios raw = current;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSANOW, &raw) != 0) return fail(errno, "tcsetattr");
  return saved;
}

int terminal_restore(int fd, const TerminalSettings& saved) {
  termios t{};
  std::memcpy(&t, saved.bytes.data(), sizeof t);
  return tcsetattr(fd, TCSANOW, &t) == 0 ? 0 : -errno;
}

std::optional<TerminalSize> terminal_size(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return std::nullopt;
  return TerminalSize{ws.ws_row, ws.ws_col};
}

int wait_readable_either(int a, int b, int timeout_ms) {
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  int r = poll(fds, 2, timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : -errno;
  int bits = 0;
  if (a >= 0 && (fds[0].revents & (POLLIN | POLLHUP))) bits |= 1;
  if (b >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) bits |= 2;
  return bits;
}

long read_some(int fd, char* buffer, std::size_t size) {
  ssize_t n;
  do n = read(fd, buffer, size); while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : static_cast<long>(n);
}

}  // namespace numa_agent::os
