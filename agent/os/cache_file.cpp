// See os.hpp, "per-user cache files".
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "os.hpp"
#include "procfs.hpp"

namespace numa_agent::os {

namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir 0700 unless it exists; then the checks of a directory we write a cache into.
Result<void> private_dir(const std::string& dir, bool check_owner) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail(errno, "mkdir " + dir);
  struct stat st{};
  if (lstat(dir.c_str(), &st) != 0) return fail(errno, dir);
  if (S_ISLNK(st.st_mode)) return fail(ELOOP, dir + ": a symlink");
  if (!S_ISDIR(st.st_mode)) return fail(ENOTDIR, dir);
  if (check_owner && st.st_uid != geteuid()) return fail(EPERM, dir + ": owned by uid " + std::to_string(st.st_uid));
  if (check_owner && (st.st_mode & 022)) return fail(EPERM, dir + ": writable by group or others");
  return {};
}

}  // namespace

Result<std::string> user_cache_dir() {
  if (const char* run = environment_value("XDG_RUNTIME_DIR"); run && run[0] == '/') return std::string(run) + "/numa-agent";
  if (const char* home = environment_value("HOME"); home && home[0] == '/') return std::string(home) + "/.cache/numa-agent";
  return fail(ENOENT, "neither XDG_RUNTIME_DIR nor HOME is set");
}

Result<std::string> read_private_file(const std::string& path, std::size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(errno, path);
  const auto refuse = [&](int code, const std::string& why) -> Result<std::string> {
    close(fd);
    return fail(code, path + ": " + why);
  };
  struct stat st{};
  if (fstat(fd, &st) != 0) return refuse(errno, "fstat");
  if (!S_ISREG(st.st_mode)) return refuse(EINVAL, "not a regular file");
  if (st.st_uid != geteuid()) return refuse(EPERM, "owned by uid " + std::to_string(st.st_uid));
  if (st.st_mode & 077) return refuse(EPERM, "readable or writable by group or others");
  if (static_cast<std::size_t>(st.st_size) > max_bytes) return refuse(EFBIG, "too large");
  std::string data(static_cast<std::size_t>(st.st_size) + 1, '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return refuse(errno, "read");
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  if (got > max_bytes) return fail(EFBIG, path + ": too large");
  data.resize(got);
  return data;
}

Result<void> write_private_file(const std::string& path, std::string_view data) {
  const std::string dir = parent_of(path);
  if (auto up = parent_of(dir); up != dir && access(up.c_str(), F_OK) != 0) {
    if (auto made = private_dir(up, false); !made) return made;   // ~/.cache on a fresh account
  }
  if (auto checked = private_dir(dir, true); !checked) return checked;
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errno, tmp);
  int err = 0;
  if (fchmod(fd, 0600) != 0) err = errno;
  for (std::size_t done = 0; !err && done < data.size();) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) err = n < 0 ? errno : EIO;
    else done += static_cast<std::size_t>(n);
  }
  if (close(fd) != 0 && !err) err = errno;
  if (!err) {
    struct stat st{};
    if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) err = EISDIR;
    else if (rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  }
  if (err) {
    unlink(tmp.c_str());
    return fail(err, path);
  }
  return {};
}

Result<std::string> boot_id() {
  auto text = read_text_file("/proc/sys/kernel/random/boot_id", 256);
  if (!text) return fail(text.error());
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (id.empty()) return fail(EINVAL, "/proc/sys/kernel/random/boot_id: empty");
  return id;
}

std::string kernel_release() {
  struct utsname u{};
  return uname(&u) == 0 ? std::string(u.release) : std::string();
}

unsigned effective_uid() { return static_cast<unsigned>(geteuid()); }

}  // namespace numa_agent::os
