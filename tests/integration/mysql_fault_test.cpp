// The fault matrix: whole grids on a real MariaDB server while its connections are killed, it
// times idle sessions out, restarts, freezes, loses a COMMIT, runs out of connections, holds
// locks, goes away for good, or is given bad credentials. Each run must leave every job in
// exactly one state, none recorded finished twice, no row lost, and no password in any log.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "pdr/db_manager.h"
#include "support/history_check.h"
#include "support/mariadb.h"
#include "support/run_binary.h"
#include "support/slurm.h"
#include "support/store_check.h"
#include "support/tcp_proxy.h"
#include "support/trace.h"

namespace pdr {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// 10 densities x 20 FUV fields = 200 jobs.
std::vector<std::string> grid_200(const std::string& model) {
  std::vector<std::string> a = {"--model-name", model, "--parallel", "--workers", "4", "--mass", "-10", "--dens"};
  for (int d = 30; d < 40; ++d) a.push_back(std::to_string(d));
  a.push_back("--chi");
  for (int c = 0; c < 20; ++c) a.push_back(c < 10 ? "0" + std::to_string(c) : std::to_string(c));
  return a;
}

class MysqlFaultTest : public ::testing::Test {
 protected:
  // Starts this test's own server (it is going to be disturbed).
  bool start_server(const std::string& options = "") {
    server_ = std::make_unique<test::MariaDb>(options);
    if (!server_->available()) return false;
    database_ = server_->create_database();
    return true;
  }

  void write_config(const std::string& extra_database = "", const std::string& extra_run = "") {
    test::write_text(dir_ / "cfg.yaml",
                     "database:\n  type: mysql\n  connect_timeout: 2\n  read_timeout: 2\n  write_timeout: 2\n"
                     "  pool_timeout: 10\n" +
                         extra_database +
                         "storage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n  step_timeout: 60\n" + extra_run +
                         "model_parameters:\n  species: [CO]\n");
  }

  std::vector<std::string> env(const std::string& plan, int port = 0) const {
    auto e = server_->env(database_);
    for (auto& kv : e) {
      if (port != 0 && kv.rfind("PDR_DB_PORT=", 0) == 0) kv = "PDR_DB_PORT=" + std::to_string(port);
    }
    e.push_back(std::string("PDR_BASE_DIR=") + PDR_MOCK_BASE);
    e.push_back("PDR_MOCK_TRACE=" + (dir_ / "trace"));
    if (!plan.empty()) e.push_back("PDR_MOCK_PLAN=" + plan);
    return e;
  }

  std::vector<std::string> args(const std::string& model) const {
    std::vector<std::string> a = {"--config", dir_ / "cfg.yaml"};
    auto g = grid_200(model);
    a.insert(a.end(), g.begin(), g.end());
    return a;
  }

  long long q(const std::string& sql) const { return server_->number("USE " + database_ + "; " + sql); }

  long long finished() const { return q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"); }

  void wait_for_finished(long long n) const {
    for (int i = 0; i < 1200 && finished() < n; ++i) std::this_thread::sleep_for(50ms);
  }

  // The invariants every fault must leave intact.
  void expect_consistent(const test::RunResult& r, long long expect_finished, bool each_ran_once = true) {
    EXPECT_EQ(r.out.find(server_->password()), std::string::npos) << "password on stdout";
    EXPECT_EQ(r.err.find(server_->password()), std::string::npos) << "password in the log";
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), 200) << "rows lost or duplicated";
    EXPECT_EQ(q("SELECT COUNT(*) FROM kosmatau_parameters"), 200);
    EXPECT_EQ(finished(), expect_finished);
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status NOT IN "
                "('pending', 'running', 'finished', 'exception_runtime', 'skipped', 'cancelled')"),
              0);
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE (status = 'pending') <> (pending = 1) OR "
                "(status = 'running') <> (active = 1)"),
              0)
        << "pending/active flags disagree with status";
    // Recorded finished once: one hdf_files row and one set of job_files per finished job.
    EXPECT_EQ(q("SELECT COUNT(*) FROM hdf_files"), expect_finished);
    EXPECT_EQ(q("SELECT COUNT(*) FROM hdf_files h JOIN pdr_model_jobs j ON j.id = h.job_id "
                "WHERE j.status <> 'finished'"),
              0);
    EXPECT_LE(q("SELECT COUNT(DISTINCT n) FROM (SELECT job_id, COUNT(*) n FROM job_files GROUP BY job_id) t"), 1);
    test::expect_history_agrees([&](const std::string& sql) { return q(sql); });
    if (each_ran_once) {
      // Every job's executables started exactly once (pdr and one onion): nothing ran twice.
      const auto s = starts_per_job(dir_ / "trace");
      EXPECT_EQ(s.size(), 200u);
      for (const auto& kv : s) EXPECT_EQ(kv.second, 2) << kv.first << " ran more than once";
    }
    // Server connections back to baseline.
    long long open = -1;
    for (int i = 0; i < 40; ++i) {
      open = server_->number("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'pdr'");
      if (open == 0) break;
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(open, 0) << "connections left open after the run";
  }

  test::TempDir dir_;
  std::unique_ptr<test::MariaDb> server_;
  std::string database_;
};

#define START_SERVER(options)        \
  do {                               \
    if (!start_server(options)) {    \
      PDR_REQUIRE_MARIADB(*server_); \
    }                                \
  } while (0)

