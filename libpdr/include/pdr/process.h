// The one place that starts child processes. No shell: explicit argv, working directory and
// environment; stdout and stderr appended to a file; a timeout; the whole process group is
// stopped on timeout or when stop is requested, and killed if this process dies (a parent-death
// signal). Thread-safe: each call owns its child.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pdr {

class StopSignal;

struct ProcessSpec {
  std::string executable;         // path to exec (absolute, or relative to cwd)
  std::vector<std::string> argv;  // argv[0] included
  std::string cwd;
  std::vector<std::string> env;        // NAME=value
  std::string output_path;             // stdout+stderr appended here...
  int output_fd = -1;                  // ...or written to this descriptor when >= 0
  double timeout_seconds = 0;          // 0 = none
  const StopSignal* cancel = nullptr;  // a second stop, for this child only (a lost lease)
  // When the program ends by itself, whatever it left running in its process group is killed
  // (a job step's leftovers must not write into its directory; what left the group is looked
  // for by a_process_uses). Off only for a program whose purpose is to start a daemon
  // (ssh -M -f), which leaves the group a moment after the program exits.
  bool ends_group_on_exit = true;
};

struct ProcessResult {
  enum class Outcome { Exited, Signaled, TimedOut, Stopped, SpawnFailed, Lost };
  Outcome outcome = Outcome::SpawnFailed;
  int exit_code = -1;  // for Exited
  int signal = 0;      // for Signaled
  std::string error;   // for SpawnFailed and Lost (its exit status could not be read)
  bool success() const { return outcome == Outcome::Exited && exit_code == 0; }
  std::string describe() const;  // "exit code 3", "killed by signal 11", "timed out after 2 s"
  double timeout_seconds = 0;
  long long pid = 0;  // the child's, once started
};

ProcessResult run_process(const ProcessSpec& spec, const StopSignal* stop);

// This process's environment minus the variables that carry secrets.
std::vector<std::string> child_environment();

// Whether the process `pid` of `host` is known to be gone: `host` is this host and no process
// `pid` exists here. A process of another host is never known to be gone.
bool process_gone(const std::string& host, long long pid);

// Whether a process started since `since_pid` (all processes when pids wrapped around since)
// has its working directory in `dir` (absolute, without symlinks) or a file or directory there
// open: something a step left running outside its process group (setsid, a daemon) that may
// still write there. This process is left out. True when /proc cannot be read: nobody can tell.
// A process that holds neither, and will write there by a path it remembers, is not seen.
bool a_process_uses(const std::string& dir, long long since_pid);

// Ends, with SIGKILL, every process started since `since_pid` (all when pids wrapped around
// since) whose environment holds `env_entry` ("PDR_JOB_ID=17"): what a job's step left running
// outside its process group (setsid, a daemon that moved away from the job's directory). This
// process is left out. Returns how many were ended.
int end_processes_with(const std::string& env_entry, long long since_pid);

// Ends, with SIGKILL, every process (but this one) whose working directory or an open file is in
// `dir` (absolute, without symlinks) and with an environment entry that satisfies `entry`: what a
// killed run's programs started, in its work area (a shell someone opened there is left alone).
int end_processes_using(const std::string& dir, const std::function<bool(std::string_view)>& entry);

// The path of `name` in $PATH, or "" when it is not installed.
std::string find_program(const std::string& name);

// Runs a helper program (rclone, ssh, a --version probe) and captures what it prints (stdout and
// stderr, at most 64 KiB) in `out`. True when it exited 0; otherwise `out` is one line:
// "<what happened>: <its last line>". A helper's leftovers in its process group end with it,
// unless it is run as StartsADaemon. With `stop`, a signal stops it too; `*stopped` says so.
enum class CapturedRun { Helper, StartsADaemon };
bool run_captured(const std::string& executable, const std::vector<std::string>& argv,
                  const std::vector<std::string>& env, double timeout_seconds, std::string* out,
                  const std::string& cwd = "", CapturedRun kind = CapturedRun::Helper, const StopSignal* stop = nullptr,
                  bool* stopped = nullptr);

}  // namespace pdr
