// Runs the real pdr_run binary for black-box and integration tests.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "support/temp_dir.h"

extern char** environ;

namespace pdr::test {

struct RunResult {
  int code = -1;
  std::string out, err;
};

// Starts pdr_run in `cwd` with `args`; `env` entries (NAME=value) are added to this process's
// environment. stdout and stderr go to files in `cwd`.
inline pid_t start_pdr_run(const std::string& cwd, const std::vector<std::string>& args,
                           const std::vector<std::string>& env, uid_t uid = 0, gid_t gid = 0) {
  std::vector<std::string> argv_s = {PDR_RUN_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), env.begin(), env.end());
  pid_t pid = fork();
  if (pid == 0) {
    // As from a terminal, whatever the test runner was started with (a script's background
    // command has SIGINT ignored, and pdr_run keeps a signal it was started with ignored).
    for (int sig : {SIGINT, SIGHUP, SIGTERM, SIGQUIT}) signal(sig, SIG_DFL);
    // As another user (a colleague looking at a grid): its own, not root's, rights.
    if (uid != 0 && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) _exit(124);
    if (chdir(cwd.c_str()) != 0) _exit(125);
    int out = open((cwd + "/.stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open((cwd + "/.stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(126);
  }
  return pid;
}

inline RunResult finish_pdr_run(pid_t pid, const std::string& cwd) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {}
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(cwd + "/.stdout");
  r.err = read_text(cwd + "/.stderr");
  return r;
}

inline RunResult run_pdr_run(const std::string& cwd, const std::vector<std::string>& args,
                             const std::vector<std::string>& env = {}) {
  return finish_pdr_run(start_pdr_run(cwd, args, env), cwd);
}

// The same as the user `uid` of group `gid` (the test runs as root).
inline RunResult run_pdr_run_as(uid_t uid, gid_t gid, const std::string& cwd, const std::vector<std::string>& args,
                                const std::vector<std::string>& env = {}) {
  return finish_pdr_run(start_pdr_run(cwd, args, env, uid, gid), cwd);
}

}  // namespace pdr::test
