#include "pdr/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <sstream>
#include <sys/mman.h>
#include <thread>

#include "pdr/stop_signal.h"

extern char** environ;

namespace pdr {
namespace {

using Clock = std::chrono::steady_clock;

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Waits until the child exits, the deadline passes or stop is requested. Returns 0 when the
// child was reaped (status set), 1 on timeout, 2 on stop.
int wait_child(pid_t pid, int pidfd, Clock::time_point deadline, bool has_deadline, const StopSignal* stop,
               const StopSignal* cancel, int* status) {
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return 0;
    if (r < 0 && errno != EINTR) return 0;
    int timeout_ms = 50;
    if (has_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return 1;
      if (pidfd >= 0) timeout_ms = static_cast<int>(std::min<long long>(left, 60000));
      else timeout_ms = static_cast<int>(std::min<long long>(left, 5));
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

void kill_group(pid_t pid, int* status) {
  kill(-pid, SIGTERM);
  const auto grace = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < grace) {
    if (waitpid(pid, status, WNOHANG) == pid) {
      kill(-pid, SIGKILL);  // anything the child left behind in its group
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid, SIGKILL);
  while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string ProcessResult::describe() const {
  switch (outcome) {
    case Outcome::Exited: return "exit code " + std::to_string(exit_code);
    case Outcome::Signaled: return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
    case Outcome::TimedOut: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "timed out after %g s and was killed", timeout_seconds);
      return buf;
    }
    case Outcome::Stopped: return "stopped by an interrupt";
    case Outcome::SpawnFailed: return "could not be started: " + error;
  }
  return "?";
}

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    const std::string name = kv.substr(0, kv.find('='));
    if (name == "PDR_DB_PASSWORD" || name == "PDR_STORAGE_PASSWORD") continue;
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
                  const std::vector<std::string>& env, double timeout_seconds, std::string* out,
                  const std::string& cwd) {
  out->clear();
  int fd = memfd_create("pdr-capture", 0);
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
  ProcessResult r = run_process(spec, nullptr);
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

std::string utc_time_text(long long epoch_seconds) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

ProcessResult run_process(const ProcessSpec& spec, const StopSignal* stop) {
  ProcessResult result;
  result.timeout_seconds = spec.timeout_seconds;
  if ((stop != nullptr && stop->requested()) || (spec.cancel != nullptr && spec.cancel->requested())) {
    result.outcome = ProcessResult::Outcome::Stopped;
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (spec.output_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, spec.output_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, spec.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, spec.executable.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    result.error = spec.executable + ": " + std::strerror(rc);
    return result;
  }

  const int pidfd = open_pidfd(pid);
  const bool has_deadline = spec.timeout_seconds > 0;
  const auto deadline = Clock::now() + std::chrono::milliseconds(
                                           static_cast<long long>(std::llround(spec.timeout_seconds * 1000.0)));
  int status = 0;
  const int why = wait_child(pid, pidfd, deadline, has_deadline, stop, spec.cancel, &status);
  if (why != 0) kill_group(pid, &status);
  if (pidfd >= 0) close(pidfd);

  if (why == 1) {
    result.outcome = ProcessResult::Outcome::TimedOut;
  } else if (why == 2) {
    result.outcome = ProcessResult::Outcome::Stopped;
  } else if (WIFEXITED(status)) {
    result.outcome = ProcessResult::Outcome::Exited;
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code == 127) {
      // posix_spawn reports exec failures of the child as exit 127.
      result.error = "exit code 127 (not executable or not found?)";
    }
  } else if (WIFSIGNALED(status)) {
    result.outcome = ProcessResult::Outcome::Signaled;
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace pdr
