// Every job ends in exactly one recorded state, the exit code tells the truth, and nothing keeps
// running that nobody owns: runs broken on purpose (killed peers, SIGKILL, full disks, outputs
// that cannot take their names, interrupts, outages, reaped jobs), with the real pdr_run binary,
// the mock model and a real SQLite file.
#include <gtest/gtest.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "pdr/storage.h"
#include "support/grid_run.h"
#include "support/history_check.h"
#include "support/run_binary.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class NoJobLostTest : public GridRunTest {
 protected:
  // The fixture's config with absolute paths (processes may run in other directories) and
  // `run_extra` lines added to its run: section.
  void write_config(const std::string& run_extra, const std::string& top_extra = "", int step_timeout = 5) {
    test::write_text(dir_ / "cfg.yaml",
                     "database:\n  path: " + (dir_ / "jobs.db") + "\n" + top_extra +
                         "storage:\n  base_dir: " + (dir_ / "store") + "\nrun:\n  scratch_dir: " + (dir_ / "scratch") +
                         "\n  step_timeout: " + std::to_string(step_timeout) + "\n  retry_delay: 0.2\n" + run_extra +
                         "model_parameters:\n  species: [CO]\n");
  }
  std::vector<std::string> with_config(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", dir_ / "cfg.yaml"});
    return args;
  }
  // Job `name` running under an owner on another host after `attempts` attempts, its lease
  // expired and its last heartbeat that many seconds from now (negative: ago).
  void run_elsewhere(const std::string& name, int attempts, int expired, int heartbeat) {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE pdr_model_jobs SET status = 'running', pending = 0, active = 1, attempts = " +
             std::to_string(attempts) +
             ", token = 'elsewhere-run', host = 'elsewhere', pid = 1, lease_epoch = 1, lease_expires_at = "
             "datetime('now', '" +
             std::to_string(expired) + " seconds'), heartbeat_at = datetime('now', '" + std::to_string(heartbeat) +
             " seconds') WHERE model_job_name = :n",
        soci::use(name);
  }
  // Runs pdr_run in `cwd`, killed after `seconds` (a loop must fail the test, not hang it).
  test::RunResult run_within(double seconds, const std::vector<std::string>& args, const std::string& plan = "",
                             const std::string& cwd = "") {
    const std::string where = cwd.empty() ? dir_.path() : cwd;
    return finish_within(seconds, test::start_pdr_run(where, with_config(args), env(plan)), where);
  }
  // The grid's jobs registered, none run.
  test::RunResult register_only(std::vector<std::string> grid) {
    grid.push_back("--register-only");
    return run_within(60, grid);
  }
  test::RunResult finish_within(double seconds, pid_t pid, const std::string& where) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    int status = 0;
    bool ended = false;
    while (!ended && Clock::now() < deadline) {
      ended = waitpid(pid, &status, WNOHANG) == pid;
      if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    test::RunResult r;
    if (!ended) {
      ::kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0) {}
    }
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = test::read_text(where + "/.stdout");
    r.err = test::read_text(where + "/.stderr");
    if (!ended) ADD_FAILURE() << "pdr_run did not end within " << seconds << " s:\n" << r.err.substr(0, 4000);
    return r;
  }
  void wait_for_starts(size_t n, double seconds = 60) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (count_starts(dir_ / "trace") < n && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_GE(count_starts(dir_ / "trace"), n) << "the mock programs did not start";
  }
  // Starts of the mock (pdr and onion) for one job.
  size_t starts_of(const std::string& job) {
    size_t n = 0;
    for (const auto& e : read_trace(dir_ / "trace")) n += e.what == "start" && e.job == job;
    return n;
  }
  bool all_stopped(const std::set<long long>& pids, double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      bool any = false;
      for (long long p : pids) any = any || test::process_running(p);
      if (!any) return true;
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  // A tmpfs of `kib` KiB at `path` (a full disk on demand); unmounted at the end.
  void mount_small_disk(const std::string& path, int kib) {
    fs::create_directories(path);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + std::to_string(kib) + "k").c_str()) != 0) {
      // CI runs as root and must run this test; elsewhere say why it cannot.
      if (std::getenv("CI") != nullptr) FAIL() << "cannot mount a tmpfs at " << path << " (root needed)";
      GTEST_SKIP() << "mounting a tmpfs needs root";
    }
    mounts_.push_back(path);
  }
  void fill(const std::string& dir) {
    std::system(("dd if=/dev/zero of=" + dir + "/filler bs=4k >/dev/null 2>&1").c_str());
  }
  void TearDown() override {
    for (const auto& m : mounts_) ::umount2(m.c_str(), MNT_DETACH);
    // Whatever the test broke, the history of every job it left agrees with the job's state.
    if (fs::exists(dir_ / "jobs.db") &&
        sql_count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'pdr_job_events'") == 1) {
      test::expect_history_agrees([&](const std::string& sql) { return sql_count(sql); }, /*finished_once=*/false);
    }
  }

 private:
  std::vector<std::string> mounts_;
};

const std::vector<std::string> kEight = {"--model-name", "dp",    "--parallel", "--workers", "2",      "--dens", "30",
                                         "40",           "--chi", "10",         "20",        "--mass", "-10",    "00"};

// Case 1: a worker does not end while a dead peer's jobs are still leased; it waits for their
// leases to expire, takes them over and runs them. (Case 4 too: the dead peer's programs die
// with it.)
TEST_F(NoJobLostTest, AWorkerWaitsForADeadPeersLeasedJobsAndRunsThem) {
  write_config("  lease_seconds: 6\n  heartbeat_seconds: 2\n");
  fs::create_directories(dir_ / "a");
  fs::create_directories(dir_ / "b");
  const pid_t a = test::start_pdr_run(dir_ / "a", with_config(kEight), env("*:sleep=1"));
  wait_for_starts(2);
  const pid_t b = test::start_pdr_run(
      dir_ / "b", with_config({"worker", "--model-name", "dp", "--parallel", "--workers", "2"}), env("*:sleep=1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ::kill(a, SIGKILL);
  test::finish_pdr_run(a, dir_ / "a");
  std::set<std::string> held_by_a;
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    std::vector<std::string> names(16);
    const long long a_pid = a;
    s << "SELECT model_job_name FROM pdr_model_jobs WHERE status = 'running' AND pid = :p", soci::use(a_pid),
        soci::into(names);
    held_by_a.insert(names.begin(), names.end());
  }
  ASSERT_FALSE(held_by_a.empty()) << "the killed process held no job";
  std::set<long long> a_programs;
  for (const auto& e : read_trace(dir_ / "trace")) {
    if (e.what == "start" && held_by_a.count(e.job)) a_programs.insert(e.pid);
  }
  EXPECT_TRUE(all_stopped(a_programs, 3)) << "a model program outlived its killed pdr_run";
  auto rb = test::finish_pdr_run(b, dir_ / "b");
  EXPECT_EQ(rb.code, 0) << rb.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 8) << rb.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running'"), 0);
  EXPECT_NE(rb.out.find("in the database: 8 finished, 0 failed, 0 pending, 0 running"), std::string::npos) << rb.out;
  for (const auto& job : held_by_a) {
    EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE model_job_name = '" + job +
                        "' AND status = 'finished' AND pid <> " + std::to_string(a)),
              1)
        << job << " was not run again by the worker";
  }
}

