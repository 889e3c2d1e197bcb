// hostile_launcher: makes the environment hostile, then execs a program in it. Test program: uses
// the OS directly on purpose.
//
//   hostile_launcher [options] -- PROGRAM ARGS...
//     --no-proc              private mount namespace with an empty tmpfs over /proc (root)
//     --no-sys               the same over /sys (root)
//     --deny-mempolicy=ERRNO seccomp filter: mbind and set_mempolicy fail with ERRNO (EPERM|ENOSYS)
//     --cpu=N                affinity of one CPU (what taskset -c N does)
//     --rlimit-as=BYTES      RLIMIT_AS (address space)
//     --rlimit-nofile=N      RLIMIT_NOFILE
//     --user=UID             drop to UID/GID with no supplementary groups (root)
//     --close-stderr         the program starts with fd 2 closed
//     --preload=LIB          LD_PRELOAD=LIB for the program only (not for this launcher)
// Exit status 77 (skipped) when a setting cannot be made here (not root, no namespaces), 126 when
// the program cannot be executed; otherwise the program's own status.
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void cannot(const char* what) {
  std::fprintf(stderr, "hostile_launcher: cannot %s: %s\n", what, std::strerror(errno));
  std::exit(77);
}

void hide_directory(const char* path) {
  if (mount("none", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0555") != 0)
    cannot((std::string("mount an empty tmpfs over ") + path).c_str());
}

void private_mounts() {
  static bool done = false;
  if (done) return;
  if (unshare(CLONE_NEWNS) != 0) cannot("unshare the mount namespace");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) cannot("make / private");
  done = true;
}

// mbind and set_mempolicy return -errno_value; everything else is allowed. x86_64 only (any other
// architecture is refused outright, which makes a test fail loudly rather than pass vacuously).
void deny_mempolicy(int errno_value) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mbind, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_set_mempolicy, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(errno_value) & SECCOMP_RET_DATA)),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) cannot("set no_new_privs");
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) cannot("install the seccomp filter");
}

void limit(int resource, const char* value) {
  rlimit r{};
  r.rlim_cur = r.rlim_max = std::strtoull(value, nullptr, 0);
  if (setrlimit(resource, &r) != 0) cannot("set the resource limit");
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  const char* preload = nullptr;
  int deny_errno = 0;
  long user = -1;
  bool close_stderr = false;
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view prefix) { return argv[i] + prefix.size(); };
    if (a == "--") { ++i; break; }
    if (a == "--no-proc") { private_mounts(); hide_directory("/proc"); }
    else if (a == "--no-sys") { private_mounts(); hide_directory("/sys"); }
    else if (a.starts_with("--deny-mempolicy=")) deny_errno = a.ends_with("ENOSYS") ? ENOSYS : EPERM;
    else if (a.starts_with("--cpu=")) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(std::atoi(value("--cpu=")), &one);
      if (sched_setaffinity(0, sizeof one, &one) != 0) cannot("set the affinity");
    }
    else if (a.starts_with("--rlimit-as=")) limit(RLIMIT_AS, value("--rlimit-as="));
    else if (a.starts_with("--rlimit-nofile=")) limit(RLIMIT_NOFILE, value("--rlimit-nofile="));
    else if (a.starts_with("--user=")) user = std::atol(value("--user="));
    else if (a == "--close-stderr") close_stderr = true;
    else if (a.starts_with("--preload=")) preload = value("--preload=");
    else { std::fprintf(stderr, "hostile_launcher: unknown option %s\n", argv[i]); return 2; }
  }
  if (i >= argc) { std::fprintf(stderr, "hostile_launcher: no program given\n"); return 2; }
  if (user >= 0) {
    if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(user)) != 0 || setuid(static_cast<uid_t>(user)) != 0)
      cannot("change to the unprivileged user");
  }
  if (deny_errno) deny_mempolicy(deny_errno);   // last privileged step: the filter applies to exec'd code
  if (preload) setenv("LD_PRELOAD", preload, 1);
  if (close_stderr) close(2);
  execvp(argv[i], argv + i);
  if (!close_stderr) std::fprintf(stderr, "hostile_launcher: cannot execute %s: %s\n", argv[i], std::strerror(errno));
  return 126;
}
