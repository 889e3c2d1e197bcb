// Environment, process identity, files and raw stderr.
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "os.hpp"

extern char** environ;

namespace numa_agent::os {

const char* environment_value(std::string_view name) {
  if (!environ) return nullptr;
  for (char** e = environ; *e; ++e) {
    const char* s = *e;
    if (std::strncmp(s, name.data(), name.size()) == 0 && s[name.size()] == '=') return s + name.size() + 1;
  }
  return nullptr;
}

std::vector<std::string> environment_names_with_prefix(std::string_view prefix) {
  std::vector<std::string> names;
  if (!environ) return names;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, prefix.size()) != prefix) continue;
    auto eq = entry.find('=');
    names.emplace_back(entry.substr(0, eq));
  }
  return names;
}

bool secure_execution() { return getauxval(AT_SECURE) != 0; }

std::vector<std::string> command_line() {
  std::vector<std::string> args;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

std::string current_thread_name() {
  char name[17] = {};   // TASK_COMM_LEN
  if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0) return "";
  return name;
}

std::string thread_name(int tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

int thread_last_cpu(int tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; rest >> field; ++i)
    if (i == 39) return std::atoi(field.c_str());
  return -1;
}

namespace {
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}
}  // namespace

int write_file_atomically(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  int rc = write_all(fd, data);
  if (rc == 0 && fsync(fd) != 0) rc = -errno;
  if (close(fd) != 0 && rc == 0) rc = -errno;
  if (rc == 0) {
    // A directory at `path` must not be replaced by rename's directory semantics silently.
    struct stat st{};
    if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) rc = -EISDIR;
    else if (rename(tmp.c_str(), path.c_str()) != 0) rc = -errno;
  }
  if (rc != 0) unlink(tmp.c_str());
  return rc;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(errno ? errno : ENOENT, path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail(EIO, path);
  return ss.str();
}

void write_stderr(std::string_view text) {
  const int saved = errno;   // callers include free(), which must preserve errno
  while (!text.empty()) {
    ssize_t n = ::write(2, text.data(), text.size());
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  errno = saved;
}

const char* errno_name(int error) { return strerrorname_np(error); }

void abort_process() { std::abort(); }

}  // namespace numa_agent::os

namespace numa_agent::os {

std::string current_directory() {
  char buf[4096];
  return getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
}

}  // namespace numa_agent::os