// A peer of this host whose process is gone and that missed its heartbeat: a worker ending beside
// its job ends its lease (which has long to run) and runs the job, rather than waiting for the
// lease to run out.
TEST_F(NoJobLostTest, AWorkerEndsTheLeaseOfAGoneOwnerOnThisHostAndRunsItsJob) {
  write_config("  lease_seconds: 60\n  heartbeat_seconds: 20\n");
  auto first = run_within(60, {"--model-name", "dh", "--dens", "30", "--chi", "10"});
  ASSERT_EQ(first.code, 0) << first.err;
  auto reg = run_within(60, {"--model-name", "dh", "--register-only", "--dens", "30", "40", "--chi", "10"});
  ASSERT_EQ(reg.code, 0) << reg.err;
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  {
    // Held by that process, silent for longer than a heartbeat, with a long lease.
    soci::session db(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    db << "UPDATE pdr_model_jobs SET status = 'running', pending = 0, active = 1, attempts = 1, lease_epoch = 1, "
          "token = 'feedfacefeedface', pid = " +
              std::to_string(gone) +
              ", host = (SELECT host FROM pdr_model_jobs WHERE model_job_name = '100_30_-10_10_00'), heartbeat_at = "
              "datetime('now', '-30 seconds'), lease_expires_at = datetime('now', '+600 seconds') WHERE model_job_name = "
              "'100_40_-10_10_00'";
  }
  auto w = run_within(40, {"worker", "--model-name", "dh"});
  EXPECT_EQ(w.code, 0) << w.err;
  EXPECT_NE(w.out.find("in the database: 2 finished, 0 failed, 0 pending, 0 running"), std::string::npos)
      << w.out << w.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 2"), 1) << w.err;
}

// Case 4: SIGKILL of pdr_run kills its model programs with it, and the next run on the host
// removes the dead run's working directories.
TEST_F(NoJobLostTest, AKilledRunLeavesNoProgramAndTheNextRunRemovesItsWorkingDirectories) {
  write_config("  lease_seconds: 3\n  heartbeat_seconds: 1\n");
  const std::vector<std::string> grid = {"--model-name", "k9", "--parallel", "--workers", "2",
                                         "--dens",       "30", "40",         "--chi",     "10"};
  // The programs are ended by the parent-death signal; what they started themselves (a child
  // here) by the next run on the host, which finds it in the killed run's work area.
  const pid_t pid = test::start_pdr_run(dir_.path(), with_config(grid), env("*:hang-with-child"));
  wait_for_starts(2);
  // While the program runs, the heartbeat puts its start into the job's history.
  std::string seen;
  for (int i = 0; i < 100 && seen.find(" started ") == std::string::npos; ++i) {
    seen = run_within(30, {"history", "--model-name", "k9", "--job", "100_30_-10_10_00"}).out;
    if (seen.find(" started ") == std::string::npos) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(seen.find(" started    running "), std::string::npos) << seen;
  EXPECT_NE(seen.find("[pdr]"), std::string::npos) << seen;
  ::kill(pid, SIGKILL);
  test::finish_pdr_run(pid, dir_.path());
  std::set<long long> programs;
  for (const auto& e : read_trace(dir_ / "trace")) programs.insert(e.pid);
  EXPECT_TRUE(all_stopped(programs, 3)) << "a model program outlived its killed pdr_run";
  size_t left = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "scratch")) {
    left += e.path().filename().string().rfind("pdr_run-work-", 0) == 0;
  }
  EXPECT_EQ(left, 1u) << "the killed run's work area";
  std::set<long long> children;
  {
    std::istringstream in(test::read_text(dir_ / "trace"));
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string what, job;
      long long ms = 0, child = 0;
      f >> what >> job >> ms >> child;
      if (what == "child") children.insert(child);
    }
  }
  EXPECT_EQ(children.size(), 2u);
  // Its row still says it runs. Silent for longer than two heartbeats (and 25 s) with its
  // process gone, status and the report say it is gone; a process that lives on but has been
  // silent for as long as a run may be (two minutes here) is "running?". The row is back-dated
  // before each look, so a slow machine does not move the seconds.
  const auto silent_for = [&](int seconds, pid_t owner) {
    soci::session db(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    db << "UPDATE pdr_runs SET updated_at = datetime('now', '-" + std::to_string(seconds) +
              " seconds'), pid = " + std::to_string(owner);
  };
  const std::string killed = std::to_string(pid);
  silent_for(130, pid);
  auto st = run_within(30, {"status", "--model-name", "k9"});
  EXPECT_NE(st.out.find(" pid " + killed + "  gone (no process " + killed + " on this host; last heard from 2m1"),
            std::string::npos)
      << st.out;
  silent_for(130, pid);
  auto js = run_within(30, {"status", "--model-name", "k9", "--json"});
  EXPECT_NE(js.out.find("\"state\": \"running\", \"seen_as\": \"gone\", \"silent_seconds\": 13"), std::string::npos)
      << js.out;
  silent_for(130, pid);
  auto page = run_within(30, {"report", "--model-name", "k9", "--json", "--out", "-"});
  EXPECT_NE(page.out.find("\"state\":\"running\",\"seen_as\":\"gone\",\"shown\":\"gone (no process " + killed),
            std::string::npos)
      << page.out;
  silent_for(130, ::getpid());
  st = run_within(30, {"status", "--model-name", "k9"});
  EXPECT_NE(st.out.find(" pid " + std::to_string(::getpid()) + "  running? (not heard from for 2m1"), std::string::npos)
      << st.out;
  silent_for(60, ::getpid());
  st = run_within(30, {"status", "--model-name", "k9"});
  EXPECT_NE(st.out.find(" pid " + std::to_string(::getpid()) + "  running  "), std::string::npos)
      << "a live process silent for less than two minutes may renew less often: " << st.out;
  silent_for(130, pid);
  // Someone looking into a killed job's directory (a shell there, without the run's environment)
  // is left alone.
  std::string job_dir;
  for (const auto& e : read_trace(dir_ / "trace")) {
    if (e.what == "start") job_dir = e.cwd;
  }
  ASSERT_FALSE(job_dir.empty());
  const pid_t bystander = ::fork();
  if (bystander == 0) {
    char* const argv[] = {const_cast<char*>("sleep"), const_cast<char*>("60"), nullptr};
    char* const no_env[] = {nullptr};
    if (::chdir(job_dir.c_str()) == 0) ::execve("/bin/sleep", argv, no_env);
    ::_exit(127);
  }
  auto again = run_within(120, grid);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("removed the working directories of 1 ended pdr_run process on this host"),
            std::string::npos)
      << again.err;
  EXPECT_TRUE(all_stopped(children, 3)) << "what the killed run's programs started outlived the next run's start";
  EXPECT_TRUE(test::process_running(bystander)) << "a process that is not the run's was ended";
  ::kill(bystander, SIGKILL);
  ::waitpid(bystander, nullptr, 0);
  for (const auto& e : fs::directory_iterator(dir_ / "scratch")) {
    EXPECT_NE(e.path().filename().string().rfind("pdr_run-work-", 0), 0u) << "left behind: " << e.path();
  }
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 2);
  // Each job's history tells it: claimed by the killed run, its pdr started, reaped by the next
  // one (the owner's process is gone), claimed again, its pdr, onion and storage stages started,
  // and finished.
  auto h = run_within(30, {"history", "--model-name", "k9", "--job", "100_30_-10_10_00"});
  EXPECT_EQ(h.code, 0) << h.err;
  size_t at = 0;
  for (const char* e :
       {" claimed ", " started ", " reaped ", " claimed ", " started ", " started ", " started ", " finished "}) {
    at = h.out.find(e, at);
    ASSERT_NE(at, std::string::npos) << "no" << e << "in order in:\n" << h.out;
    ++at;
  }
  EXPECT_NE(h.out.find("lease of host "), std::string::npos) << h.out;
  auto json = run_within(30, {"history", "--model-name", "k9", "--reason", "reaped", "--json"});
  EXPECT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(json.out.rfind("[{\"id\": ", 0), 0u) << json.out;
  size_t reaped = 0;
  for (size_t p = json.out.find("\"event\": \"reaped\""); p != std::string::npos;
       p = json.out.find("\"event\": \"reaped\"", p + 1)) {
    ++reaped;
  }
  EXPECT_EQ(reaped, 2u) << json.out;
}