TEST_F(MysqlFaultTest, F1_EveryConnectionKilledEveryHalfSecond) {
  START_SERVER("");
  write_config();
  const pid_t pid = test::start_pdr_run(dir_.path(), args("f1"), env("*:sleep=0.05"));
  int kills = 0;
  std::atomic<bool> done{false};
  std::thread killer([&] {
    while (!done) {
      std::this_thread::sleep_for(500ms);
      std::istringstream ids(server_->sql("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'pdr'"));
      for (std::string id; std::getline(ids, id);) {
        if (id.empty()) continue;
        server_->sql("KILL CONNECTION " + id);
        ++kills;
      }
    }
  });
  auto r = test::finish_pdr_run(pid, dir_.path());
  done = true;
  killer.join();
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_GT(kills, 3) << "the run must have been disturbed";
  expect_consistent(r, 200);
}

TEST_F(MysqlFaultTest, F2_WaitTimeoutShorterThanIdleGaps) {
  START_SERVER("--wait-timeout=1");
  write_config();
  auto r = test::run_pdr_run(dir_.path(), args("f2"), env("*:sleep=1.1"));
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  // Sessions idle past wait_timeout were found dead by the ping and replaced, not used.
  const auto at = r.err.find("database pool: ");
  ASSERT_NE(at, std::string::npos);
  std::istringstream pool(r.err.substr(at + 15));
  long long created = 0, validated = 0, replaced = 0;
  std::string word;
  pool >> created >> word >> word >> validated >> word >> replaced;
  EXPECT_GT(validated, 0);
  EXPECT_GT(replaced, 0) << r.err.substr(at, 200);
  expect_consistent(r, 200);
}

TEST_F(MysqlFaultTest, F3_ServerRestartedMidGrid) {
  START_SERVER("");
  write_config();
  const pid_t pid = test::start_pdr_run(dir_.path(), args("f3"), env("*:sleep=0.05"));
  wait_for_finished(40);
  server_->stop();
  std::this_thread::sleep_for(3s);
  server_->restart();
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << "the outage must have been seen";
  expect_consistent(r, 200);
}

TEST_F(MysqlFaultTest, F4_ServerFrozenForSixSeconds) {
  START_SERVER("");
  write_config();
  const pid_t pid = test::start_pdr_run(dir_.path(), args("f4"), env("*:sleep=0.05"));
  wait_for_finished(40);
  server_->freeze();
  std::this_thread::sleep_for(6s);
  server_->thaw();
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_NE(r.err.find("error 2013"), std::string::npos) << "reads must time out while the server is frozen";
  const auto blocked = r.err.find("blocked for");
  EXPECT_EQ(blocked, std::string::npos) << "a call blocked past its timeouts: "
                                        << (blocked == std::string::npos
                                                ? ""
                                                : r.err.substr(r.err.rfind('\n', blocked) + 1, 200));
  expect_consistent(r, 200);
}

TEST_F(MysqlFaultTest, F5_ConnectionLostAtCommitLandedOrNot) {
  START_SERVER("");
  write_config();
  test::CommitCuttingProxy proxy(server_->port(), 9);
  auto r = test::run_pdr_run(dir_.path(), args("f5"), env("*:sleep=0.02", proxy.port()));
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_GT(proxy.cut_before(), 5) << "commits lost before the server";
  EXPECT_GT(proxy.cut_after(), 5) << "commits landed but unanswered";
  EXPECT_NE(r.err.find("outcome unknown"), std::string::npos);
  expect_consistent(r, 200);
}

