#include "pdr/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/mman.h>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "pdr/stop_signal.h"
#include "util/text.h"

extern char** environ;

namespace pdr {
namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kCloseRangeCloexec = 1U << 2;  // CLOSE_RANGE_CLOEXEC (Linux 5.11)

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// Whether the child has exited. It is not reaped: while it is a zombie its pid, which is also its
// process group's id, cannot be taken by a new process, so the group can still be signalled
// safely. True also when it cannot be waited for (nothing is left to wait for).
bool exited(pid_t pid) {
  siginfo_t info{};
  int r;
  while ((r = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT)) < 0 && errno == EINTR) {}
  return r < 0 || info.si_pid == pid;
}

// Reaps the exited child: false when its status is lost (someone else reaped it).
bool reap(pid_t pid, int* status) {
  pid_t r;
  while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR) {}
  return r == pid;
}

// Waits until the child exits (not reaped: see exited()), the deadline passes or stop is
// requested. Returns 0 when the child exited, 1 on timeout, 2 on stop.
int wait_child(pid_t pid, int pidfd, Clock::time_point deadline, bool has_deadline, const StopSignal* stop,
               const StopSignal* cancel) {
  for (;;) {
    if (exited(pid)) return 0;
    int timeout_ms = 50;
    if (has_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return 1;
      if (pidfd >= 0)
        timeout_ms = static_cast<int>(std::min<long long>(left, 60000));
      else
        timeout_ms = static_cast<int>(std::min<long long>(left, 5));
    } else {
      timeout_ms = pidfd >= 0 ? 60000 : 5;
    }
    if (stop != nullptr && stop->requested()) return 2;
    if (cancel != nullptr && cancel->requested()) return 2;
    pollfd fds[3];
    int n = 0;
    if (pidfd >= 0) fds[n++] = pollfd{pidfd, POLLIN, 0};
    if (stop != nullptr) fds[n++] = pollfd{stop->fd(), POLLIN, 0};
    if (cancel != nullptr) fds[n++] = pollfd{cancel->fd(), POLLIN, 0};
    // Without a pidfd the timeout is short, so this degrades to polling waitpid.
    poll(fds, static_cast<nfds_t>(n), timeout_ms);
  }
}

// Ends a child that is still running: SIGTERM to its group, SIGKILL after a grace period (and to
// whatever it left in its group once it ended).
void end_group(pid_t pid) {
  kill(-pid, SIGTERM);
  const auto grace = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < grace && !exited(pid)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(-pid, SIGKILL);
}

// The close-on-exec pipe through which a child reports a failed exec. With this process's
// standard descriptors closed it could sit on 0-2, which the child overwrites: moved up.
bool open_report_pipe(int report[2]) {
  if (pipe2(report, O_CLOEXEC) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    if (report[i] > 2) continue;
    const int moved = fcntl(report[i], F_DUPFD_CLOEXEC, 3);
    if (moved >= 0) {
      close(report[i]);
      report[i] = moved;
    }
  }
  return true;
}