// Case 5: an output that cannot take its final name (a directory in the way) is a failed
// attempt: it counts against max_attempts, waits retry_delay and ends failed; a repeated
// species is run once. Case 12: nothing of that job is left under a final name.
TEST_F(NoJobLostTest, AnOutputThatCannotTakeItsNameEndsFailedInsteadOfLooping) {
  write_config("");
  fs::create_directories(dir_ / "store/lp/pdrgrid/pdr100_30_-10_10_00.hdf");
  auto r = run_within(90, {"--model-name", "lp", "--dens", "30", "40", "--chi", "10", "--species", "CO", "CO"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("species 'CO' is given twice; its onion runs once"), std::string::npos) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE model_job_name = '100_30_-10_10_00' AND status = "
                      "'exception_runtime' AND attempts = 2 AND error LIKE 'storage: %Is a directory%'"),
            1)
      << r.err;
  EXPECT_EQ(starts_of("100_30_-10_10_00"), 4u) << "two attempts of pdr + one onion (CO once)";
  EXPECT_EQ(starts_of("100_40_-10_10_00"), 2u);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  for (const char* f : {"pdrgrid/pdrstruct100_30_-10_10_00.hdf5", "pdrgrid/MCDRT100_30_-10_10_00.tar.gz",
                        "oniongrid/ONION100_30_-10_10_00.jerg_CO.smli"}) {
    EXPECT_FALSE(fs::exists(dir_ / ("store/lp/" + std::string(f)))) << f << " took its name for an unfinished job";
  }
  // Its logs are kept, as any failed attempt's.
  for (const char* f : {"pdrgrid/TEXTOUT100_30_-10_10_00", "oniongrid/TEXTOUT100_30_-10_10_00_CO"}) {
    EXPECT_TRUE(fs::exists(dir_ / ("store/lp/" + std::string(f)))) << f;
  }
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "store/lp")) {
    EXPECT_EQ(e.path().filename().string().find(".staged-"), std::string::npos) << e.path();
  }
  EXPECT_NE(r.out.find("in the database: 1 finished, 1 failed, 0 pending, 0 running"), std::string::npos) << r.out;
}

// Case 6: interrupts (Slurm's time limit is a SIGTERM) do not use up attempts.
TEST_F(NoJobLostTest, InterruptionsDoNotUseUpAttempts) {
  write_config("");
  const std::vector<std::string> grid = {"--model-name", "ir", "--dens", "30", "--chi", "10"};
  for (int i = 1; i <= 3; ++i) {
    const pid_t pid = test::start_pdr_run(dir_.path(), with_config(grid), env("*:hang"));
    wait_for_starts(static_cast<size_t>(i));
    ::kill(pid, i == 2 ? SIGHUP : SIGTERM);
    EXPECT_EQ(test::finish_pdr_run(pid, dir_.path()).code, 130);
  }
  EXPECT_EQ(sql_count("SELECT attempts FROM pdr_model_jobs WHERE status = 'pending'"), 0);
  auto r = run_within(60, grid, "*:fail=3");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(
      sql_count(
          "SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND attempts = 2 AND error LIKE "
          "'pdr: exit code 3%failed the same way twice%'"),
      1)
      << r.err;
  EXPECT_EQ(r.err.find("attempt 4 of 3"), std::string::npos) << r.err;
}

// A finished job queued again (here by verify, as by a registration that finds its outputs gone
// or --force-onion) starts a fresh set of attempts: its finish used none. A finish whose outputs
// cannot take their names is a failed attempt of that set; on the last one the run's own closing
// line counts the job failed, as the database does.
TEST_F(NoJobLostTest, AFinishedJobQueuedAgainStartsAFreshSetOfAttempts) {
  write_config("  max_attempts: 2\n");
  const std::vector<std::string> grid = {"--model-name", "fa", "--dens", "30", "40", "--chi", "10"};
  auto first = run_within(60, grid);
  ASSERT_EQ(first.code, 0) << first.err;
  const fs::path input = dir_ / "store/fa/pdrgrid/PDRNEW100_30_-10_10_00.INP";
  fs::remove(input);
  fs::create_directory(input);  // no output can take this name
  auto checked = run_within(60, {"verify", "--model-name", "fa"});
  EXPECT_EQ(checked.code, 1) << checked.out << checked.err;
  EXPECT_EQ(sql_count("SELECT attempts FROM pdr_model_jobs WHERE status = 'pending'"), 0);
  auto again = run_within(60, grid);
  EXPECT_EQ(again.code, 1) << again.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND attempts = 2"), 1)
      << again.err;
  EXPECT_NE(again.err.find("attempt 1 of 2 failed: storage: "), std::string::npos) << again.err;
  EXPECT_NE(again.out.find("0 finished, 1 failed, 1 already done, 1 failed attempt queued again"), std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("failed: 100_30_-10_10_00: storage: "), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("in the database: 1 finished, 1 failed, 0 pending, 0 running"), std::string::npos)
      << again.out;
  // Its log is recorded as any failed attempt's (verify had cleared the job's output columns).
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND log_file LIKE "
                      "'%/TEXTOUT100_30_-10_10_00'"),
            1);
  EXPECT_TRUE(fs::exists(dir_ / "store/fa/pdrgrid/TEXTOUT100_30_-10_10_00"));
}

