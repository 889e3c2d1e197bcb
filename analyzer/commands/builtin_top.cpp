// numa-analyze top -p PID: a live per-thread and per-node view of a running program, refreshed in
// place on a terminal (alternate screen; keys q, s, m, n), or one block per interval when stdout
// is not a terminal (or --plain). Ctrl-C / SIGTERM arrive on a signalfd, so the terminal is
// always restored by the same path as 'q'. Exit: 0 (quit, interrupted, --iterations done, or the
// process exited: "numa-analyze: process N exited"), 2 when the PID cannot be watched (none, a
// zombie, or its /proc unreadable), 3 on an unexpected failure.
// Each refresh is the chain: sample (evidence) -> build_report (rules) -> render_top_frame (view).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <exception>
#include <optional>
#include <string>

#include "agent/os/launch.hpp"
#include "agent/os/perf_event.hpp"
#include "agent/os/terminal.hpp"
#include "analyzer/commands/commands.hpp"
#include "analyzer/evidence/probe.hpp"
#include "analyzer/evidence/top_sampler.hpp"
#include "analyzer/model/report.hpp"
#include "analyzer/rules/report.hpp"
#include "analyzer/views/top_frame.hpp"

namespace numa_agent::analyzer {
namespace {

struct TopArgs {
  int pid = 0;
  double interval_s = 2.0;
  int iterations = 0;   // 0: until quit
  bool plain = false;
  double watch_rate = 0;
  bool no_watch = false;
};

constexpr const char* kEnterScreen = "\033[?1049h\033[?25l";   // alternate screen, hide cursor
constexpr const char* kLeaveScreen = "\033[?25h\033[?1049l";   // show cursor, main screen

void write_stdout(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

// The terminal while top owns it; the destructor gives it back on every exit path.
class TerminalSession {
 public:
  TerminalSession() {
    if (os::is_terminal(0)) {
      auto saved = os::terminal_enter_cbreak(0);
      if (auto* s = (saved ? &*saved : nullptr)) saved_ = *s;
    }
    write_stdout(kEnterScreen);
  }
  ~TerminalSession() {
    write_stdout(kLeaveScreen);
    if (saved_) os::terminal_restore(0, *saved_);
  }
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;
  bool keys() const { return saved_.has_value(); }

 private:
  std::optional<os::TerminalSettings> saved_;
};

std::string screen_text(const std::vector<std::string>& lines) {
  std::string out = "\033[H";
  for (std::size_t i = 0; i < lines.size(); ++i) out += lines[i] + "\033[K" + (i + 1 < lines.size() ? "\n" : "");
  return out + "\033[J";
}

std::string block_text(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    std::string trimmed = l;
    while (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
    out += trimmed + "\n";
  }
  return out + "\n";
}

enum class Ending { Quit, Exited, Done };

int run_top(const TopArgs& args) {
  if (args.interval_s < 0.1) {
    print_error("top: --interval must be at least 0.1 s");
    return kExitBadInput;
  }
  auto sampler = TopSampler::watch(args.pid, probe_machine());
  if (!sampler) {
    print_error(sampler.error().what);
    return kExitBadInput;
  }
  const bool screen = !args.plain && os::is_terminal(1);
  int interrupt_fd = os::interrupt_fd_open();
  // After the signals are blocked: the sampler's thread inherits the mask (Ctrl-C stays ours).
  if (!args.no_watch) {
    WatchpointOptions watch;
    watch.probes_per_second = args.watch_rate;
    sampler->watch_accesses(watch);
  }
  std::optional<TerminalSession> terminal;
  if (screen) terminal.emplace();
  const bool keys = terminal && terminal->keys();

  TopLayout layout;
  std::optional<TopFrame> last;
  auto draw = [&] {
    if (!last) return;
    if (screen) {
      auto size = os::terminal_size(1);
      layout.rows = size ? size->rows : 24;
      layout.columns = size ? size->columns : 80;
      write_stdout(screen_text(render_top_frame(*last, layout)));
    } else {
      write_stdout(block_text(render_top_frame(*last, layout)));
    }
  };

  const int poll_ms = std::min(250, static_cast<int>(args.interval_s * 1000));
  const std::uint64_t interval_ns = static_cast<std::uint64_t>(args.interval_s * 1e9);
  // The first frame comes after a short warm-up (a few residency polls), later ones every interval.
  std::uint64_t next_refresh = os::monotonic_ns() + std::min<std::uint64_t>(interval_ns, 500'000'000ULL);
  int frames = 0;
  Ending ending = Ending::Quit;
  for (;;) {
    std::uint64_t now = os::monotonic_ns();
    if (now >= next_refresh) {
      auto sample = sampler->refresh(args.interval_s);
      if (!sample) {
        ending = Ending::Exited;
        break;
      }
      last = TopFrame{{std::move(*sample)}, build_report(sampler->recording())};
      draw();
      next_refresh = now + interval_ns;
      if (args.iterations > 0 && ++frames >= args.iterations) {
        ending = Ending::Done;
        break;
      }
    } else if (!sampler->poll_threads()) {
      ending = Ending::Exited;
      break;
    }
    int wait_ms = static_cast<int>(std::min<std::uint64_t>(poll_ms, (next_refresh - std::min(next_refresh, os::monotonic_ns())) / 1'000'000 + 1));
    int ready = os::wait_readable_either(interrupt_fd, keys ? 0 : -1, wait_ms);
    if (ready > 0 && (ready & 1) && os::interrupt_fd_take(interrupt_fd) == os::SignalTaken::Interrupt) break;   // Ctrl-C, SIGTERM
    if (ready > 0 && (ready & 2)) {
      char buf[32];
      long n = os::read_some(0, buf, sizeof buf);
      bool quit = false;
      for (long i = 0; i < n; ++i) {
        switch (buf[i]) {
          case 'q': case 'Q': quit = true; break;
          case 's': layout.sort = TopSort::Score; break;
          case 'm': layout.sort = TopSort::Migrations; break;
          case 'n': layout.sort = TopSort::Node; break;
          default: break;
        }
      }
      if (quit) break;
      if (n > 0) draw();
    }
  }
  terminal.reset();   // the terminal is back before the last line is printed
  if (interrupt_fd >= 0) os::close_fd(interrupt_fd);
  if (ending == Ending::Exited) print_error("process " + std::to_string(args.pid) + " exited");
  return kExitOk;
}

}  // namespace

void register_top_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TopArgs>();
  CLI::App* sub = app.add_subcommand("top", "Live per-thread and per-node NUMA view of a running process");
  sub->add_option("-p,--pid", args->pid, "process to watch")->required()->check(CLI::PositiveNumber);
  sub->add_option("--interval", args->interval_s, "seconds between refreshes")->capture_default_str();
  sub->add_option("--iterations", args->iterations, "stop after N refreshes (0: until q or Ctrl-C)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--watch-rate", args->watch_rate,
                  "hardware-watchpoint probes per second (0: the rate a 2 % overhead budget allows, from the self-test)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_flag("--no-watch", args->no_watch, "do not sample accesses with hardware watchpoints");
  sub->add_flag("--plain", args->plain, "one text block per refresh, no screen control (the default when stdout is not a terminal)");
  sub->footer("Keys: q quit, s sort threads by score (worst first), m by node migrations, n by node.");
  sub->callback([args, &exit_code] {
    // An unexpected failure still unwinds through TerminalSession (an uncaught exception might not).
    try {
      exit_code = run_top(*args);
    } catch (const std::exception& e) {
      print_error(std::string("top: ") + e.what());
      exit_code = kExitFailed;
    }
  });
}

}  // namespace numa_agent::analyzer