// Reads the child's report (and closes it): "" when the exec succeeded (the pipe closed with
// nothing in it), else why it failed, once the child is reaped.
std::string exec_failure(int report, pid_t pid) {
  int child_errno = 0;
  ssize_t n;
  while ((n = read(report, &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {}
  close(report);
  if (n != static_cast<ssize_t>(sizeof child_errno)) return "";
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return std::strerror(child_errno);
}

// Starts the child in its own process group with default signal handling and a parent-death
// signal: a model program never outlives this process, however it ends (SIGKILL and the OOM
// killer included). The death signal is tied to the spawning thread, which is the thread that
// waits for the child, so it cannot fire early. vfork, as posix_spawn does it: no copy of this
// process's page tables per job. Until exec the child shares this memory, so it calls only
// async-signal-safe system calls and writes nothing but its own locals; an exec failure comes
// back through a close-on-exec pipe.
// Returns "" or why the child could not be started.
std::string spawn_child(const ProcessSpec& spec, char* const* argv, char* const* envp, pid_t* out_pid) {
  int report[2];
  if (!open_report_pipe(report)) return std::strerror(errno);
  const int out_fd = spec.output_fd >= 0
                         ? spec.output_fd
                         : open(spec.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) {
    const int e = errno;
    close(report[0]);
    close(report[1]);
    return spec.output_path + ": " + std::strerror(e);
  }
  const pid_t parent = getpid();
  // No signal handler of this process may run in the child while it shares this memory: all
  // signals stay blocked until the child has reset their dispositions (and until vfork returns
  // here).
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  const pid_t pid = vfork();
  if (pid == 0) {
    auto die = [&](int stage_errno) {
      ssize_t n = write(report[1], &stage_errno, sizeof stage_errno);
      (void)n;
      _exit(127);
    };
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die(errno);
    if (getppid() != parent) _exit(128 + SIGKILL);  // the parent died before the line above
    setpgid(0, 0);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(1, 2) < 0) die(errno);
    if (in > 2) close(in);
    // The child gets 0-2 only: no database socket or file another thread has open (an fstream
    // is not close-on-exec) passes to the program. The report pipe closes at the exec too.
    syscall(SYS_close_range, 3U, ~0U, kCloseRangeCloexec);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) die(errno);
    execve(spec.executable.c_str(), argv, envp);
    die(errno);
  }
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (spec.output_fd < 0) close(out_fd);
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    return std::strerror(fork_errno);
  }
  if (const std::string failed = exec_failure(report[0], pid); !failed.empty()) return failed;
  // Also set from the parent, so a kill of the group cannot race the child's own setpgid.
  setpgid(pid, pid);
  *out_pid = pid;
  return "";
}

}  // namespace

std::string ProcessResult::describe() const {
  switch (outcome) {
    case Outcome::Exited:
      return "exit code " + std::to_string(exit_code);
    case Outcome::Signaled:
      return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
    case Outcome::TimedOut: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "timed out after %g s and was killed", timeout_seconds);
      return buf;
    }
    case Outcome::Stopped:
      return "stopped by an interrupt";
    case Outcome::SpawnFailed:
      return "could not be started: " + error;
    case Outcome::Lost:
      return "ended, but its exit status was lost: " + error;
  }
  return "?";
}

bool process_gone(const std::string& host, long long pid) {
  if (host != host_name()) return false;
  if (pid <= 0) return true;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return true;
  // A zombie (ended, not yet waited for by its parent) is gone too: its state in /proc/<pid>/stat
  // follows the ")" that ends its name.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const size_t end = text.rfind(')');
  return end != std::string::npos && end + 2 < text.size() && text[end + 2] == 'Z';
}