// A storage that refuses every output (its directory replaced by a file: ENOTDIR; a directory
// made read-only: EACCES for a user) is the host's failure, like a full disk: the run stops
// claiming instead of running every job to its last attempt.
TEST_F(NoJobLostTest, AStorageThatRefusesEveryOutputStopsClaiming) {
  write_config("");
  const std::vector<std::string> grid = {"--model-name", "nd", "--dens", "30", "40", "50", "--chi", "10"};
  auto reg = register_only(grid);
  ASSERT_EQ(reg.code, 0) << reg.err;
  // Replaced while the first job runs (at the start it is one line and nothing runs).
  const pid_t pid = test::start_pdr_run(dir_.path(), with_config({"worker", "--model-name", "nd", "--workers", "1"}),
                                        env("*:sleep=2"));
  wait_for_starts(1);
  fs::remove_all(dir_ / "store/nd/pdrgrid");
  test::write_text(dir_ / "store/nd/pdrgrid", "not a directory\n");
  auto r = finish_within(60, pid, dir_.path());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("Not a directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("every job on this host would fail the same way; stopping"), std::string::npos) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0"), 2)
      << "claiming stopped";
  EXPECT_EQ(count_starts(dir_ / "trace"), 2u) << "one job ran (pdr and onion), no other";
}

// Case 8: jobs the run's own reaper fails (an expired lease on the last attempt) count in the
// closing line and the exit code, which come from the model's recorded states.
TEST_F(NoJobLostTest, JobsTheReaperFailsCountInTheExitCode) {
  write_config("");
  const std::vector<std::string> grid = {"--model-name", "rp", "--dens", "30", "40", "50", "--chi", "10"};
  auto reg = register_only(grid);
  ASSERT_EQ(reg.code, 0) << reg.err;
  run_elsewhere("100_40_-10_10_00", 3, -60, -60);
  auto r = run_within(60, {"worker", "--model-name", "rp"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("in the database: 2 finished, 1 failed, 0 pending, 0 running"), std::string::npos) << r.out;
  EXPECT_EQ(
      sql_count(
          "SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND error LIKE 'lease expired%'"),
      1);
}

// A process that has just started cannot tell how long an owner with an expired lease has been
// silent: it takes the job back once it watched for a whole lease, and says so as what it is,
// not as an outage it never had.
TEST_F(NoJobLostTest, AFreshWorkerWaitsALeaseForARecentlySilentOwnerAndSaysWhy) {
  write_config("  lease_seconds: 3\n  heartbeat_seconds: 1\n");
  const std::vector<std::string> grid = {"--model-name", "fw", "--dens", "30", "40", "--chi", "10"};
  auto reg = register_only(grid);
  ASSERT_EQ(reg.code, 0) << reg.err;
  run_elsewhere("100_40_-10_10_00", 1, -1, -4);
  auto r = run_within(60, {"worker", "--model-name", "fw"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("1 expired lease of other processes is taken back once its owner stayed silent for 120 s, "
                       "or after this process has watched it for 3 s (it has just started)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("could not reach the database"), std::string::npos) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts <= 2"), 2);
}

// A worker runs a model's jobs for the species they were registered with: one without some of
// them (its config, or --species) is refused before it runs or writes anything; the same
// species in another order are the same, and more species are allowed.
TEST_F(NoJobLostTest, AWorkerWithOtherSpeciesThanTheRegistrationIsRefused) {
  write_config("");
  auto reg = run_within(
      60, {"--model-name", "sp", "--dens", "30", "40", "--chi", "10", "--species", "CO", "C", "O", "--register-only"});
  ASSERT_EQ(reg.code, 0) << reg.err;
  auto fewer = run_within(60, {"worker", "--model-name", "sp"});  // the config's [CO]
  EXPECT_EQ(fewer.code, 2) << fewer.err;
  EXPECT_NE(fewer.err.find("model 'sp' has jobs registered for the species CO C O; this worker's are CO, without C O"),
            std::string::npos)
      << fewer.err;
  EXPECT_EQ(count_starts(dir_ / "trace"), 0u);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0"), 2);
  // The grid extended with one more species: its waiting jobs were registered for either set,
  // and a worker with every species they need runs them all.
  auto more = run_within(60, {"--model-name", "sp", "--dens", "30", "40", "50", "--chi", "10", "--species", "CO", "C",
                              "O", "OH", "--register-only"});
  ASSERT_EQ(more.code, 0) << more.err;
  auto same = run_within(60, {"worker", "--model-name", "sp", "--species", "O", "CO", "C", "OH"});
  EXPECT_EQ(same.code, 0) << same.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 3);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM job_files WHERE kind = 'onion_log'"), 12) << "four species a job";
}

// Case 11: jobs run by `pdr_run worker` point at the template that rendered their inputs.
TEST_F(NoJobLostTest, AWorkerRecordsTheTemplateOfTheJobsItRuns) {
  write_config("");
  auto reg = run_within(60, {"--model-name", "tw", "--dens", "30", "40", "--chi", "10", "--register-only"});
  ASSERT_EQ(reg.code, 0) << reg.err;
  auto r = run_within(60, {"worker", "--model-name", "tw"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM json_files"), 2);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM json_files f JOIN json_templates t ON t.id = f.template_id"), 2);
}

// Cases 12 and 13: a full disk under the stored outputs stops claiming with one line naming the
// real cause; the jobs that hit it are failed attempts (to be tried again), and no output takes a
// final name.
TEST_F(NoJobLostTest, AFullStorageDiskStopsClaimingAndLeavesNoOutputUnderAFinalName) {
  write_config("");
  mount_small_disk(dir_ / "store", 64);
  if (HasFatalFailure() || IsSkipped()) return;
  fill(dir_ / "store");
  auto r = run_within(
      60, {"--model-name", "fd", "--parallel", "--workers", "2", "--dens", "30", "40", "50", "60", "--chi", "10"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("every job on this host would fail the same way; stopping"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(": Success"), std::string::npos) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 1 AND error LIKE "
                      "'attempt 1 of 3 failed: storage: %No space left on device%'"),
            2)
      << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0"), 2)
      << "claiming stopped";
  // The run ended: it does not say it runs (until a reap, after a whole lease, marked it lost).
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_runs WHERE state = 'failed'"), 1) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_runs WHERE state = 'running'"), 0) << r.err;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "store")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(e.path().filename(), "filler") << "left behind: " << e.path();
    }
  }
}