TEST_F(MysqlFaultTest, F6_MaxConnectionsSmallerThanThePool) {
  // MariaDB's smallest max_connections is 10: nine idle clients of another user leave one for a
  // pool of six. A process holds at most three sessions (loop, heartbeat, progress line); a
  // side session holds the run's row locked for 3 s, so the heartbeat waits in its transaction
  // on the one connection while the loop needs another: the server refuses it (1040) and the
  // two share the one they have.
  START_SERVER("--max-connections=10");
  write_config("  pool_size: 6\n", "  heartbeat_seconds: 1\n");
  std::vector<pid_t> holders;
  for (int i = 0; i < 9; ++i) {
    pid_t p = fork();
    if (p == 0) {
      execlp("mariadb", "mariadb", "--no-defaults", ("--socket=" + server_->socket()).c_str(), "-unopass", "-e",
             "SELECT SLEEP(600)", static_cast<char*>(nullptr));
      _exit(127);
    }
    holders.push_back(p);
  }
  for (int i = 0; i < 100 && server_->number("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                             "WHERE USER = 'nopass'") < 9;
       ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(server_->number("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'nopass'"), 9);
  const pid_t pid = test::start_pdr_run(dir_.path(), args("f6"), env("*:sleep=0.1"));
  wait_for_finished(8);
  // root has the one connection MariaDB keeps beyond max_connections for an administrator.
  server_->sql("USE " + database_ +
               "; START TRANSACTION; SELECT COUNT(*) FROM pdr_runs FOR UPDATE; DO SLEEP(3); "
               "ROLLBACK;");
  auto r = test::finish_pdr_run(pid, dir_.path());
  for (pid_t p : holders) {
    ::kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_NE(r.err.find("error 1040"), std::string::npos) << "the connection limit was never reached";
  expect_consistent(r, 200);
}

TEST_F(MysqlFaultTest, F7_LockWaitsAndDeadlocksFromASideSession) {
  START_SERVER("--innodb-lock-wait-timeout=1");
  // A heartbeat a second: whatever the jobs' pace on a loaded machine, a lease renewal starts
  // within the first second of each hold below and outwaits the lock wait timeout.
  write_config("", "  heartbeat_seconds: 1\n");
  const long long deadlocks_before = server_->number(
      "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
      "WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'");
  const pid_t pid = test::start_pdr_run(dir_.path(), args("f7"), env("*:sleep=0.3"));
  wait_for_finished(8);
  const std::string use = "USE " + database_ + "; ";
  for (int round = 0; round < 3; ++round) {
    // Lock waits: hold every running job row 2.5 s, 1.5 s past innodb_lock_wait_timeout, so a
    // finish or renewal that starts in the hold's first 1.5 s outwaits it.
    server_->sql(use +
                 "START TRANSACTION; SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' FOR UPDATE; "
                 "DO SLEEP(2.5); ROLLBACK;");
    // A deadlock: a large side transaction takes every counter row of the model, so the runner's
    // next claim or finish holds its job row and waits for a counter; the side then asks for every
    // job row of the model. InnoDB rolls back the smaller transaction: the runner's.
    server_->sql(use +
                 "SET @m = (SELECT MIN(id) FROM model_names WHERE model_name = 'f7'); "
                 "START TRANSACTION; UPDATE kosmatau_parameters SET comments = 'probe'; "
                 "SELECT COUNT(*) FROM pdr_job_counts WHERE model_name_id = @m FOR UPDATE; DO SLEEP(0.8); "
                 "UPDATE pdr_model_jobs SET time_updated = time_updated WHERE model_name_id = @m; ROLLBACK;");
  }
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_NE(r.err.find("error 1205"), std::string::npos) << "no lock wait timeout was provoked";
  EXPECT_GT(server_->number("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                            "WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'"),
            deadlocks_before)
      << "no deadlock was provoked";
  EXPECT_NE(r.err.find("error 1213"), std::string::npos) << "the runner never had to retry a deadlock";
  expect_consistent(r, 200);
}

TEST_F(MysqlFaultTest, F8_ServerDownLongerThanTheDeadline) {
  START_SERVER("");
  // With nothing left running, a process gives up on the database after run.outage_wait (0
  // here); what finished meanwhile stays in its journal and the next run records it.
  write_config("  retry:\n    deadline: 4\n", "  outage_wait: 0\n");
  const pid_t pid = test::start_pdr_run(dir_.path(), args("f8"), env("*:sleep=0.05"));
  wait_for_finished(40);
  server_->stop();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = test::finish_pdr_run(pid, dir_.path());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 2) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_LT(secs, 30.0);
  // "gave up after N attempts", or, when the server went down amid a COMMIT, "outcome unknown"
  // once the read-back gave up.
  EXPECT_NE(r.err.find("[error] stopped: database unusable"), std::string::npos)
      << r.err.substr(r.err.size() > 2000 ? r.err.size() - 2000 : 0);
  server_->restart();
  // Consistent after the restart: nothing lost, nothing finished twice, and a new run finishes
  // the rest (jobs left running by the dead run are recognised and put back to pending).
  const long long done_before = finished();
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), 200);
  // The journal the stopped run left: its finishes count as done once recorded; other entries
  // (an attempt cut short by the stop, queued again) do not.
  long long journaled_finishes = 0;
  std::string journal;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / ("scratch/pdr_run-journal-" + std::to_string(getuid())), ec)) {
    std::istringstream in(test::read_text(e.path()));
    for (std::string line; std::getline(in, line);) {
      journal += line.substr(0, 200) + "\n";
      std::vector<std::string> f;
      std::istringstream fields(line);
      for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
      // v3: the outcome's state is field 4 (v1 and v2 had the expected state there, the next in 5).
      const size_t state_at = !f.empty() && f[0] == "v3" ? 4 : 5;
      if (f.size() > state_at && f[state_at] == "finished") ++journaled_finishes;
    }
  }
  // Left where every user's journals went before they went to a directory per user: still
  // replayed.
  const std::string own = dir_ / ("scratch/pdr_run-journal-" + std::to_string(getuid()));
  const std::string shared = dir_ / "scratch/pdr_run-journal";
  fs::rename(own, shared, ec);
  auto again = test::run_pdr_run(dir_.path(), args("f8"), env(""));
  EXPECT_EQ(again.code, 0) << again.err.substr(again.err.size() > 3000 ? again.err.size() - 3000 : 0);
  // The journal of the stopped run is recorded first, then the grid is registered.
  if (!journal.empty()) {
    EXPECT_NE(again.err.find("replayed journals left in " + shared + ": "), std::string::npos)
        << again.err.substr(0, 3000);
    EXPECT_NE(again.err.find(" outcomes recorded, 0 no longer current"), std::string::npos)
        << again.err.substr(0, 3000);
  }
  EXPECT_NE(again.out.find(std::to_string(done_before + journaled_finishes) + " already done"), std::string::npos)
      << again.out << "\nfinished before the re-run " << done_before << ", journal:\n"
      << journal << again.err.substr(0, 3000);
  expect_consistent(again, 200, /*each_ran_once=*/false);
}

// A signal ends a registration's wait for a server that went away: exit 130 at once, not after
// the retries (about 35 s here), and registering again once the server is back completes the grid.
TEST_F(MysqlFaultTest, F10_ASignalEndsARegistrationsWaitForAServerThatWentAway) {
  START_SERVER("");
  write_config();
  std::vector<std::string> a = {"--config", dir_ / "cfg.yaml", "--model-name", "f10", "--register-only"};
  for (const auto& [flag, n] : {std::pair<const char*, int>{"--dens", 20}, {"--chi", 40}, {"--mass", 50}}) {
    a.emplace_back(flag);
    for (int i = 0; i < n; ++i) a.push_back(std::to_string(i));
  }
  const long long points = 40000;
  const pid_t pid = test::start_pdr_run(dir_.path(), a, env(""));
  for (int i = 0; i < 1200 && q("SELECT COUNT(*) FROM kosmatau_parameters") <= 0; ++i) {
    std::this_thread::sleep_for(25ms);
  }
  server_->stop();
  std::this_thread::sleep_for(1500ms);  // the registration is between retries now
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  auto r = test::finish_pdr_run(pid, dir_.path());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 130) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_LT(secs, 10.0) << "the signal waited for the retries";
  EXPECT_NE(r.err.find("[error] model f10: interrupted while retrying '"), std::string::npos)
      << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_EQ(r.err.find(server_->password()), std::string::npos);
  server_->restart();
  auto again = test::run_pdr_run(dir_.path(), a, env(""));
  ASSERT_EQ(again.code, 0) << again.err.substr(again.err.size() > 3000 ? again.err.size() - 3000 : 0);
  EXPECT_NE(again.out.find("40000 points registered"), std::string::npos) << again.out;
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), points);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs j JOIN kosmatau_parameters p ON p.id = j.kosmatau_parameters_id "
              "AND p.model_name_id = j.model_name_id WHERE j.status = 'pending'"),
            points);
  EXPECT_EQ(q("SELECT SUM(n) FROM pdr_job_counts WHERE status = 'pending'"), points);
}