namespace {

// Whether `path` is `dir` or below it.
bool is_within(std::string_view path, const std::string& dir) {
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

// Whether process `pid` (its /proc entry) works in `dir`: its working directory or an open
// descriptor there.
bool uses(const std::string& pid, const std::string& dir) {
  char buf[4096];
  const std::string proc = "/proc/" + pid;
  ssize_t n = ::readlink((proc + "/cwd").c_str(), buf, sizeof buf);
  if (n > 0 && is_within(std::string_view(buf, static_cast<size_t>(n)), dir)) return true;
  DIR* fds = ::opendir((proc + "/fd").c_str());
  if (fds == nullptr) return false;  // gone meanwhile, or not ours to read
  bool found = false;
  while (const dirent* e = ::readdir(fds)) {
    if (e->d_name[0] == '.') continue;
    n = ::readlink((proc + "/fd/" + e->d_name).c_str(), buf, sizeof buf);
    if (n > 0 && is_within(std::string_view(buf, static_cast<size_t>(n)), dir)) {
      found = true;
      break;
    }
  }
  ::closedir(fds);
  return found;
}

// Whether an entry (NAME=value) of the initial environment of process `pid` satisfies `matches`.
template <class F>
bool environment_has(const std::string& pid, F matches) {
  const int fd = ::open(("/proc/" + pid + "/environ").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  // Read in blocks; an entry cut at a block's end is carried into the next.
  char buf[8192];
  size_t kept = 0;
  bool found = false;
  for (ssize_t n; !found && (n = ::read(fd, buf + kept, sizeof buf - kept)) > 0;) {
    const size_t end = kept + static_cast<size_t>(n);
    size_t at = 0;
    for (const char* z; (z = static_cast<const char*>(std::memchr(buf + at, '\0', end - at))) != nullptr;) {
      const size_t len = static_cast<size_t>(z - (buf + at));
      if (matches(std::string_view(buf + at, len))) {
        found = true;
        break;
      }
      at += len + 1;
    }
    kept = end - at;
    if (kept == sizeof buf) kept = 0;  // longer than the buffer: not the entry
    std::memmove(buf, buf + at, kept);
  }
  ::close(fd);
  return found;
}

// The last pid the kernel gave out (0 when unknown).
long long last_pid() {
  const int fd = ::open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32] = {0};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::atoll(buf) : 0;
}

// At most this many pids are probed one by one; a longer range is read from the /proc listing.
constexpr long long kProbedPids = 1024;

// Calls `visit(pid)` for each process started since `since_pid` (all of them when pids wrapped
// around since) but this one, until it returns true. False when /proc cannot be read.
//
// A job's step has just started a few processes: the pids given out since are probed one by one
// (a pidfd opens only for a process, not for one of its threads, whose ids /proc also answers
// for but does not list), instead of listing /proc, which on a busy node holds hundreds of
// processes and is read three times per job.
template <class F>
bool each_process_since(long long since_pid, F visit) {
  const long long last = last_pid();
  const long long self = getpid();
  long long probed_below = since_pid;  // pids from since_pid up to here were visited already
  if (since_pid > 0 && last >= since_pid && last - since_pid < kProbedPids && ::access("/proc/self", F_OK) == 0) {
    bool probed = true;
    for (long long pid = since_pid; pid <= last; ++pid) {
      if (pid == self) continue;
      const int fd = open_pidfd(static_cast<pid_t>(pid));
      if (fd < 0) {
        if (errno == ESRCH || errno == EINVAL) continue;  // no such process (or a thread's id)
        probed = false;                                   // no pidfds here: the listing decides
        probed_below = pid;
        break;
      }
      ::close(fd);
      if (visit(std::to_string(pid))) return true;
    }
    if (probed) return true;
  }
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return false;
  if (last < since_pid) since_pid = probed_below = 0;
  while (const dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const long long pid = std::atoll(e->d_name);
    // Not visited twice (a process ended on the first visit would be counted again).
    if (pid < since_pid || pid < probed_below || pid == self) continue;
    if (visit(std::string(e->d_name))) break;
  }
  ::closedir(proc);
  return true;
}

}  // namespace

bool a_process_uses(const std::string& dir, long long since_pid) {
  bool found = false;
  const bool read = each_process_since(since_pid, [&](const std::string& pid) { return found = uses(pid, dir); });
  return found || !read;
}

namespace {

// Ends with SIGKILL every process since `since_pid` for which `matches(pid)` holds, through a
// pidfd checked again (the pid cannot have passed to another process in between).
template <class F>
int end_processes(long long since_pid, F matches) {
  int ended = 0;
  each_process_since(since_pid, [&](const std::string& pid) {
    if (!matches(pid)) return false;
    const int fd = open_pidfd(static_cast<pid_t>(std::atoll(pid.c_str())));
    if (fd < 0) return false;
    if (matches(pid) && syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) == 0) ++ended;
    close(fd);
    return false;
  });
  return ended;
}

}  // namespace

int end_processes_with(const std::string& env_entry, long long since_pid) {
  return end_processes(since_pid, [&](const std::string& pid) {
    return environment_has(pid, [&](std::string_view e) { return e == env_entry; });
  });
}