// A run killed between recording a finish and renaming its outputs (SIGKILL, its node gone)
// leaves them under their staged names: the job says finished, its outputs are not where it
// says. The next process of the model, a bare worker included, gives them their names: nothing
// runs again. A run that may still be renaming them (its process alive) is left alone.
TEST_F(NoJobLostTest, OutputsAKilledRunLeftStagedTakeTheirNamesAtTheNextStart) {
  write_config("");
  auto r = run_within(60, {"--model-name", "st", "--dens", "30", "40", "--chi", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t starts = count_starts(dir_ / "trace");
  soci::session db(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
  // The job's recorded outputs back under the staged names of its attempt.
  // With `keep_first`, its first output is also left at its final name (a run killed while
  // renaming them, or a run again whose output came out the same): that copy goes too.
  auto stage = [&](const std::string& job, bool keep_first = false) {
    std::string token;
    long long epoch = 0, id = 0;
    db << "SELECT j.id, e.token, e.lease_epoch FROM pdr_model_jobs j JOIN pdr_job_events e ON e.job_id = j.id AND "
          "e.event = 'finished' WHERE j.model_job_name = :n",
        soci::use(job), soci::into(id), soci::into(token), soci::into(epoch);
    std::vector<std::string> paths;
    soci::rowset<std::string> rs = (db.prepare << "SELECT path FROM job_files WHERE job_id = :i", soci::use(id));
    for (const auto& p : rs) paths.push_back(p);
    EXPECT_GT(paths.size(), 5u);
    for (const auto& p : paths) {
      const std::string copy = staged_path(p, token.substr(0, 12) + "-" + std::to_string(epoch));
      if (keep_first && p == paths.front()) {
        fs::copy_file(p, copy);
      } else {
        fs::rename(p, copy);
      }
    }
    return paths;
  };
  auto all_there = [](const std::vector<std::string>& paths) {
    for (const auto& p : paths) {
      if (!fs::is_regular_file(p)) return false;
    }
    return true;
  };
  const auto first = stage("100_30_-10_10_00");
  // One final name holds an earlier attempt's file (left there when the job ran again): not the
  // recorded one, so the staged copy replaces it.
  test::write_text(first[1], "an earlier attempt's output\n");
  // Its run still says it runs, from a process of this host that is alive: left alone.
  db << "UPDATE pdr_runs SET state = 'running', pid = " + std::to_string(getpid()) +
            ", updated_at = datetime('now', '-30 seconds')";
  auto live = run_within(60, {"worker", "--model-name", "st"});
  EXPECT_EQ(live.code, 0) << live.err;
  EXPECT_FALSE(fs::exists(first.front())) << live.err;
  // Its process is gone: the next worker gives the outputs their names.
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  db << "UPDATE pdr_runs SET pid = " + std::to_string(gone) + ", updated_at = datetime('now', '-30 seconds')";
  auto w = run_within(60, {"worker", "--model-name", "st"});
  EXPECT_EQ(w.code, 0) << w.err;
  EXPECT_TRUE(all_there(first)) << w.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_runs WHERE state = 'gone'"), 1) << "looked at once";
  EXPECT_NE(w.err.find(std::to_string(first.size()) +
                       " outputs of 1 job finished by runs that ended before renaming them now have their names"),
            std::string::npos)
      << w.err;
  auto checked = run_within(60, {"verify", "--model-name", "st"});
  EXPECT_EQ(checked.code, 0) << checked.out << checked.err;
  EXPECT_NE(checked.out.find(", 0 jobs back to pending"), std::string::npos) << checked.out;
  // A run of another host marked lost, silent for two minutes: the same, at a registration too.
  // (Its finish was recorded before its last heartbeat.)
  const auto second = stage("100_40_-10_10_00", /*keep_first=*/true);
  db << "UPDATE pdr_runs SET state = 'lost', host = 'elsewhere', updated_at = datetime('now', '-200 seconds') WHERE "
        "state = 'gone'";
  db << "UPDATE pdr_job_events SET at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-210 seconds') WHERE event = "
        "'finished'";
  auto again = run_within(60, {"--model-name", "st", "--dens", "30", "40", "--chi", "10"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(all_there(second)) << again.err;
  EXPECT_NE(again.out.find("0 finished, 0 failed, 2 already done"), std::string::npos) << again.out;
  EXPECT_EQ(count_starts(dir_ / "trace"), starts) << "nothing ran again";
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1"), 2);
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "store/st")) {
    EXPECT_NE(e.path().filename().string().front(), '.') << "left staged: " << e.path();
  }
}

// The same during an outage of the storage (here a local one whose filesystem answers ELOOP, as
// a network filesystem answers EIO or ESTALE): outputs it cannot look for are neither taken for
// missing nor forgotten. The run stays to be looked at; once the storage answers, the next start
// gives them their names. Neither a registration nor verify runs the job again meanwhile.
TEST_F(NoJobLostTest, OutputsLeftStagedDuringAnOutageOfTheStorageTakeTheirNamesOnceItAnswers) {
  write_config("");
  const std::vector<std::string> grid = {"--model-name", "so", "--dens", "30", "--chi", "10"};
  auto r = run_within(60, grid);
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t starts = count_starts(dir_ / "trace");
  soci::session db(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
  std::string token;
  long long epoch = 0;
  db << "SELECT e.token, e.lease_epoch FROM pdr_job_events e WHERE e.event = 'finished'", soci::into(token),
      soci::into(epoch);
  std::vector<std::string> paths;
  soci::rowset<std::string> rs = (db.prepare << "SELECT path FROM job_files ORDER BY id");
  for (const auto& p : rs) paths.push_back(p);
  ASSERT_GT(paths.size(), 5u);
  for (const auto& p : paths) fs::rename(p, staged_path(p, token.substr(0, 12) + "-" + std::to_string(epoch)));
  // The filesystem cannot tell about the outputs: a lookup of their names fails with ELOOP.
  for (const auto& p : paths) fs::create_symlink(fs::path(p).filename(), p);
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  db << "UPDATE pdr_runs SET state = 'running', pid = " + std::to_string(gone) +
            ", updated_at = datetime('now', '-30 seconds')";

  auto w = run_within(60, {"worker", "--model-name", "so"});
  EXPECT_EQ(w.code, 0) << w.err;
  EXPECT_NE(
      w.err.find("outputs left staged by 1 run that ended could not be settled (storage unreachable: cannot look for " +
                 paths.front()),
      std::string::npos)
      << w.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_runs WHERE state = 'gone'"), 0) << "to be looked at again";
  EXPECT_TRUE(fs::is_symlink(paths.back())) << "not renamed while the storage cannot tell";
  auto reg = run_within(60, grid);
  EXPECT_EQ(reg.code, 0) << reg.err;
  EXPECT_NE(reg.out.find("0 finished, 0 failed, 1 already done"), std::string::npos) << reg.out << reg.err;
  EXPECT_NE(reg.err.find("check them later with pdr_run verify --config " + (dir_ / "cfg.yaml") + " --model-name so"),
            std::string::npos)
      << reg.err;
  auto v = run_within(60, {"verify", "--model-name", "so"});
  EXPECT_EQ(v.code, 1) << v.out << v.err;
  EXPECT_NE(v.out.find("job 1: storage unreachable: cannot look for " + paths.front() + "; left as it is"),
            std::string::npos)
      << v.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);

  // The storage answers again.
  for (const auto& p : paths) fs::remove(p);
  auto back = run_within(60, {"worker", "--model-name", "so"});
  EXPECT_EQ(back.code, 0) << back.err;
  for (const auto& p : paths) EXPECT_TRUE(fs::is_regular_file(p)) << p << "\n" << back.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_runs WHERE state = 'gone'"), 1) << back.err;
  auto clean = run_within(60, {"verify", "--model-name", "so"});
  EXPECT_EQ(clean.code, 0) << clean.out << clean.err;

  // The outputs left staged again, and now a staged copy the filesystem cannot tell about: the
  // missing final names are no reason to queue the job, nor to remove its copies.
  const std::string tag = token.substr(0, 12) + "-" + std::to_string(epoch);
  for (const auto& p : paths) fs::rename(p, staged_path(p, tag));
  const std::string loop = staged_path(paths.front(), tag);
  fs::rename(loop, dir_ / "kept");
  fs::create_symlink(fs::path(loop).filename(), loop);
  db << "UPDATE pdr_runs SET state = 'running', pid = " + std::to_string(gone) +
            ", updated_at = datetime('now', '-30 seconds')";
  auto reg2 = run_within(60, grid);
  EXPECT_EQ(reg2.code, 0) << reg2.err;
  EXPECT_NE(reg2.out.find("0 finished, 0 failed, 1 already done"), std::string::npos) << reg2.out << reg2.err;
  auto v2 = run_within(60, {"verify", "--model-name", "so"});
  EXPECT_EQ(v2.code, 1) << v2.out << v2.err;
  EXPECT_NE(v2.out.find("job 1: storage unreachable: cannot look for " + loop + "; left as it is"), std::string::npos)
      << v2.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  EXPECT_TRUE(fs::is_regular_file(staged_path(paths.back(), tag))) << "a copy of the finish was removed";
  fs::remove(loop);
  fs::rename(dir_ / "kept", loop);
  auto back2 = run_within(60, {"worker", "--model-name", "so"});
  EXPECT_EQ(back2.code, 0) << back2.err;
  for (const auto& p : paths) EXPECT_TRUE(fs::is_regular_file(p)) << p << "\n" << back2.err;
  EXPECT_EQ(count_starts(dir_ / "trace"), starts) << "nothing ran again";
}

// Case 2: a stop that cannot record as usual (here a write the database refuses) stops the
// running programs at once and hands their jobs back, the refused one included: the next run
// runs all three.
TEST_F(NoJobLostTest, ARefusedWriteStopsTheProgramsAndHandsTheRunningJobsBack) {
  write_config("");
  const std::vector<std::string> grid = {"--model-name", "rw", "--parallel", "--workers", "3", "--dens",
                                         "30",           "40", "50",         "--chi",     "10"};
  const pid_t pid =
      test::start_pdr_run(dir_.path(), with_config(grid), env("100_30_*:sleep=1;100_40_*:hang;100_50_*:hang"));
  wait_for_starts(3);
  {
    soci::session side(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db") + " timeout=5");
    side << "CREATE TRIGGER refuse_finish BEFORE UPDATE OF status ON pdr_model_jobs WHEN NEW.status = 'finished' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END";
  }
  const auto t0 = Clock::now();
  auto r = test::finish_pdr_run(pid, dir_.path());
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("refused by a test trigger"), std::string::npos) << r.err;
  EXPECT_LT(secs, 4.5) << "the hanging programs were left to their 5 s step timeout";
  std::set<long long> programs;
  for (const auto& e : read_trace(dir_ / "trace")) programs.insert(e.pid);
  EXPECT_TRUE(all_stopped(programs, 3));
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running'"), 0);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0"), 3);
  {
    soci::session side(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    side << "DROP TRIGGER refuse_finish";
  }
  auto again = run_within(60, grid);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1"), 3)
      << again.err;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "store/rw/pdrgrid/pdr100_30_-10_10_00.hdf"));
}

// Case 13: a full scratch disk stops the run at once instead of failing every job in turn.
TEST_F(NoJobLostTest, AFullScratchDiskStopsTheRunWithOneLine) {
  write_config("");
  mount_small_disk(dir_ / "scratch", 64);
  if (HasFatalFailure() || IsSkipped()) return;
  fill(dir_ / "scratch");
  auto r = run_within(60, {"--model-name", "fs", "--dens", "30", "40", "50", "--chi", "10"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 1 AND error LIKE "
                      "'%No space left on device%'"),
            1)
      << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0"), 2)
      << "claiming stopped";
  EXPECT_EQ(count_starts(dir_ / "trace"), 0u);
}

// A row the Python pdr_run inserts while a run works is classified by the next registration
// only: until then no count has it, and the run's closing lines said nothing of it.
TEST_F(NoJobLostTest, ARowThePredecessorInsertsDuringARunIsNamedAtItsEnd) {
  write_config("");
  const pid_t pid =
      test::start_pdr_run(dir_.path(), with_config({"--model-name", "pi", "--dens", "30", "40"}), env("*:sleep=1"));
  wait_for_starts(1);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "INSERT INTO pdr_model_jobs (model_name_id, model_job_name, kosmatau_parameters_id, pending, active, status) "
         "SELECT model_name_id, '100_60_-10_10_00', kosmatau_parameters_id, 1, 0, 'pending' FROM pdr_model_jobs "
         "LIMIT 1";
  }
  auto r = finish_within(60, pid, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(
      r.out.find(
          "model pi in the database: 2 finished, 0 failed, 0 pending, 0 running\n  1 job row the Python "
          "pdr_run wrote since the model's registration is in no count above until the model is registered again"),
      std::string::npos)
      << r.out;
}

// A full log disk loses the run's log, not the grid: said once, in the run's own format (it was
// spdlog's raw "LOG ERROR" line, then silence, and the log file it had announced stayed empty).
TEST_F(NoJobLostTest, AFullLogDiskIsSaidOnceAndTheGridRuns) {
  write_config("  log_dir: " + (dir_ / "logs") + "\n");
  mount_small_disk(dir_ / "logs", 64);
  if (HasFatalFailure() || IsSkipped()) return;
  fill(dir_ / "logs");
  auto r = run_within(60, {"--model-name", "fl", "--dens", "30", "40", "--chi", "10"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("[warning] the log file of this run, " + (dir_ / "logs/pdr_run-fl-")), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("No space left on device): it ends here; the terminal has the rest"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("LOG ERROR"), std::string::npos) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 2);
}

// A disk that fills up during a job (its pdr step filled it) stops the run at the next step's
// first write, not after every job has failed on it: the job goes back to pending.
TEST_F(NoJobLostTest, AScratchDiskThatFillsDuringAJobStopsTheRun) {
  write_config("");
  mount_small_disk(dir_ / "scratch", 1024);
  if (HasFatalFailure() || IsSkipped()) return;
  auto r = run_within(60, {"--model-name", "ff", "--dens", "30", "40", "50", "--chi", "10"}, "100_30_-10_10_00:fill");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("onion: cannot copy ONION3.INP.CO: No space left on device (into " + (dir_ / "scratch")),
            std::string::npos)
      << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND model_job_name = "
                      "'100_30_-10_10_00' AND error LIKE '%No space left on device%'"),
            1)
      << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0"), 2)
      << "claiming stopped";
}