// A stop while the server is frozen: the calls it holds (database.read_timeout, 30 s by default)
// are cut 10 s after the signal, the stopped jobs' outcomes go to the journal, and the process
// ends before Slurm's SIGKILL (30 s after its SIGTERM). The next run records them.
TEST_F(MysqlFaultTest, F12_AStopWhileTheServerIsFrozenEndsAfterTheGrace) {
  START_SERVER("");
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  type: mysql\n  connect_timeout: 10\n  read_timeout: 30\n  write_timeout: 30\n"
                   "storage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n  step_timeout: 120\n"
                   "model_parameters:\n  species: [CO]\n");
  const std::vector<std::string> a = {"--config", dir_ / "cfg.yaml", "--model-name", "f12", "--parallel", "--workers",
                                      "2",        "--dens",          "30",           "40",  "--chi",      "10"};
  const pid_t pid = test::start_pdr_run(dir_.path(), a, env("*:sleep=60"));
  for (int i = 0; i < 1200 && q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running'") < 2; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running'"), 2);
  std::this_thread::sleep_for(1500ms);  // the heartbeat's sessions are idle in the pool
  server_->freeze();
  std::this_thread::sleep_for(1s);
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  auto r = test::finish_pdr_run(pid, dir_.path());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  server_->thaw();
  EXPECT_EQ(r.code, 130) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_LT(secs, 25.0) << "the stop waited for the frozen server's timeouts";
  EXPECT_NE(r.err.find("2 outcomes are kept in"), std::string::npos)
      << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_EQ(r.err.find(server_->password()), std::string::npos);
  auto again = test::run_pdr_run(dir_.path(), a, env("*:sleep=0.05"));
  EXPECT_EQ(again.code, 0) << again.err.substr(again.err.size() > 3000 ? again.err.size() - 3000 : 0);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1"), 2) << again.err;
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'reaped'"), 0);
}

TEST_F(MysqlFaultTest, F9_BadCredentialsFailAtOnceWithOneLine) {
  START_SERVER("");
  write_config();
  struct Case {
    std::string var, value, expected;
  };
  for (const Case& c : {Case{"PDR_DB_PASSWORD", "wrong-Secret-9", "Access denied"},
                        Case{"PDR_DB_PASSWORD", "", "no password was given (database.password and PDR_DB_PASSWORD"},
                        Case{"PDR_DB_HOST", "no-such-host.invalid", "no-such-host.invalid"},
                        Case{"PDR_DB_DATABASE", "no_such_db", "no_such_db"}}) {
    auto e = env("");
    for (auto& kv : e) {
      if (kv.rfind(c.var + "=", 0) == 0) kv = c.var + "=" + c.value;  // override, not a duplicate
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto r = test::run_pdr_run(dir_.path(), args("f9"), e);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.code, 2) << c.var << ": " << r.err.substr(0, 2000);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.var << ": " << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("retrying"), std::string::npos) << "no retry storm: " << r.err;
    EXPECT_EQ(r.err.find("wrong-Secret-9"), std::string::npos) << r.err;
    EXPECT_LT(secs, 10.0) << c.var;
  }
  // A password the client library took from MYSQL_PWD is named as that, not as none given.
  auto from_env = env("");
  for (auto& kv : from_env) {
    if (kv.rfind("PDR_DB_PASSWORD=", 0) == 0) kv = "PDR_DB_PASSWORD=";
  }
  from_env.push_back("MYSQL_PWD=wrong-Secret-9");
  auto found = test::run_pdr_run(dir_.path(), args("f9"), from_env);
  EXPECT_EQ(found.code, 2) << found.err.substr(0, 2000);
  EXPECT_NE(found.err.find("(using password: YES) (MySQL error 1045); the password of MYSQL_PWD was refused"),
            std::string::npos)
      << found.err;
  EXPECT_EQ(found.err.find("wrong-Secret-9"), std::string::npos) << found.err;
  // Refused before it started: no log file either.
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(dir_ / "logs") || fs::is_empty(dir_ / "logs", ec)) << "a refused run wrote a log file";
}

// host: localhost with a port is TCP, as the predecessor's driver made it (a tunnel, a container's
// published port): Connector/C alone would take its default unix socket and drop the port. This
// server listens on 127.0.0.1 and on a socket of its own, not the default one.
TEST_F(MysqlFaultTest, F11_LocalhostWithAPortConnectsOverTcp) {
  START_SERVER("");
  write_config();
  auto e = env("");
  for (auto& kv : e) {
    if (kv.rfind("PDR_DB_HOST=", 0) == 0) kv = "PDR_DB_HOST=LocalHost";
  }
  auto r = test::run_pdr_run(
      dir_.path(),
      {"--config", dir_ / "cfg.yaml", "--model-name", "lh", "--dens", "30", "--chi", "10", "--register-only"}, e);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), 1);
  EXPECT_EQ(r.err.find("socket"), std::string::npos) << r.err;
}