int end_processes_using(const std::string& dir, const std::function<bool(std::string_view)>& entry) {
  return end_processes(0, [&](const std::string& pid) { return uses(pid, dir) && environment_has(pid, entry); });
}

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    const std::string name = kv.substr(0, kv.find('='));
    // The passwords pdr_run connects with, its own and those its client libraries read
    // themselves: no program it starts needs them.
    if (name == "PDR_DB_PASSWORD" || name == "PDR_STORAGE_PASSWORD" || name == "PGPASSWORD" || name == "MYSQL_PWD") {
      continue;
    }
    env.push_back(std::move(kv));
  }
  return env;
}

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool run_captured(const std::string& executable, const std::vector<std::string>& argv,
                  const std::vector<std::string>& env, double timeout_seconds, std::string* out, const std::string& cwd,
                  CapturedRun kind, const StopSignal* stop, bool* stopped) {
  out->clear();
  int fd = memfd_create("pdr-capture", MFD_CLOEXEC);
  if (fd < 0) {
    *out = "cannot capture the output of " + executable;
    return false;
  }
  ProcessSpec spec;
  spec.executable = executable;
  spec.argv = argv;
  spec.cwd = cwd;
  spec.env = env;
  spec.output_fd = fd;
  spec.timeout_seconds = timeout_seconds;
  spec.ends_group_on_exit = kind != CapturedRun::StartsADaemon;
  ProcessResult r = run_process(spec, stop);
  if (stopped != nullptr) *stopped = r.outcome == ProcessResult::Outcome::Stopped;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0 && out->size() < 65536;) out->append(buf, static_cast<size_t>(n));
  close(fd);
  if (!r.success()) {
    std::string last = *out;
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
    if (last.find('\n') != std::string::npos) last = last.substr(last.rfind('\n') + 1);
    *out = r.describe() + (last.empty() ? "" : ": " + last);
  }
  return r.success();
}

namespace {

// A program ended by a signal that stops pdr_run too was stopped with it, not failed: a batch
// system's cancel or preemption (scancel) signals every process of the job, the program often a
// moment before pdr_run, whose stop then comes while the step is being recorded as failed
// (charging the attempt, and after two cancels failing the job "the same way twice"). Such an
// end waits up to kStopGrace for this process's own stop; a program ended that way by someone
// else is a failure, as before, that long later.
constexpr int kStopGraceMs = 1000;

bool stopped_with_it(int signal, const StopSignal* stop) {
  if (stop == nullptr || (signal != SIGTERM && signal != SIGINT && signal != SIGHUP)) return false;
  pollfd p{stop->fd(), POLLIN, 0};
  const auto until = Clock::now() + std::chrono::milliseconds(kStopGraceMs);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return stop->requested();
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) return (p.revents & POLLIN) != 0;
    if (n < 0 && errno != EINTR) return stop->requested();
  }
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec, const StopSignal* stop) {
  ProcessResult result;
  result.timeout_seconds = spec.timeout_seconds;
  if ((stop != nullptr && stop->requested()) || (spec.cancel != nullptr && spec.cancel->requested())) {
    result.outcome = ProcessResult::Outcome::Stopped;
    return result;
  }
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  if (std::string err = spawn_child(spec, argv.data(), envp.data(), &pid); !err.empty()) {
    result.error = spec.executable + ": " + err;
    return result;
  }

  result.pid = pid;
  const int pidfd = open_pidfd(pid);
  const bool has_deadline = spec.timeout_seconds > 0;
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long long>(std::llround(spec.timeout_seconds * 1000.0)));
  const int why = wait_child(pid, pidfd, deadline, has_deadline, stop, spec.cancel);
  if (why != 0) {
    end_group(pid);
  } else if (spec.ends_group_on_exit) {
    // The program ended by itself: whatever it left running in its group goes too, so nothing
    // writes into the job's directory (which the next job may use) once the step is over. The
    // leader is not reaped yet, so the group's id is still its own.
    kill(-pid, SIGKILL);
  }
  int status = 0;
  const bool reaped = reap(pid, &status);
  const int reap_errno = errno;
  if (pidfd >= 0) close(pidfd);

  if (why == 1) {
    result.outcome = ProcessResult::Outcome::TimedOut;
  } else if (why == 2) {
    result.outcome = ProcessResult::Outcome::Stopped;
  } else if (!reaped) {
    result.outcome = ProcessResult::Outcome::Lost;
    result.error = std::strerror(reap_errno);
  } else if (WIFEXITED(status)) {
    result.outcome = ProcessResult::Outcome::Exited;
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code == 127) {
      // A program that exits 127 on its own (a shell script whose command is missing).
      result.error = "exit code 127 (not executable or not found?)";
    }
  } else if (WIFSIGNALED(status)) {
    result.outcome = ProcessResult::Outcome::Signaled;
    result.signal = WTERMSIG(status);
    if (stopped_with_it(result.signal, stop)) result.outcome = ProcessResult::Outcome::Stopped;
  }
  return result;
}

}  // namespace pdr