// A database disk that fills up mid-grid is ridden out like an outage: the running programs go
// on, their outcomes wait in the journal, and once space is freed they are recorded and the rest
// of the grid runs, every job once.
TEST_F(NoJobLostTest, AFullDatabaseDiskIsRiddenOutAndNoJobIsLost) {
  mount_small_disk(dir_ / "dbdisk", 1024);
  if (HasFatalFailure() || IsSkipped()) return;
  const std::string db = dir_ / "dbdisk/jobs.db";
  test::write_text(dir_ / "cfg.yaml", "database:\n  path: " + db +
                                          "\n  retry:\n    deadline: 1\nstorage:\n  base_dir: " + (dir_ / "store") +
                                          "\nrun:\n  scratch_dir: " + (dir_ / "scratch") +
                                          "\n  journal_dir: " + (dir_ / "journal") +
                                          "\n  step_timeout: 30\nmodel_parameters:\n  species: [CO]\n");
  const std::vector<std::string> grid = {"--model-name", "fdb", "--parallel", "--workers", "2",  "--dens",
                                         "30",           "40",  "50",         "--chi",     "10", "20"};
  const pid_t pid = test::start_pdr_run(dir_.path(), with_config(grid), env("*:sleep=2"));
  wait_for_starts(2);
  fill(dir_ / "dbdisk");
  const auto full_at = std::chrono::steady_clock::now();
  // People can still look at the grid while its disk is full.
  auto during = run_within(30, {"status", "--model-name", "fdb"});
  EXPECT_EQ(during.code, 0) << during.err;
  EXPECT_NE(during.out.find("model fdb: 6 jobs"), std::string::npos) << during.out << during.err;
  std::this_thread::sleep_until(full_at + std::chrono::seconds(5));  // the first two finish meanwhile
  fs::remove(dir_ / "dbdisk/filler");
  auto r = finish_within(90, pid, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("database or disk is full"), std::string::npos) << r.err;
  // The file and its full filesystem are named (SQLite's own text names neither).
  EXPECT_NE(r.err.find("; the filesystem holding " + db + " is full: free space there; retrying in"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("kept in the outage journal"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("2 recorded from the outage journal"), std::string::npos) << r.out;
  const auto count = [&](const std::string& q) {
    soci::session s(*soci::factory_sqlite3(), "db=" + db);
    long long n = -1;
    s << q, soci::into(n);
    return n;
  };
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1"), 6);
  EXPECT_EQ(count("SELECT COUNT(*) FROM hdf_files"), 6) << "no provenance row given up on the full disk";
  EXPECT_EQ(count_starts(dir_ / "trace"), 12u) << "each job's pdr and onion started once";
  test::expect_history_agrees(count);
  // With no run left, the -wal and -shm a reader needs cannot be made on the full disk: status,
  // history and the report read the file as it is (it was a disk I/O error for 10 s).
  fill(dir_ / "dbdisk");
  auto after = run_within(30, {"status", "--model-name", "fdb"});
  EXPECT_EQ(after.code, 0) << after.err;
  EXPECT_NE(after.out.find("  finished          6"), std::string::npos) << after.out << after.err;
  auto events = run_within(30, {"history", "--model-name", "fdb"});
  EXPECT_EQ(events.code, 0) << events.err;
  auto page = run_within(30, {"report", "--model-name", "fdb", "--out", dir_ / "page.html"});
  EXPECT_EQ(page.code, 0) << page.err;
  fs::remove(dir_ / "dbdisk/filler");
}

// Cases 7 and 9: while the database is unreachable, outcomes go to the journal; as soon as it
// answers they are recorded and claiming resumes, while long jobs still run; a failure kept in
// the journal counts like any other.
TEST_F(NoJobLostTest, AnOutageIsRiddenOutWhileJobsRunAndItsFailuresCount) {
  write_config("", "  busy_timeout: 1\n  retry:\n    deadline: 2\n    max_attempts: 100\n", 60);
  // The first three jobs start together: a long one, one that fails during the outage, a short one.
  const std::string long_job = "100_30_-10_10_00", failing = "100_30_-10_20_00";
  const std::string plan = long_job + ":sleep=14;" + failing + ":sleep=1;" + failing + ":fail=3;*:sleep=0.3";
  const pid_t pid = test::start_pdr_run(dir_.path(),
                                        with_config({"--model-name", "og", "--parallel", "--workers", "3", "--dens",
                                                     "30", "40", "50", "60", "--chi", "10", "20", "30"}),
                                        env(plan));
  wait_for_starts(3);
  // An exclusive lock held by another session: every write of pdr_run fails for 5 s.
  long long released_ms = 0;
  {
    soci::session side(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db") + " timeout=5");
    side << "BEGIN EXCLUSIVE";
    std::this_thread::sleep_for(std::chrono::seconds(5));
    side << "COMMIT";
    released_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
  }
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("kept in the outage journal"), std::string::npos) << r.err;
  long long long_end = 0;
  size_t started_while_long_ran = 0;
  for (const auto& e : read_trace(dir_ / "trace")) {
    if (e.what == "end" && e.job == long_job && long_end == 0) long_end = e.ms;
  }
  for (const auto& e : read_trace(dir_ / "trace")) {
    started_while_long_ran += e.what == "start" && e.ms > released_ms && e.ms < long_end;
  }
  EXPECT_GT(long_end, released_ms) << "the long job must outlast the outage";
  EXPECT_GT(started_while_long_ran, 0u) << "no job was claimed between the end of the outage and the end of the "
                                           "long job";
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND model_job_name = '" +
                      failing + "'"),
            1);
  EXPECT_NE(r.out.find("in the database: 11 finished, 1 failed, 0 pending, 0 running"), std::string::npos) << r.out;
}