// Workers never hold a session (the claim reads their parameters): 8 workers, at most three.
TEST_F(MysqlFaultTest, ConnectionsStayAtThreeWhateverTheWorkers) {
  START_SERVER("");
  write_config();
  std::vector<std::string> a = {"--config", dir_ / "cfg.yaml", "--model-name", "conn",  "--parallel", "--workers",
                                "8",        "--mass",          "-10",          "--dens"};
  for (int d = 0; d < 20; ++d) a.push_back(std::to_string(d));
  a.push_back("--chi");
  for (int c = 0; c < 20; ++c) a.push_back(std::to_string(c));
  const pid_t pid = test::start_pdr_run(dir_.path(), a, env(""));
  std::atomic<bool> done{false};
  long long peak = 0, samples = 0;
  std::thread watcher([&] {
    while (!done) {
      peak = std::max(peak, server_->number("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'pdr'"));
      ++samples;
      std::this_thread::sleep_for(20ms);
    }
  });
  auto r = test::finish_pdr_run(pid, dir_.path());
  done = true;
  watcher.join();
  EXPECT_EQ(r.code, 0) << r.err.substr(r.err.size() > 2000 ? r.err.size() - 2000 : 0);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 400);
  EXPECT_GT(samples, 10);
  EXPECT_GE(peak, 1) << "the watcher saw no connection at all";
  EXPECT_LE(peak, kSessionsPerProcess);
}

// --- Many processes on one database: claims, leases, fencing, the outage journal ---

class MultiProcessTest : public MysqlFaultTest {
 protected:
  // Absolute paths: each process runs in its own directory (its own stdout/stderr files).
  void write_multi_config(const std::string& extra_run = "", const std::string& extra_database = "") {
    for (const char* d : {"a", "b"}) std::filesystem::create_directories(dir_ / d);
    test::write_text(dir_ / "cfg.yaml",
                     "database:\n  type: mysql\n  connect_timeout: 2\n  read_timeout: 2\n  write_timeout: 2\n"
                     "  pool_timeout: 10\n" +
                         extra_database + "storage:\n  base_dir: " + (dir_ / "store") + "\nrun:\n  scratch_dir: " +
                         (dir_ / "scratch") + "\n  step_timeout: 60\n  journal_dir: " + (dir_ / "journal") + "\n" +
                         extra_run + "model_parameters:\n  species: [CO]\n");
  }

  // A run of the grid (registers it) and a worker joining it once it is registered.
  std::vector<std::string> grid(const std::string& model, int dens, int chi, int mass, int workers) const {
    std::vector<std::string> a = {"--config",   dir_ / "cfg.yaml", "--model-name",          model,
                                  "--parallel", "--workers",       std::to_string(workers), "--dens"};
    for (int d = 0; d < dens; ++d) a.push_back(std::to_string(30 + d));
    a.push_back("--chi");
    for (int c = 0; c < chi; ++c) a.push_back(std::to_string(10 + c));
    a.push_back("--mass");
    for (int m = 0; m < mass; ++m) a.push_back(std::to_string(-10 + m));
    return a;
  }
  std::vector<std::string> worker(const std::string& model, int workers) const {
    return {"worker", "--config",   dir_ / "cfg.yaml", "--model-name",
            model,    "--parallel", "--workers",       std::to_string(workers)};
  }

  void wait_for_rows(long long n) const {
    for (int i = 0; i < 1200 && q("SELECT COUNT(*) FROM pdr_model_jobs") < n; ++i) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), n);
  }

  // Executable starts per job (pdr and one onion per attempt).
  std::map<std::string, int> starts() const { return starts_per_job(dir_ / "trace"); }

  // Every job finished once, its outputs recorded once.
  void expect_each_recorded_once(long long jobs) const {
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), jobs) << "rows lost or duplicated";
    EXPECT_EQ(finished(), jobs);
    EXPECT_EQ(q("SELECT COUNT(*) FROM hdf_files"), jobs);
    EXPECT_EQ(q("SELECT COUNT(*) FROM (SELECT job_id, path, COUNT(*) n FROM job_files GROUP BY job_id, path "
                "HAVING COUNT(*) > 1) t"),
              0)
        << "an output recorded twice";
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' OR token IS NOT NULL"), 0);
    // The job counters (kept by triggers, a shard per connection, folded into shard 0 when a
    // run ends with its model settled) equal the rows after many processes changed them at once.
    EXPECT_EQ(q("SELECT COALESCE(SUM(n), 0) FROM pdr_job_counts WHERE status = 'finished'"), jobs);
    EXPECT_EQ(q("SELECT COUNT(*) FROM (SELECT model_name_id, status, SUM(n) AS s FROM pdr_job_counts GROUP BY "
                "model_name_id, status) k LEFT JOIN (SELECT model_name_id, status, COUNT(*) AS c FROM "
                "pdr_model_jobs WHERE duplicate_key = 0 GROUP BY model_name_id, status) r ON r.model_name_id = "
                "k.model_name_id AND r.status = k.status WHERE k.s <> COALESCE(r.c, 0)"),
              0)
        << "a job counter differs from the rows";
    test::expect_history_agrees([&](const std::string& sql) { return q(sql); });
  }

  static std::string tail(const std::string& s) { return s.substr(s.size() > 3000 ? s.size() - 3000 : 0); }
};

