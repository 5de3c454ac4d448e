// The child-process seam against real processes.
#include "pdr/process.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "pdr/stop_signal.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

ProcessResult sh(const std::string& script, const std::string& out, double timeout = 0,
                 const StopSignal* stop = nullptr) {
  ProcessSpec spec;
  spec.executable = "/bin/sh";
  spec.argv = {"sh", "-c", script};
  spec.cwd = "/";
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.output_path = out;
  spec.timeout_seconds = timeout;
  return run_process(spec, stop);
}

TEST(ProcessTest, ExitCodeAndAppendedOutput) {
  test::TempDir dir;
  test::write_text(dir / "log", "before\n");
  auto r = sh("pwd; echo err >&2; exit 3", dir / "log");
  EXPECT_EQ(r.outcome, ProcessResult::Outcome::Exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.describe(), "exit code 3");
  EXPECT_EQ(test::read_text(dir / "log"), "before\n/\nerr\n");
}

TEST(ProcessTest, SignalIsReported) {
  test::TempDir dir;
  auto r = sh("kill -SEGV $$", dir / "log");
  EXPECT_EQ(r.outcome, ProcessResult::Outcome::Signaled);
  EXPECT_EQ(r.signal, SIGSEGV);
}

// A batch system's cancel (scancel) signals every process of the job: the program may end by
// SIGTERM a moment before this process's own stop. That program was stopped, not failed; one
// ended by SIGTERM while nothing stops this process failed, as does one ended by another signal.
TEST(ProcessTest, AProgramEndedByTheSignalThatStopsThisProcessIsStoppedWithIt) {
  test::TempDir dir;
  StopSignal stop;
  std::thread cancel([&stop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.request();
  });
  auto r = sh("kill -TERM $$", dir / "log", 0, &stop);
  cancel.join();
  EXPECT_EQ(r.outcome, ProcessResult::Outcome::Stopped);
  StopSignal quiet;
  const auto t0 = std::chrono::steady_clock::now();
  auto failed = sh("kill -TERM $$", dir / "log", 0, &quiet);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(failed.outcome, ProcessResult::Outcome::Signaled);
  EXPECT_EQ(failed.signal, SIGTERM);
  EXPECT_GE(waited, 0.9) << "it waited for a stop that did not come";
  auto segv = sh("kill -SEGV $$", dir / "log", 0, &quiet);
  EXPECT_EQ(segv.outcome, ProcessResult::Outcome::Signaled);
}