// A stop during an outage: the database gets a grace of 10 s for the stopped jobs' outcomes,
// then they go to the journal and the process ends, long before database.retry.deadline (Slurm
// sends SIGKILL 30 s after its SIGTERM). The next run records them and runs the jobs once more.
TEST_F(NoJobLostTest, AStopDuringAnOutageEndsAfterAGraceWithItsOutcomesJournaled) {
  write_config("", "  busy_timeout: 1\n  retry:\n    deadline: 120\n    max_attempts: 1000\n", 60);
  const std::vector<std::string> grid = {"--model-name", "st", "--parallel", "--workers", "2", "--dens", "30", "40"};
  // Stopped in their onion steps, after pdr ended well.
  const pid_t pid = test::start_pdr_run(dir_.path(), with_config(grid), env("*:onion-sleep=30"));
  wait_for_starts(4);
  double ended_after = -1;
  test::RunResult r;
  {
    // Every write fails for as long as this session holds its lock.
    soci::session side(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db") + " timeout=5");
    side << "BEGIN EXCLUSIVE";
    const auto t0 = std::chrono::steady_clock::now();
    kill(pid, SIGTERM);
    r = finish_within(60, pid, dir_.path());
    ended_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    side << "COMMIT";
  }
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_GE(ended_after, 9.0) << "the outcomes were not given their grace: " << r.err;
  EXPECT_LT(ended_after, 30.0) << "the stop waited for database.retry.deadline";
  EXPECT_NE(r.err.find("2 outcomes are kept in"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(", 2 outcomes not yet in the database"), std::string::npos) << r.out;
  // The next run records them (the jobs back to pending, no attempt charged) and runs them.
  auto again = run_within(120, grid, "*:sleep=0.2");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("in the database: 2 finished, 0 failed, 0 pending, 0 running"), std::string::npos)
      << again.out << again.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1"), 2)
      << again.err;
  // The stopped attempts ended with no exit code of theirs (pdr's 0 was not their end).
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_job_events WHERE event IN ('replayed', 'released')"), 2);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_job_events WHERE event IN ('replayed', 'released') AND exit_code IS "
                      "NOT NULL"),
            0);
}