TEST_F(MultiProcessTest, M1_TwoProcessesOfEightWorkersShareA2000JobGrid) {
  START_SERVER("");
  write_multi_config();
  const pid_t a = test::start_pdr_run(dir_ / "a", grid("m1", 10, 20, 10, 8), env(""));
  wait_for_rows(2000);
  const pid_t b = test::start_pdr_run(dir_ / "b", worker("m1", 8), env(""));
  auto ra = test::finish_pdr_run(a, dir_ / "a");
  auto rb = test::finish_pdr_run(b, dir_ / "b");
  EXPECT_EQ(ra.code, 0) << tail(ra.err);
  EXPECT_EQ(rb.code, 0) << tail(rb.err);
  expect_each_recorded_once(2000);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts = 1 AND lease_epoch = 1"), 2000);
  EXPECT_GT(q("SELECT COUNT(DISTINCT pid) FROM pdr_model_jobs"), 1) << "both processes ran jobs";
  const auto s = starts();
  EXPECT_EQ(s.size(), 2000u);
  for (const auto& kv : s) EXPECT_EQ(kv.second, 2) << kv.first << " ran more than once";
  EXPECT_NE(rb.out.find("worker on model m1: "), std::string::npos) << rb.out;
}

TEST_F(MultiProcessTest, M2_AKilledProcessesJobsAreTakenOverWithinTheLease) {
  START_SERVER("");
  write_multi_config("  lease_seconds: 4\n  heartbeat_seconds: 1\n");
  const pid_t a = test::start_pdr_run(dir_ / "a", grid("m2", 10, 20, 1, 4), env("*:sleep=0.2"));
  wait_for_rows(200);
  const pid_t b = test::start_pdr_run(dir_ / "b", worker("m2", 4), env("*:sleep=0.2"));
  for (int i = 0;
       i < 1200 && q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' AND pid = " + std::to_string(b)) < 4;
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ::kill(b, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  test::finish_pdr_run(b, dir_ / "b");
  const std::string of_b = " FROM pdr_model_jobs WHERE status = 'running' AND pid = " + std::to_string(b);
  ASSERT_GT(q("SELECT COUNT(*)" + of_b), 0) << "the killed process held jobs";
  while (q("SELECT COUNT(*)" + of_b) > 0 && std::chrono::steady_clock::now() - killed < 60s) {
    std::this_thread::sleep_for(100ms);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_LT(secs, 4 + 1 + 3.0) << "back in the queue within the lease (4 s) and a heartbeat";
  auto ra = test::finish_pdr_run(a, dir_ / "a");
  EXPECT_EQ(ra.code, 0) << tail(ra.err);
  expect_each_recorded_once(200);
  EXPECT_GE(
      q("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts = 2 AND last_error LIKE 'lease expired: owner % pid " +
        std::to_string(b) + " stopped renewing it'"),
      1);
  EXPECT_NE(ra.err.find("had expired leases: back to pending"), std::string::npos) << tail(ra.err);
  // The killed run no longer says it runs (lost; gone once the other looked at its last finishes
  // at its end).
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_runs WHERE state IN ('lost', 'gone') AND pid = " + std::to_string(b)), 1);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_workers_v"), 0);
}

TEST_F(MultiProcessTest, M3_AStoppedProcessesLateOutcomesAreRejected) {
  START_SERVER("");
  write_multi_config("  lease_seconds: 3\n  heartbeat_seconds: 1\n");
  const pid_t a = test::start_pdr_run(dir_ / "a", grid("m3", 10, 10, 1, 4), env("*:sleep=0.5"));
  wait_for_rows(100);
  const pid_t b = test::start_pdr_run(dir_ / "b", worker("m3", 4), env("*:sleep=0.5"));
  for (int i = 0;
       i < 1200 && q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' AND pid = " + std::to_string(b)) < 4;
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ::kill(b, SIGSTOP);
  // Past the lease: the other process takes B's jobs over and runs them.
  std::this_thread::sleep_for(7s);
  ::kill(b, SIGCONT);
  auto rb = test::finish_pdr_run(b, dir_ / "b");
  auto ra = test::finish_pdr_run(a, dir_ / "a");
  EXPECT_EQ(ra.code, 0) << tail(ra.err);
  EXPECT_EQ(rb.code, 0) << tail(rb.err);
  EXPECT_NE(rb.out.find("outcomes dropped (lease taken over)"), std::string::npos) << rb.out << tail(rb.err);
  expect_each_recorded_once(100);
  EXPECT_GE(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE lease_epoch = 2"), 1);
  // The stored outputs are the ones recorded: a late attempt wrote over nothing.
  test::expect_store_verified(dir_.path(), "m3", env(""));
}

TEST_F(MultiProcessTest, M4_DatabaseDownFor20SecondsLosesNothing) {
  START_SERVER("");
  write_multi_config("", "  retry:\n    deadline: 3\n");
  const pid_t a = test::start_pdr_run(dir_ / "a", grid("m4", 10, 20, 1, 4), env("*:sleep=0.3"));
  wait_for_finished(30);
  server_->stop();
  std::this_thread::sleep_for(20s);
  server_->restart();
  auto ra = test::finish_pdr_run(a, dir_ / "a");
  EXPECT_EQ(ra.code, 0) << tail(ra.err);
  EXPECT_NE(ra.err.find("outcomes are kept in"), std::string::npos) << tail(ra.err);
  EXPECT_NE(ra.out.find("recorded from the outage journal"), std::string::npos) << ra.out;
  expect_each_recorded_once(200);
  const auto s = starts();
  EXPECT_EQ(s.size(), 200u);
  for (const auto& kv : s) EXPECT_EQ(kv.second, 2) << kv.first << " ran more than once: work was lost";
}

TEST_F(MultiProcessTest, M5_SubmitOnALocalSlurmRunsEveryJobOnce) {
  START_SERVER("");
  test::SlurmCluster slurm;
  PDR_REQUIRE_SLURM(slurm);
  write_multi_config();
  auto e = env("");
  e.push_back("SLURM_CONF=" + slurm.conf());
  std::vector<std::string> args = {"submit", "--scheduler", "slurm", "--nodes", "4"};
  const auto g = grid("m5", 5, 10, 10, 4);
  args.insert(args.end(), g.begin(), g.end());
  // --dry-run: the script, nothing registered or submitted.
  auto dry_args = args;
  dry_args.push_back("--dry-run");
  auto dry = test::run_pdr_run(dir_ / "a", dry_args, e);
  EXPECT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("#SBATCH --array=0-3\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("'worker' '--config' '" + (dir_ / "cfg.yaml") +
                         "' '--model-name' 'm5' '--parallel' "
                         "'--workers' '4'"),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(dry.out.find(server_->password()), std::string::npos) << "no secret in the script";
  EXPECT_EQ(q("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"), 0);

  auto r = test::run_pdr_run(dir_ / "a", args, e);
  ASSERT_EQ(r.code, 0) << r.out << tail(r.err);
  const auto at = r.out.find("submitted Slurm job ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string job_id = r.out.substr(at + 20, r.out.find(':', at) - at - 20);
  // A hint to paste: with the configuration that holds the database.
  EXPECT_NE(r.out.find("watch: pdr_run status --config " + (dir_ / "cfg.yaml") + " --model-name m5"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.err.find("queued or running"), std::string::npos) << r.err;
  // A second submit while the first array is queued or running says so, and its worker shares
  // the pending jobs (nothing runs twice: see below).
  auto second_args = args;
  second_args[4] = "1";  // --nodes 1
  auto second = test::run_pdr_run(dir_ / "a", second_args, e);
  ASSERT_EQ(second.code, 0) << second.out << tail(second.err);
  auto ended = [&](const std::string& id) { return slurm.run("squeue -h -j " + id).find(id) == std::string::npos; };
  if (!ended(job_id)) {  // the first array was there all along
    EXPECT_NE(second.err.find("model m5 already has Slurm job(s) " + job_id + " queued or running (pdr_run-m5)"),
              std::string::npos)
        << second.err;
  }
  const auto at2 = second.out.find("submitted Slurm job ");
  ASSERT_NE(at2, std::string::npos) << second.out;
  const std::string job_id2 = second.out.substr(at2 + 20, second.out.find(':', at2) - at2 - 20);
  for (int i = 0; i < 3000; ++i) {
    if (finished() == 500 && ended(job_id) && ended(job_id2)) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(ended(job_id)) << "the array job ended";
  EXPECT_TRUE(ended(job_id2)) << "the second array job ended";
  expect_each_recorded_once(500);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts = 1"), 500);
  EXPECT_GE(q("SELECT COUNT(DISTINCT pid) FROM pdr_model_jobs"), 2) << "several tasks shared the grid";
  const auto s = starts();
  EXPECT_EQ(s.size(), 500u);
  for (const auto& kv : s) EXPECT_EQ(kv.second, 2) << kv.first << " ran more than once";
  for (int task = 0; task < 4; ++task) {
    const std::string log =
        test::read_text(dir_ / ("a/pdr_run-slurm/m5-" + job_id + "_" + std::to_string(task) + ".log"));
    EXPECT_NE(log.find("worker on model m5: "), std::string::npos) << "task " << task << ":\n" << log;
  }
}

// Walltime-aware claiming inside a real Slurm allocation: jobs at chi 10 took 5 s and at chi 20
// 60 s (their recorded run times); a one-minute allocation with a 20 s margin starts only the
// chi-10 points between them (the worker asks Slurm how long it has left; 20 s are kept free, so a
// chi-20 point, predicted at 45-55 s from its neighbours, never fits), the chi-20 ones stay
// pending, the task exits 0, and submit said beforehand how many fit.
TEST_F(MultiProcessTest, M8_AnAllocationStartsOnlyTheJobsThatFitItsTime) {
  START_SERVER("");
  test::SlurmCluster slurm;
  PDR_REQUIRE_SLURM(slurm);
  write_multi_config("  end_margin: 20s\n");
  auto e = env("");
  e.push_back("SLURM_CONF=" + slurm.conf());
  const std::vector<std::string> model = {
      "--config", dir_ / "cfg.yaml", "--model-name", "wt", "--parallel", "--workers", "2"};
  auto points = [&](std::vector<std::string> dens) {
    std::vector<std::string> a = model;
    a.push_back("--dens");
    a.insert(a.end(), dens.begin(), dens.end());
    a.insert(a.end(), {"--chi", "10", "20"});
    return a;
  };
  auto first = test::run_pdr_run(dir_ / "a", points({"30", "32", "34"}), e);
  ASSERT_EQ(first.code, 0) << tail(first.err);
  q("UPDATE pdr_model_jobs SET time_of_finish = time_of_start + INTERVAL IF(RIGHT(model_job_name, 5) = '10_00', 5, 60) "
    "SECOND; SELECT 1");
  std::filesystem::remove(dir_ / "trace");
  auto args = points({"30", "31", "32", "33", "34", "35"});
  // 4 minutes, of which the last 3 (slurm.signal_seconds 120 + Slurm's 60 s of leeway) are not
  // claimed in: 60 s less the 20 s margin.
  args.insert(args.begin(), {"submit", "--scheduler", "slurm", "--nodes", "1", "--time", "4"});
  e.push_back("PDR_MOCK_PLAN=*_10_00:sleep=1;*_20_00:sleep=60");
  auto r = test::run_pdr_run(dir_ / "a", args, e);
  ASSERT_EQ(r.code, 0) << r.out << tail(r.err);
  EXPECT_NE(r.out.find("run times (from 6 finished jobs): 3 of 6 pending jobs are each predicted to fit in 4m00s "
                       "less 3m00s for the end signal and the 20s margin; 3 are not"),
            std::string::npos)
      << r.out;
  const auto at = r.out.find("submitted Slurm job ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string job_id = r.out.substr(at + 20, r.out.find(':', at) - at - 20);
  for (int i = 0; i < 900 && slurm.run("squeue -h -j " + job_id).find(job_id) != std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(slurm.run("squeue -h -j " + job_id).find(job_id), std::string::npos) << "the task ended";
  const std::string log = test::read_text(dir_ / ("a/pdr_run-slurm/wt-" + job_id + "_0.log"));
  EXPECT_NE(log.find("'s time left, less 3m00s for its end signal (slurm.signal_seconds + 60 s)): claiming only jobs "
                     "predicted to finish 20s before the end"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("3 jobs did not fit in the time left"), std::string::npos) << log;
  EXPECT_EQ(finished(), 9);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND RIGHT(model_job_name, 5) = '20_00'"),
            3);
  for (const auto& kv : starts()) EXPECT_EQ(kv.first.find("_20_00"), std::string::npos) << kv.first << " started";
  EXPECT_EQ(starts().size(), 3u);
  test::expect_history_agrees([&](const std::string& sql) { return q(sql); });
}

TEST_F(MultiProcessTest, M7_DoctorComparesTheServerWithTheRun) {
  START_SERVER("--max-connections=20 --wait-timeout=5");
  write_multi_config();
  auto d = test::run_pdr_run(
      dir_ / "a", {"doctor", "--config", dir_ / "cfg.yaml", "--parallel", "--workers", "8", "--nodes", "8"}, env(""));
  EXPECT_EQ(d.code, 1) << d.out << d.err;
  for (const char* line :
       {"OK    database: reachable: mysql 127.0.0.1:", "WARN  schema: no pdr_run tables yet",
        "OK    writes: the session may write (not read-only)",
        "OK    claims: SELECT ... FOR UPDATE SKIP LOCKED supported",
        "WARN  wait_timeout: 5 s is shorter than two heartbeats (20 s)",
        "FAIL  max_connections: 20 is less than the 24 connections at most (8 node(s) x 3 per process, whatever the "
        "workers)"}) {
    EXPECT_NE(d.out.find(line), std::string::npos) << line << "\n" << d.out;
  }
  EXPECT_EQ(d.out.find(server_->password()), std::string::npos);
  EXPECT_EQ(q("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"), 0)
      << "doctor creates nothing";
  // With a registered grid: the counters status reads are checked against the rows.
  auto args = grid("m7", 2, 2, 1, 2);
  args.push_back("--register-only");
  auto r = test::run_pdr_run(dir_ / "a", args, env(""));
  ASSERT_EQ(r.code, 0) << r.err;
  const char* check = "OK    job counts: kept by triggers, equal to the rows of 1 model(s)";
  auto again = test::run_pdr_run(dir_ / "a", {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  EXPECT_NE(again.out.find(check), std::string::npos) << again.out;
  server_->sql("USE " + database_ +
               "; UPDATE pdr_job_counts SET n = n + 1 WHERE status = 'pending' ORDER BY id LIMIT 1");
  auto off = test::run_pdr_run(dir_ / "a", {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  EXPECT_EQ(off.code, 1);
  EXPECT_NE(off.out.find("FAIL  job counts: model m7: pending 5 counted, 4 rows; `pdr_run status --recount` rewrites "
                         "the counters"),
            std::string::npos)
      << off.out;
  auto fixed = test::run_pdr_run(dir_ / "a", {"status", "--config", dir_ / "cfg.yaml", "--recount"}, env(""));
  EXPECT_EQ(fixed.code, 0) << fixed.err;
  EXPECT_NE(fixed.out.find("model m7: 4 jobs"), std::string::npos) << fixed.out;
  EXPECT_NE(fixed.err.find("job counters rewritten from the rows of"), std::string::npos) << fixed.err;
  auto after = test::run_pdr_run(dir_ / "a", {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  EXPECT_NE(after.out.find(check), std::string::npos) << after.out;
  EXPECT_NE(
      after.out.find(
          "OK    writes: an insert into each of pdr_run's tables, and an update and a delete where a run makes them"),
      std::string::npos)
      << after.out;
  // A server in read_only answers every read and refuses a run's first write: doctor says so.
  server_->sql("SET GLOBAL read_only = 1");
  auto ro = test::run_pdr_run(dir_ / "a", {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  server_->sql("SET GLOBAL read_only = 0");
  EXPECT_EQ(ro.code, 1);
  EXPECT_NE(ro.out.find("FAIL  writes: a run could not write (INSERT INTO chemical_databases SELECT * FROM "
                        "chemical_databases WHERE 1 = 0): The MariaDB server is running with the --read-only option"),
            std::string::npos)
      << ro.out;
}

TEST_F(MultiProcessTest, M6_TwoUsersRegisterTheSameGridAtTheSameMoment) {
  START_SERVER("");
  write_multi_config();
  const pid_t a = test::start_pdr_run(dir_ / "a", grid("m6", 10, 20, 1, 4), env(""));
  const pid_t b = test::start_pdr_run(dir_ / "b", grid("m6", 10, 20, 1, 4), env(""));
  auto ra = test::finish_pdr_run(a, dir_ / "a");
  auto rb = test::finish_pdr_run(b, dir_ / "b");
  EXPECT_EQ(ra.code, 0) << tail(ra.err);
  EXPECT_EQ(rb.code, 0) << tail(rb.err);
  EXPECT_EQ(q("SELECT COUNT(*) FROM kosmatau_parameters"), 200);
  EXPECT_EQ(q("SELECT COUNT(*) FROM model_names"), 1);
  expect_each_recorded_once(200);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts = 1"), 200);
}

}  // namespace
}  // namespace pdr