// A signal this process was started with ignored stays ignored (nohup's SIGHUP, the SIGINT of a
// script's background command); the others stop it. In a child, whose dispositions are its own.
TEST(ProcessTest, ASignalIgnoredAtTheStartStaysIgnored) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_DFL);
    StopSignal stop;
    StopSignal::install_handlers(&stop);
    raise(SIGINT);
    if (stop.requested()) _exit(10);  // SIGINT was taken
    raise(SIGHUP);
    _exit(stop.requested() ? 0 : 11);  // SIGHUP was not
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ProcessTest, TimeoutKillsTheWholeProcessGroup) {
  test::TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = sh("sleep 300 & echo $! > " + (dir / "child") + "; wait", dir / "log", 0.5);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.outcome, ProcessResult::Outcome::TimedOut);
  EXPECT_LT(secs, 30.0);
  const int grandchild = std::stoi(test::read_text(dir / "child"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(test::process_running(grandchild)) << "the grandchild must be killed with the group";
}

// A program that ends by itself leaves nothing running in its group: no straggler writes into
// the job's directory, which the next job may use.
TEST(ProcessTest, WhatAProgramLeavesRunningInItsGroupEndsWithIt) {
  test::TempDir dir;
  auto r = sh("sleep 300 & echo $! > " + (dir / "child") + "; exit 0", dir / "log");
  EXPECT_EQ(r.outcome, ProcessResult::Outcome::Exited);
  EXPECT_EQ(r.exit_code, 0);
  const int grandchild = std::stoi(test::read_text(dir / "child"));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !test::process_running(grandchild);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "the program's background process must end with it";
}

// ssh -M -f (the sftp storage's master connection) forks a daemon that leaves the group only a
// moment after its parent exits: a helper run as a daemon starter keeps its group.
TEST(ProcessTest, ADaemonAHelperStartsOutlivesItEvenBeforeItLeavesTheGroup) {
  test::TempDir dir;
  const std::string sh_path = find_program("sh");
  const std::string script =
      "(sleep 0.3; exec setsid sh -c 'sleep 0.3; echo up > " + (dir / "daemon") + "') >/dev/null 2>&1 & exit 0";
  std::string out;
  ASSERT_TRUE(
      run_captured(sh_path, {"sh", "-c", script}, {"PATH=/usr/bin:/bin"}, 10, &out, "", CapturedRun::StartsADaemon))
      << out;
  for (int i = 0; i < 100 && !fs::exists(dir / "daemon"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(fs::exists(dir / "daemon")) << "the daemon was killed with the helper's group";

  // An ordinary helper's leftovers end with it.
  ASSERT_TRUE(run_captured(sh_path, {"sh", "-c", "(sleep 0.3; echo up > " + (dir / "stray") + ") & exit 0"},
                           {"PATH=/usr/bin:/bin"}, 10, &out))
      << out;
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_FALSE(fs::exists(dir / "stray"));
}

TEST(ProcessTest, AChildGetsNoDescriptorButItsStandardOnes) {
  test::TempDir dir;
  // Open without close-on-exec, as an fstream or a database client may hold one.
  const int leaked = ::open((dir / "held").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(leaked, 3);
  auto r = sh("ls /proc/$$/fd", dir / "log");
  ::close(leaked);
  ASSERT_TRUE(r.success()) << r.describe();
  EXPECT_EQ(test::read_text(dir / "log"), "0\n1\n2\n");
}

TEST(ProcessTest, AChildWhoseStatusSomeoneElseTookIsNotASuccess) {
  test::TempDir dir;
  struct sigaction ignore = {}, before = {};
  ignore.sa_handler = SIG_IGN;  // children reaped by the kernel: no exit status to read
  sigaction(SIGCHLD, &ignore, &before);
  auto r = sh("exit 0", dir / "log");
  sigaction(SIGCHLD, &before, nullptr);
  EXPECT_EQ(r.outcome, ProcessResult::Outcome::Lost);
  EXPECT_FALSE(r.success());
  EXPECT_NE(r.describe().find("exit status was lost"), std::string::npos) << r.describe();
}

// Only processes whose environment holds the whole entry are ended, wherever in a long
// environment it is.
TEST(ProcessTest, ProcessesCarryingAnEnvironmentEntryAreEnded) {
  test::TempDir dir;
  auto start = [&](const std::string& marker, ProcessResult* r) {
    return std::thread([&dir, marker, r] {
      ProcessSpec spec;
      spec.executable = "/bin/sleep";
      spec.argv = {"sleep", "30"};
      spec.env = {"FILLER=" + std::string(20000, 'x'), marker};
      spec.output_path = dir / "log";
      *r = run_process(spec, nullptr);
    });
  };
  // Since this process started (the pids since are probed one by one) and since pid 0 (all of
  // /proc is listed).
  for (const long long since : {static_cast<long long>(getpid()), 0LL}) {
    ProcessResult mine, other;
    std::thread a = start("PDR_JOB_ATTEMPT=7-1-1", &mine);
    std::thread b = start("PDR_JOB_ATTEMPT=7-1-10", &other);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(end_processes_with("PDR_JOB_ATTEMPT=7-1-1", since), 1) << since;
    a.join();
    EXPECT_EQ(mine.outcome, ProcessResult::Outcome::Signaled);
    EXPECT_EQ(end_processes_with("PDR_JOB_ATTEMPT=7-1-10", since), 1) << since;
    b.join();
    EXPECT_EQ(other.outcome, ProcessResult::Outcome::Signaled);
  }
}

// A process started since that works in a directory is found; this process's own threads, whose
// ids /proc answers for as well, are not another process.
TEST(ProcessTest, AProcessWorkingInADirectoryIsFoundButNotThisProcessesThreads) {
  test::TempDir dir;
  const std::string real = fs::canonical(dir.path()).string();
  const long long since = getpid();
  const std::string before = fs::current_path().string();
  fs::current_path(real);
  std::atomic<bool> done{false};
  std::thread idle([&] {
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(a_process_uses(real, since)) << "a thread of this process was taken for another process";
  done = true;
  idle.join();
  fs::current_path(before);
  ProcessResult r;
  std::thread child([&] {
    ProcessSpec spec;
    spec.executable = "/bin/sleep";
    spec.argv = {"sleep", "1"};
    spec.cwd = real;
    spec.output_path = dir / "log";
    r = run_process(spec, nullptr);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(a_process_uses(real, since));
  EXPECT_TRUE(a_process_uses(real, 0));
  child.join();
  EXPECT_TRUE(r.success()) << r.describe();
  EXPECT_FALSE(a_process_uses(real, since));
}

TEST(ProcessTest, StopRequestEndsTheChild) {
  test::TempDir dir;
  StopSignal stop;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.request();
  });
  auto r = sh("sleep 300", dir / "log", 0, &stop);
  t.join();
  EXPECT_EQ(r.outcome, ProcessResult::Outcome::Stopped);
  EXPECT_TRUE(stop.requested());
}

TEST(ProcessTest, OnlyAProcessOfThisHostThatNoLongerExistsIsGone) {
  char name[256] = {0};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  auto host_name = [&] { return std::string(name); };
  EXPECT_FALSE(process_gone(host_name(), getpid()));
  EXPECT_FALSE(process_gone(host_name(), 1)) << "alive, though not ours to signal";
  EXPECT_TRUE(process_gone(host_name(), 999999999));
  EXPECT_FALSE(process_gone(host_name() + ".elsewhere", 999999999)) << "another host's process is never known gone";
  // A process that ended and that its parent has not waited for yet (a zombie) is gone.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  for (int i = 0; i < 200 && !process_gone(host_name(), child); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(process_gone(host_name(), child)) << "a zombie";
  EXPECT_EQ(::kill(child, 0), 0) << "not waited for yet";
  ::waitpid(child, nullptr, 0);
}

TEST(ProcessTest, MissingExecutableIsReported) {
  test::TempDir dir;
  ProcessSpec spec;
  spec.executable = dir / "nope";
  spec.argv = {"nope"};
  spec.output_path = dir / "log";
  auto r = run_process(spec, nullptr);
  EXPECT_FALSE(r.success());
}

TEST(ProcessTest, ChildEnvironmentDropsSecrets) {
  // pdr_run's own password variables and those its client libraries read themselves (libpq's
  // PGPASSWORD, MariaDB Connector/C's MYSQL_PWD): no program it starts sees them; the rest stays.
  const std::vector<std::string> secrets = {"PDR_DB_PASSWORD", "PDR_STORAGE_PASSWORD", "PGPASSWORD", "MYSQL_PWD"};
  for (const auto& name : secrets) setenv(name.c_str(), "Sekrit-1", 1);
  setenv("PDR_TEST_KEPT", "kept", 1);
  const auto env = child_environment();
  for (const auto& name : secrets) {
    for (const auto& e : env) EXPECT_NE(e.rfind(name + "=", 0), 0u) << e;
  }
  EXPECT_NE(std::find(env.begin(), env.end(), "PDR_TEST_KEPT=kept"), env.end());
  for (const auto& name : secrets) unsetenv(name.c_str());
  unsetenv("PDR_TEST_KEPT");
}

}  // namespace
}  // namespace pdr