// Case 16: an outage longer than the lease is everyone's. Once the database answers again no
// process takes a job whose owner is alive (it would stop the job's programs and use up an
// attempt): each owner renews its lease first, and each job runs once. Both ways an outage
// shows: writes that fail (a short busy timeout) and writes that wait until it is over.
TEST_F(NoJobLostTest, AnOutageLongerThanTheLeaseTakesNoJobFromALiveOwner) {
  for (const std::string model : {"fails", "waits"}) {
    SCOPED_TRACE(model);
    write_config("  lease_seconds: 5\n  heartbeat_seconds: 1\n",
                 model == "fails" ? "  busy_timeout: 1\n  retry:\n    deadline: 2\n    max_attempts: 100\n" : "", 60);
    const std::vector<std::string> grid = {"--model-name", model, "--dens", "30", "40", "--chi", "10"};
    auto reg = run_within(60, [&] {
      auto g = grid;
      g.push_back("--register-only");
      return g;
    }());
    ASSERT_EQ(reg.code, 0) << reg.err;
    const size_t before = count_starts(dir_ / "trace");
    auto with_workers = grid;
    with_workers.insert(with_workers.end(), {"--workers", "1"});
    const pid_t run = test::start_pdr_run(dir_.path(), with_config(with_workers), env("*:sleep=20"));
    wait_for_starts(before + 1);
    const pid_t worker = test::start_pdr_run(
        dir_.path(), with_config({"worker", "--model-name", model, "--workers", "1"}), env("*:sleep=20"));
    wait_for_starts(before + 2);
    {
      // Every write of both processes fails or waits for more than two leases.
      soci::session side(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db") + " timeout=5");
      side << "BEGIN EXCLUSIVE";
      std::this_thread::sleep_for(std::chrono::seconds(12));
      side << "COMMIT";
    }
    auto r1 = finish_within(120, run, dir_.path());
    auto r2 = finish_within(120, worker, dir_.path());
    EXPECT_EQ(r1.code, 0) << r1.err;
    EXPECT_EQ(r2.code, 0) << r2.err;
    const std::string of_model = " AND model_name_id = (SELECT id FROM model_names WHERE model_name = '" + model + "')";
    EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'reaped'" + of_model), 0)
        << r1.err << r2.err;
    EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1" + of_model), 2)
        << r1.err << r2.err;
    EXPECT_EQ(count_starts(dir_ / "trace") - before, 4u) << "each job's pdr and onion started once";
  }
}

// Case 14: a grid that cannot fit, and configs that are no regular files, are refused in one line.
TEST_F(NoJobLostTest, GridsAndConfigsThatCannotFitAreRefusedInOneLine) {
  write_config("");
  std::vector<std::string> args = {"--model-name", "big", "--dry-run", "--dens"};
  auto value = [](int i) {
    char text[16];
    std::snprintf(text, sizeof text, "%d.%02d", i / 100, i % 100);  // 10,000 distinct values
    return std::string(text);
  };
  for (int i = 0; i < 10000; ++i) args.push_back(value(i));
  args.push_back("--chi");
  for (int i = 0; i < 10000; ++i) args.push_back(value(i));
  auto r = run_within(60, args);
  EXPECT_EQ(r.code, 2) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("the grid has 100000000 points (metal 1 x dens 10000 x mass 1 x chi 10000), more than "
                       "run.max_points = 2000000"),
            std::string::npos)
      << r.err.substr(0, 2000);
  for (const std::string bad : {"/dev/zero", "fifo"}) {
    if (bad == "fifo") {
      ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
    }
    const std::string path = bad == "fifo" ? dir_ / "fifo" : bad;
    auto c = finish_within(
        30,
        test::start_pdr_run(dir_.path(), {"--config", path, "--model-name", "x", "--dens", "30", "--chi", "10"}, env()),
        dir_.path());
    EXPECT_EQ(c.code, 2) << c.err;
    EXPECT_NE(c.err.find(path + ": the config file (--config) is not a regular file"), std::string::npos) << c.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "jobs.db"));
}

// Case 14: --dry-run streams the points it prints: 200,000 of them cost no more memory than a
// few (stored, they took ~700 bytes each).
TEST_F(NoJobLostTest, ADryRunKeepsNoPointInMemory) {
  write_config("");
  // ASan's quarantine keeps freed memory resident; without it the figure is the program's own.
  const char* asan = std::getenv("ASAN_OPTIONS");
  ::setenv("ASAN_OPTIONS", (std::string(asan ? asan : "") + ":detect_leaks=0:quarantine_size_mb=0").c_str(), 1);
  // The baseline: a dry run of one point (ASan alone keeps ~120 MB resident).
  auto one = run_within(120, {"--model-name", "dry", "--dry-run", "--dens", "30", "--chi", "10"});
  ASSERT_EQ(one.code, 0) << one.err.substr(0, 2000);
  rusage base{};
  getrusage(RUSAGE_CHILDREN, &base);
  std::vector<std::string> args = {"--model-name", "dry", "--dry-run", "--dens"};
  for (int i = 0; i < 1000; ++i) {
    char text[16];
    std::snprintf(text, sizeof text, "%d.%02d", i / 100, i % 100);
    args.push_back(text);
  }
  args.push_back("--chi");
  for (int i = 0; i < 200; ++i) args.push_back(std::to_string(i / 10) + "." + std::to_string(i % 10));
  auto r = run_within(120, args);
  ASSERT_EQ(r.code, 0) << r.err.substr(0, 2000);
  EXPECT_NE(r.out.find("# planned jobs: 200000 "), std::string::npos);
  EXPECT_NE(r.out.find("100_9.99_-10_19.9_00"), std::string::npos) << "the last point is printed";
  // The largest child so far: the 200,000-point run if it took more than the one-point run.
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  EXPECT_LT((u.ru_maxrss - base.ru_maxrss) / 1024, 10) << "MB more resident for 200,000 points than for one";
  EXPECT_LT(u.ru_maxrss / 1024, 300) << "MB resident for a dry run of 200,000 points";
}

}  // namespace
}  // namespace pdr
