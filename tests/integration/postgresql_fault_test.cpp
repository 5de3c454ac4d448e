// The PostgreSQL fault matrix: whole grids on a real PostgreSQL server while its backends are
// terminated, it closes idle sessions, restarts, goes away past the retry deadline, runs out of
// connections, holds locks and deadlocks, loses a COMMIT, or is given bad credentials; and two
// processes on one grid with one of them SIGKILLed. Each run must leave every job in exactly
// one state, none recorded finished twice, no row lost, every executable started once per job,
// no password in any output and no connection of pdr_run left open.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include "support/history_check.h"
#include "support/postgresql.h"
#include "support/run_binary.h"
#include "support/store_check.h"
#include "support/tcp_proxy.h"
#include "support/trace.h"

namespace pdr {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class PostgresqlFaultTest : public ::testing::Test {
 protected:
  // Starts this test's own server (it is going to be disturbed).
  bool start_server(const std::string& options = "") {
    server_ = std::make_unique<test::PostgreSql>(options);
    if (!server_->available()) return false;
    database_ = server_->create_database();
    return true;
  }

  // `dir`: where the run's files go (each process of a many-process test has its own).
  void write_config(const std::string& extra_database = "", const std::string& extra_run = "") {
    test::write_text(dir_ / "cfg.yaml",
                     "database:\n  type: postgresql\n  connect_timeout: 2\n  read_timeout: 2\n  write_timeout: 2\n"
                     "  pool_timeout: 10\n" +
                         extra_database + "storage:\n  base_dir: " + (dir_ / "store") + "\nrun:\n  scratch_dir: " +
                         (dir_ / "scratch") + "\n  step_timeout: 60\n  journal_dir: " + (dir_ / "journal") + "\n" +
                         extra_run + "model_parameters:\n  species: [CO]\n");
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

  // 10 densities x 20 FUV fields = 200 jobs, 4 workers.
  std::vector<std::string> grid(const std::string& model) const {
    std::vector<std::string> a = {"--config", dir_ / "cfg.yaml", "--model-name", model,   "--parallel", "--workers",
                                  "4",        "--mass",          "-10",          "--dens"};
    for (int d = 30; d < 40; ++d) a.push_back(std::to_string(d));
    a.push_back("--chi");
    for (int c = 0; c < 20; ++c) a.push_back(c < 10 ? "0" + std::to_string(c) : std::to_string(c));
    return a;
  }
  std::vector<std::string> worker(const std::string& model) const {
    return {"worker", "--config", dir_ / "cfg.yaml", "--model-name", model, "--parallel", "--workers", "4"};
  }

  long long q(const std::string& sql) const { return server_->number(sql, database_); }
  long long finished() const { return q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"); }
  void wait_for(const std::string& sql, long long n) const {
    for (int i = 0; i < 1200 && q(sql) < n; ++i) std::this_thread::sleep_for(50ms);
  }
  // Process A registers and runs `model`'s grid in dir/a; once every job is registered, process B
  // joins as a `worker` in dir/b. Returns when B runs 4 jobs.
  std::pair<pid_t, pid_t> start_two(const std::string& model, const std::string& plan) const {
    for (const char* d : {"a", "b"}) fs::create_directories(dir_ / d);
    const pid_t a = test::start_pdr_run(dir_ / "a", grid(model), env(plan));
    wait_for("SELECT COUNT(*) FROM pdr_model_jobs", 200);
    const pid_t b = test::start_pdr_run(dir_ / "b", worker(model), env(plan));
    wait_for("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' AND pid = " + std::to_string(b), 4);
    return {a, b};
  }
  // pdr_run's sessions on the server.
  long long sessions() const { return server_->number("SELECT COUNT(*) FROM pg_stat_activity WHERE usename = 'pdr'"); }

  // Executable starts per job (pdr and one onion per attempt).
  std::map<std::string, int> starts() const { return starts_per_job(dir_ / "trace"); }

  // The invariants every fault must leave intact.
  void expect_consistent(const std::vector<test::RunResult>& runs, long long expect_finished,
                         bool each_ran_once = true) {
    for (const auto& r : runs) {
      EXPECT_EQ(r.out.find(server_->password()), std::string::npos) << "password on stdout";
      EXPECT_EQ(r.err.find(server_->password()), std::string::npos) << "password in the log";
    }
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), 200) << "rows lost or duplicated";
    EXPECT_EQ(q("SELECT COUNT(*) FROM kosmatau_parameters"), 200);
    EXPECT_EQ(finished(), expect_finished);
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status NOT IN "
                "('pending', 'running', 'finished', 'exception_runtime', 'skipped', 'cancelled')"),
              0);
    EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE (status = 'pending') <> pending OR "
                "(status = 'running') <> active"),
              0)
        << "pending/active flags disagree with status";
    // Recorded finished once: one hdf_files row and one set of job_files per finished job.
    EXPECT_EQ(q("SELECT COUNT(*) FROM hdf_files"), expect_finished);
    EXPECT_EQ(q("SELECT COUNT(*) FROM hdf_files h JOIN pdr_model_jobs j ON j.id = h.job_id "
                "WHERE j.status <> 'finished'"),
              0);
    EXPECT_LE(q("SELECT COUNT(DISTINCT n) FROM (SELECT job_id, COUNT(*) n FROM job_files GROUP BY job_id) t"), 1);
    // The counters the triggers keep (a shard per session) equal the rows.
    EXPECT_EQ(q("SELECT COUNT(*) FROM (SELECT status, SUM(n) AS s FROM pdr_job_counts GROUP BY status) k FULL JOIN "
                "(SELECT status, COUNT(*) AS c FROM pdr_model_jobs WHERE duplicate_key = 0 GROUP BY status) r ON "
                "r.status = k.status WHERE COALESCE(k.s, 0) <> COALESCE(r.c, 0)"),
              0)
        << "a job counter differs from the rows";
    test::expect_history_agrees([&](const std::string& sql) { return q(sql); });
    if (each_ran_once) {
      // Every job's executables started exactly once (pdr and one onion): nothing ran twice.
      const auto s = starts();
      EXPECT_EQ(s.size(), 200u);
      for (const auto& kv : s) EXPECT_EQ(kv.second, 2) << kv.first << " ran more than once";
    }
    long long open = -1;
    for (int i = 0; i < 40; ++i) {
      open = sessions();
      if (open == 0) break;
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(open, 0) << "connections left open after the run";
  }

  // A side session of the superuser in the test's database; it must not fail (a deadlock may
  // end it when `may_deadlock`, if the server picks it rather than pdr_run).
  void side(const std::string& sql, bool may_deadlock = false) const {
    const std::string out = server_->sql(sql, database_);
    if (may_deadlock && out.find("deadlock detected") != std::string::npos) return;
    EXPECT_EQ(out.find("ERROR"), std::string::npos) << out;
  }

  static std::string tail(const std::string& s) { return s.substr(s.size() > 3000 ? s.size() - 3000 : 0); }

  test::TempDir dir_;
  std::unique_ptr<test::PostgreSql> server_;
  std::string database_;
};

#define START_SERVER(options)           \
  do {                                  \
    if (!start_server(options)) {       \
      PDR_REQUIRE_POSTGRESQL(*server_); \
    }                                   \
  } while (0)

TEST_F(PostgresqlFaultTest, P1_EveryBackendTerminatedEveryHalfSecond) {
  START_SERVER("");
  write_config();
  const pid_t pid = test::start_pdr_run(dir_.path(), grid("p1"), env("*:sleep=0.05"));
  long long kills = 0;
  std::atomic<bool> done{false};
  std::thread killer([&] {
    while (!done) {
      std::this_thread::sleep_for(500ms);
      const long long n = server_->number(
          "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pdr') t");
      if (n > 0) kills += n;
    }
  });
  auto r = test::finish_pdr_run(pid, dir_.path());
  done = true;
  killer.join();
  EXPECT_EQ(r.code, 0) << tail(r.err);
  EXPECT_GT(kills, 3) << "the run must have been disturbed";
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << "no terminated session was seen: " << tail(r.err);
  expect_consistent({r}, 200);
}

TEST_F(PostgresqlFaultTest, P2_IdleSessionTimeoutShorterThanIdleGaps) {
  START_SERVER("-c idle_session_timeout=1s");
  write_config();
  auto r = test::run_pdr_run(dir_.path(), grid("p2"), env("*:sleep=1.1"));
  EXPECT_EQ(r.code, 0) << tail(r.err);
  // Sessions idle past idle_session_timeout were found dead by the ping and replaced, not used.
  const auto at = r.err.find("database pool: ");
  ASSERT_NE(at, std::string::npos);
  std::istringstream pool(r.err.substr(at + 15));
  long long created = 0, validated = 0, replaced = 0;
  std::string word;
  pool >> created >> word >> word >> validated >> word >> replaced;
  EXPECT_GT(validated, 0);
  EXPECT_GT(replaced, 0) << r.err.substr(at, 200);
  expect_consistent({r}, 200);
}

TEST_F(PostgresqlFaultTest, P3_ServerRestartedMidGrid) {
  START_SERVER("");
  write_config();
  const pid_t pid = test::start_pdr_run(dir_.path(), grid("p3"), env("*:sleep=0.05"));
  wait_for("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'", 40);
  server_->stop();
  std::this_thread::sleep_for(3s);
  server_->restart();
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 0) << tail(r.err);
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << "the outage must have been seen";
  expect_consistent({r}, 200);
}

TEST_F(PostgresqlFaultTest, P4_ServerDownLongerThanTheDeadlineIsJournaledAndReplayed) {
  START_SERVER("");
  // With nothing left running, a process gives up on the database after run.outage_wait (0
  // here); what finished meanwhile stays in its journal and the next run records it.
  write_config("  retry:\n    deadline: 4\n", "  outage_wait: 0\n");
  const pid_t pid = test::start_pdr_run(dir_.path(), grid("p4"), env("*:sleep=0.05"));
  wait_for("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'", 40);
  server_->stop();
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 2) << tail(r.err);
  // "gave up after N attempts", or, when the server went down amid a COMMIT, "outcome unknown"
  // once the read-back gave up.
  EXPECT_NE(r.err.find("[error] stopped: database unusable"), std::string::npos) << tail(r.err);
  server_->restart();
  const long long done_before = finished();
  long long journaled_finishes = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "journal", ec)) {
    std::istringstream in(test::read_text(e.path()));
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f;
      std::istringstream fields(line);
      for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
      if (f.size() > 4 && f[0] == "v3" && f[4] == "finished") ++journaled_finishes;
    }
  }
  EXPECT_GT(journaled_finishes, 0) << "the outage left no finish in the journal";
  auto again = test::run_pdr_run(dir_.path(), grid("p4"), env(""));
  EXPECT_EQ(again.code, 0) << tail(again.err);
  EXPECT_NE(again.err.find(" outcomes recorded, 0 no longer current"), std::string::npos) << again.err.substr(0, 3000);
  EXPECT_NE(again.out.find(std::to_string(done_before + journaled_finishes) + " already done"), std::string::npos)
      << again.out;
  EXPECT_GT(q("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'replayed'"), 0);
  expect_consistent({r, again}, 200, /*each_ran_once=*/false);
}

TEST_F(PostgresqlFaultTest, P5_MaxConnectionsSmallerThanThePool) {
  // Four sessions for roles that are not superusers; three idle clients of another role leave
  // one for a pool of six. A side session (the superuser's reserved slot) holds the run's row
  // locked for 3 s, so the heartbeat waits in its transaction on the one connection while the
  // loop needs another: the server refuses it (53300) and the two share the one they have.
  START_SERVER("-c max_connections=6 -c superuser_reserved_connections=2");
  server_->sql("CREATE ROLE side LOGIN");
  write_config("  pool_size: 6\n", "  heartbeat_seconds: 1\n");
  std::vector<pid_t> holders;
  const std::string socket_dir = server_->dir() + "/pg", port = std::to_string(server_->port());
  for (int i = 0; i < 3; ++i) {
    pid_t p = fork();
    if (p == 0) {
      execlp("psql", "psql", "-X", "-h", socket_dir.c_str(), "-p", port.c_str(), "-U", "side", "-d", "postgres", "-c",
             "SELECT pg_sleep(600)", static_cast<char*>(nullptr));
      _exit(127);
    }
    holders.push_back(p);
  }
  for (int i = 0; i < 100 && server_->number("SELECT COUNT(*) FROM pg_stat_activity WHERE usename = 'side'") < 3; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(server_->number("SELECT COUNT(*) FROM pg_stat_activity WHERE usename = 'side'"), 3);
  const pid_t pid = test::start_pdr_run(dir_.path(), grid("p5"), env("*:sleep=0.1"));
  wait_for("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'", 8);
  side("BEGIN; SELECT id FROM pdr_runs FOR UPDATE; SELECT pg_sleep(3); ROLLBACK;");
  auto r = test::finish_pdr_run(pid, dir_.path());
  for (pid_t p : holders) {
    ::kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  EXPECT_EQ(r.code, 0) << tail(r.err);
  EXPECT_NE(r.err.find("SQLSTATE 53300"), std::string::npos) << "the connection limit was never reached";
  expect_consistent({r}, 200);
}

TEST_F(PostgresqlFaultTest, P6_LockWaitsAndADeadlockFromASideSession) {
  START_SERVER("");
  // A heartbeat a second: whatever the jobs' pace on a loaded machine, a lease renewal starts
  // within the first second of each hold below and outwaits its 2 s timeout.
  write_config("", "  heartbeat_seconds: 1\n");
  const long long deadlocks_before =
      server_->number("SELECT deadlocks FROM pg_stat_database WHERE datname = '" + database_ + "'");
  const pid_t pid = test::start_pdr_run(dir_.path(), grid("p6"), env("*:sleep=0.3"));
  wait_for("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'", 8);
  for (int round = 0; round < 3; ++round) {
    // Lock waits: every running job row held 4 s, 2 s past the statement timeout (read_timeout),
    // so a finish or renewal that starts in the hold's first 2 s outwaits it. Taking the rows one
    // by one, the side can meet the lease renewal (one UPDATE of every job the process runs)
    // taking them in another order: that deadlock may end either session.
    side("BEGIN; SELECT id FROM pdr_model_jobs WHERE status = 'running' FOR UPDATE; SELECT pg_sleep(4); ROLLBACK;",
         /*may_deadlock=*/true);
    // A deadlock: the side takes every counter row of the model, so the runner's next claim or
    // finish holds its job row and waits for a counter; then the side asks for every job row.
    side(
        "BEGIN; SELECT id FROM pdr_job_counts WHERE model_name_id = (SELECT MIN(id) FROM model_names WHERE "
        "model_name = 'p6') FOR UPDATE; SELECT pg_sleep(0.8); UPDATE pdr_model_jobs SET time_updated = time_updated "
        "WHERE status = 'running'; ROLLBACK;",
        /*may_deadlock=*/true);
  }
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 0) << tail(r.err);
  EXPECT_NE(r.err.find("SQLSTATE 57014"), std::string::npos) << "no statement outwaited its timeout";
  EXPECT_GT(server_->number("SELECT deadlocks FROM pg_stat_database WHERE datname = '" + database_ + "'"),
            deadlocks_before)
      << "no deadlock was provoked";
  expect_consistent({r}, 200);
}

// status --recount beside a transaction that moves two jobs (one counter row updated, one
// inserted) and commits while the recount waits, and beside other recounts: the counters equal
// the rows afterwards, and no recount fails on the counters' unique key.
TEST_F(PostgresqlFaultTest, R_RecountsBesideAWriterAndEachOther) {
  START_SERVER("");
  write_config();
  auto r = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "rc", "--dens", "30", "--chi", "10", "20"}, env(""));
  ASSERT_EQ(r.code, 0) << tail(r.err);
  // One session (its own counter shard): a change that makes its shard's rows, then a
  // transaction that updates them and inserts one more, committed 3 s later.
  std::thread writer([&] {
    side(
        "BEGIN; UPDATE pdr_model_jobs SET status = 'pending', pending = TRUE WHERE id = (SELECT MIN(id) FROM "
        "pdr_model_jobs); COMMIT; BEGIN; UPDATE pdr_model_jobs SET status = 'finished', pending = FALSE WHERE id = (SELECT MIN(id) FROM "
        "pdr_model_jobs); UPDATE pdr_model_jobs SET status = 'cancelled' WHERE id = (SELECT MAX(id) FROM "
        "pdr_model_jobs); SELECT pg_sleep(3); COMMIT;");
  });
  std::this_thread::sleep_for(1500ms);
  auto recount = [&] {
    return test::start_pdr_run(dir_.path(),
                               {"status", "--config", dir_ / "cfg.yaml", "--model-name", "rc", "--recount"}, env(""));
  };
  auto one = test::finish_pdr_run(recount(), dir_.path());
  EXPECT_EQ(one.code, 0) << tail(one.err);
  writer.join();
  const std::string differ =
      "SELECT COUNT(*) FROM (SELECT status, SUM(n) AS s FROM pdr_job_counts WHERE model_name_id > 0 GROUP BY status) k "
      "FULL JOIN (SELECT status, COUNT(*) AS c FROM pdr_model_jobs WHERE duplicate_key = 0 GROUP BY status) r ON "
      "r.status = k.status WHERE COALESCE(k.s, 0) <> COALESCE(r.c, 0)";
  EXPECT_EQ(q(differ), 0) << "a job counter differs from the rows";
  // Recounts at once wait for each other.
  for (int round = 0; round < 5; ++round) {
    std::vector<pid_t> recounts;
    for (int i = 0; i < 4; ++i) recounts.push_back(recount());
    for (pid_t pid : recounts) {
      auto done = test::finish_pdr_run(pid, dir_.path());
      EXPECT_EQ(done.code, 0) << tail(done.err);
    }
  }
  EXPECT_EQ(q(differ), 0) << "a job counter differs from the rows";
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'cancelled'"), 1);
}

// A registration beside another application's tables warns once, naming them; an extension's
// tables (PostGIS's spatial_ref_sys, made one of plpgsql's here) are the server's, not named.
TEST_F(PostgresqlFaultTest, E_AnExtensionsTablesAreNotAnotherApplications) {
  START_SERVER("");
  write_config();
  side(
      "CREATE TABLE spatial_ref_sys (srid INTEGER PRIMARY KEY, auth_name TEXT); ALTER EXTENSION plpgsql ADD TABLE "
      "spatial_ref_sys; CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);");
  auto r = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "ext", "--dens", "30", "--chi", "10"}, env(""));
  ASSERT_EQ(r.code, 0) << tail(r.err);
  EXPECT_NE(r.err.find("beside 1 table(s) of another application (notes)"), std::string::npos) << tail(r.err);
  EXPECT_EQ(r.err.find("spatial_ref_sys"), std::string::npos) << tail(r.err);
  side("ALTER EXTENSION plpgsql DROP TABLE spatial_ref_sys;");
  // The tables in a later schema of the search_path, the first one empty (status said "written
  // by the Python pdr_run", a run made a second set of tables in the empty schema), or holding
  // another application's table of a pdr_run name (a run wrote a user into it): refused, naming
  // both schemas, nothing written.
  server_->sql("CREATE SCHEMA first_one AUTHORIZATION pdr", database_);
  server_->sql("CREATE TABLE first_one.users (id SERIAL PRIMARY KEY, username TEXT, is_admin BOOLEAN)", database_);
  server_->sql("ALTER TABLE first_one.users OWNER TO pdr", database_);
  server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " SET search_path = first_one, public");
  const std::string refused =
      "pdr_run's tables are in schema public, but first_one comes first in the search_path of "
      "pdr (first_one, public), where pdr_run would read and create them; put public first";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "--config", dir_ / "cfg.yaml", "--model-name", "ext"},
        std::vector<std::string>{"--config", dir_ / "cfg.yaml", "--model-name", "ext", "--dens", "30", "40", "--chi",
                                 "10"}}) {
    auto split = test::run_pdr_run(dir_.path(), args, env(""));
    EXPECT_EQ(split.code, 2) << tail(split.err);
    EXPECT_NE(split.err.find(refused), std::string::npos) << tail(split.err);
    EXPECT_EQ(std::count(split.err.begin(), split.err.end(), '\n'), 1) << split.err;
  }
  EXPECT_EQ(q("SELECT COUNT(*) FROM first_one.users"), 0);
  server_->sql("DROP TABLE first_one.users", database_);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
              "'first_one'"),
            0)
      << "a second set of tables, views or indexes";
  server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " RESET search_path");
}

// A process waits for another's schema change longer than its statement timeout (a wait in
// steps, not one statement the timeout ends as a database failure), names the backend holding
// that lock (not one holding another advisory lock), and goes on when it is given up.
TEST_F(PostgresqlFaultTest, S_ASchemaLockWaitOutlastsTheStatementTimeoutAndNamesItsHolder) {
  START_SERVER("");
  write_config();  // read_timeout 2 s: the statement timeout
  std::string other_out, holder_out;
  std::thread other([&] { other_out = server_->sql("SELECT pg_advisory_lock(42), pg_sleep(9)", database_); });
  std::this_thread::sleep_for(300ms);
  std::thread holder([&] {
    holder_out = server_->sql(
        "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pdr_run schema ' || current_schema())); SELECT 'holder ' || "
        "pg_backend_pid(); SELECT pg_sleep(6); COMMIT;",
        database_);
  });
  std::this_thread::sleep_for(1s);
  auto r = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "s", "--dens", "30", "--register-only"}, env(""));
  holder.join();
  other.join();
  EXPECT_EQ(r.code, 0) << tail(r.err);
  const auto at = holder_out.find("holder ");
  ASSERT_NE(at, std::string::npos) << holder_out;
  const std::string pid = holder_out.substr(at + 7, holder_out.find_first_not_of("0123456789", at + 7) - at - 7);
  const std::string said = "waiting for another process that changes the database schema: server process " + pid;
  const auto line = r.err.find(said);
  ASSERT_NE(line, std::string::npos) << r.err << holder_out;
  EXPECT_FALSE(std::isdigit(static_cast<unsigned char>(r.err[line + said.size()]))) << r.err;
  EXPECT_EQ(r.err.find("57014"), std::string::npos) << "the wait ended as a statement timeout\n" << r.err;
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs"), 1);
}

TEST_F(PostgresqlFaultTest, P7_ConnectionLostAtCommitLandedOrNot) {
  START_SERVER("");
  write_config();
  test::CommitCuttingProxy proxy(server_->port(), 9, test::CommitCuttingProxy::Protocol::kPostgresql);
  auto r = test::run_pdr_run(dir_.path(), grid("p7"), env("*:sleep=0.02", proxy.port()));
  EXPECT_EQ(r.code, 0) << tail(r.err);
  EXPECT_GT(proxy.cut_before(), 5) << "commits lost before the server";
  EXPECT_GT(proxy.cut_after(), 5) << "commits landed but unanswered";
  EXPECT_NE(r.err.find("outcome unknown"), std::string::npos);
  expect_consistent({r}, 200);
}

TEST_F(PostgresqlFaultTest, P8_BadCredentialsFailAtOnceWithOneLine) {
  START_SERVER("");
  write_config();
  struct Case {
    std::string var, value, expected;
  };
  // No password for an account that needs one: libpq gives up on its side, with no SQLSTATE
  // (which reads as a lost server): it waited start_deadline and said "not reachable".
  for (const Case& c : {Case{"PDR_DB_PASSWORD", "wrong-Secret-9", "SQLSTATE 28P01"},
                        Case{"PDR_DB_PASSWORD", "", "no password was given (database.password and PDR_DB_PASSWORD"},
                        Case{"PDR_DB_HOST", "no-such-host.invalid", "no-such-host.invalid"},
                        Case{"PDR_DB_DATABASE", "no_such_db", "SQLSTATE 3D000"}}) {
    auto e = env("");
    for (auto& kv : e) {
      if (kv.rfind(c.var + "=", 0) == 0) kv = c.var + "=" + c.value;  // override, not a duplicate
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto r = test::run_pdr_run(dir_.path(), grid("p8"), e);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.code, 2) << c.var << ": " << r.err.substr(0, 2000);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.var << ": " << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("retrying"), std::string::npos) << "no retry storm: " << r.err;
    EXPECT_EQ(r.err.find("wrong-Secret-9"), std::string::npos) << r.err;
    EXPECT_LT(secs, 10.0) << c.var;
  }
  // A search_path none of whose schemas exists: refused at once (a run waited for a schema
  // lock without end, status said nothing had run there).
  server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " SET search_path = nosuch, \"also not\"");
  for (const std::vector<std::string>& args :
       {grid("p8"), std::vector<std::string>{"status", "--config", dir_ / "cfg.yaml", "--model-name", "p8"}}) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = test::run_pdr_run(dir_.path(), args, env(""));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.code, 2) << args.front() << ": " << r.err.substr(0, 2000);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("no schema of the search_path of pdr (nosuch, \"also not\") exists; set one that does "
                         "(ALTER ROLE pdr IN DATABASE " +
                         database_ + " SET search_path = ...) or create it"),
              std::string::npos)
        << r.err;
    EXPECT_LT(secs, 10.0);
  }
  // pg_temp first: tables made there would vanish with the session (a run said "2 finished" and
  // left nothing); they go to the first real schema.
  server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " SET search_path = pg_temp, public");
  auto temp =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "p8t", "--dens", "30"}, env(""));
  EXPECT_EQ(temp.code, 0) << temp.err.substr(0, 2000);
  EXPECT_EQ(q("SELECT COUNT(*) FROM public.pdr_model_jobs WHERE status = 'finished'"), 1);
  // Schemas the role may not use (no USAGE) drop out of its search_path without a word, and one
  // it may not create in failed the first CREATE TABLE with the server's text: each is named,
  // before anything is written. Tables in a schema that lost USAGE made a run create a second
  // set in the next schema (every point run again).
  server_->sql("CREATE SCHEMA locked; GRANT USAGE ON SCHEMA locked TO pdr; CREATE SCHEMA hidden", database_);
  auto refused = [&](const std::string& path, const std::string& model, const std::string& expected) {
    server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " SET search_path = " + path);
    auto r =
        test::run_pdr_run(dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", model, "--dens", "30"}, env(""));
    EXPECT_EQ(r.code, 2) << path << ": " << r.err.substr(0, 2000);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    auto doctor = test::run_pdr_run(dir_.path(), {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
    EXPECT_NE(doctor.out.find(expected), std::string::npos) << doctor.out;
    EXPECT_NE(doctor.out.find("FAIL  "), std::string::npos) << doctor.out;
  };
  refused("locked", "p8l",
          "pdr may not create tables in schema locked, where pdr_run would create its tables; GRANT CREATE ON "
          "SCHEMA locked TO pdr");
  refused("hidden", "p8h",
          "schema hidden of the search_path of pdr (hidden) exists, but pdr may not use it (no USAGE); GRANT USAGE "
          "ON SCHEMA hidden TO pdr");
  EXPECT_EQ(q("SELECT COUNT(*) FROM pg_tables WHERE schemaname IN ('locked', 'hidden')"), 0);
  server_->sql("GRANT USAGE, CREATE ON SCHEMA hidden TO pdr", database_);
  server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " SET search_path = hidden");
  auto in_hidden =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "p8h", "--dens", "30"}, env(""));
  EXPECT_EQ(in_hidden.code, 0) << in_hidden.err.substr(0, 2000);
  server_->sql("REVOKE USAGE ON SCHEMA hidden FROM pdr; GRANT CREATE ON SCHEMA locked TO pdr", database_);
  // "$user" (no such schema) and names PostgreSQL keeps in lower case.
  refused("\"$user\", Locked, HIDDEN", "p8h",
          "pdr_run's tables are in schema hidden, which pdr may not use (no USAGE on it); GRANT USAGE ON SCHEMA "
          "hidden TO pdr");
  EXPECT_EQ(q("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'locked'"), 0) << "a second set of tables was made";
  // Another schema of the path that holds pdr_run's tables, unusable, does not stop a run on the
  // tables the path shows (public has them: p8t above).
  server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " SET search_path = hidden, public");
  auto beside =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "p8t", "--dens", "30"}, env(""));
  EXPECT_EQ(beside.code, 0) << beside.err.substr(0, 2000);
  // PGOPTIONS chooses the schema: libpq drops it for a connection that names options of its own,
  // as pdr_run's does, and the tables went to the role's search_path. A setting the server
  // refuses is named with the PGOPTIONS it came from.
  server_->sql("CREATE SCHEMA chosen AUTHORIZATION pdr", database_);
  auto with_options = env("");
  with_options.push_back("PGOPTIONS=-c search_path=chosen");
  auto chosen = test::run_pdr_run(dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "p8o", "--dens", "30"},
                                  with_options);
  EXPECT_EQ(chosen.code, 0) << chosen.err.substr(0, 2000);
  EXPECT_EQ(q("SELECT COUNT(*) FROM chosen.pdr_model_jobs WHERE status = 'finished'"), 1);
  EXPECT_EQ(q("SELECT COUNT(*) FROM public.pdr_model_jobs j JOIN public.model_names m ON m.id = j.model_name_id "
              "WHERE m.model_name = 'p8o'"),
            0);
  with_options.back() = "PGOPTIONS=-c no_such_setting=1";
  auto refused_option = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml"}, with_options);
  EXPECT_EQ(refused_option.code, 2) << refused_option.err.substr(0, 2000);
  EXPECT_EQ(std::count(refused_option.err.begin(), refused_option.err.end(), '\n'), 1) << refused_option.err;
  EXPECT_NE(refused_option.err.find("no_such_setting"), std::string::npos) << refused_option.err;
  EXPECT_NE(refused_option.err.find("PGOPTIONS, which pdr_run passes on: '-c no_such_setting=1'"), std::string::npos)
      << refused_option.err;
  with_options.back() = "PGOPTIONS=-c search_path=nosuch";
  auto no_schema = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml"}, with_options);
  EXPECT_EQ(no_schema.code, 2) << no_schema.err.substr(0, 2000);
  EXPECT_NE(no_schema.err.find("no schema of the search_path of pdr (nosuch) exists; set one that does (the "
                               "environment's PGOPTIONS sets it: '-c search_path=nosuch')"),
            std::string::npos)
      << no_schema.err;
  server_->sql("DROP SCHEMA chosen CASCADE", database_);
  server_->sql("DROP SCHEMA locked CASCADE; DROP SCHEMA hidden CASCADE", database_);
  server_->sql("ALTER ROLE pdr IN DATABASE " + database_ + " RESET search_path");
  server_->sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION pdr", database_);
  EXPECT_EQ(q("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"), 0)
      << "a refused run wrote to the database";
}

// A password libpq found itself (PGPASSWORD) and the server refused is named as that, not as
// none given. A port that takes connections and never answers (a frozen server) is given up on
// at the start deadline: the connect that ran out its timeout was asked again to read a SQLSTATE,
// which doubled every wait (a start deadline of 5 s took 12 s).
TEST_F(PostgresqlFaultTest, P9_PasswordsFoundElsewhereAndASilentServer) {
  START_SERVER("");
  write_config();
  auto e = env("");
  for (auto& kv : e) {
    if (kv.rfind("PDR_DB_PASSWORD=", 0) == 0) kv = "PDR_DB_PASSWORD=";
  }
  e.push_back("PGPASSWORD=wrong-Secret-9");
  auto found = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml"}, e);
  EXPECT_EQ(found.code, 2) << found.err.substr(0, 2000);
  EXPECT_NE(found.err.find("SQLSTATE 28P01); the password libpq found itself (PGPASSWORD, PGPASSFILE or ~/.pgpass) "
                           "was refused"),
            std::string::npos)
      << found.err;
  EXPECT_EQ(found.err.find("no password was given"), std::string::npos) << found.err;
  EXPECT_EQ(found.err.find("wrong-Secret-9"), std::string::npos) << found.err;

  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  type: postgresql\n  connect_timeout: 6\n  start_deadline: 5\n"
                   "storage:\n  base_dir: " +
                       (dir_ / "store") + "\nrun:\n  scratch_dir: " + (dir_ / "scratch") +
                       "\nmodel_parameters:\n  species: [CO]\n");
  const auto t0 = std::chrono::steady_clock::now();
  auto silent =
      test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml"}, env("", ntohs(addr.sin_port)));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(listener);
  EXPECT_EQ(silent.code, 2) << silent.err.substr(0, 2000);
  EXPECT_NE(silent.err.find("database.start_deadline = 5 s"), std::string::npos) << silent.err;
  EXPECT_GT(secs, 5.5) << silent.err;
  EXPECT_LT(secs, 9.0) << "the connect timeout of 6 s was waited twice\n" << silent.err;
}

// Two processes of four workers on one grid; the second is SIGKILLed while it holds jobs: the
// first takes them over when their leases expire, and every job runs to its finish once.
TEST_F(PostgresqlFaultTest, M_TwoProcessesOneSigkilledEveryJobOnce) {
  START_SERVER("");
  write_config("", "  lease_seconds: 4\n  heartbeat_seconds: 1\n");
  const auto [a, b] = start_two("pm", "*:sleep=0.2");
  const std::string of_b = " FROM pdr_model_jobs WHERE status = 'running' AND pid = " + std::to_string(b);
  ::kill(b, SIGKILL);
  auto rb = test::finish_pdr_run(b, dir_ / "b");
  ASSERT_GT(q("SELECT COUNT(*)" + of_b), 0) << "the killed process held jobs";
  auto ra = test::finish_pdr_run(a, dir_ / "a");
  EXPECT_EQ(ra.code, 0) << tail(ra.err);
  EXPECT_NE(ra.err.find("had expired leases: back to pending"), std::string::npos) << tail(ra.err);
  EXPECT_GT(q("SELECT COUNT(DISTINCT pid) FROM pdr_job_events WHERE event = 'claimed'"), 1)
      << "both processes claimed jobs";
  // Each session added to counter rows of its own; the survivor's end, with every job finished,
  // added them into shard 0.
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_job_counts WHERE shard <> 0"), 0) << "a session's counter rows stayed";
  EXPECT_EQ(q("SELECT n FROM pdr_job_counts WHERE shard = 0 AND status = 'finished'"), 200);
  // The killed process's attempts ran their programs once more after the takeover at most.
  expect_consistent({ra, rb}, 200, /*each_ran_once=*/false);
  const auto s = starts();
  EXPECT_EQ(s.size(), 200u);
  // Only taken-over jobs ran again; one the killed process had claimed but not yet started
  // (claimed rows are 'running' before their programs start) ran once, on its second attempt.
  long long again = 0;
  for (const auto& kv : s) {
    EXPECT_LE(kv.second, 4) << kv.first;
    if (kv.second <= 2) continue;
    ++again;
    EXPECT_EQ(q("SELECT attempts FROM pdr_model_jobs WHERE model_job_name = '" + kv.first + "'"), 2) << kv.first;
  }
  // Only the killed process's jobs (at most one per worker: 4) needed a second attempt.
  EXPECT_LE(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts = 2"), 4);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts > 2"), 0);
  // The killed run no longer says it runs (lost; gone once the other looked at its last finishes
  // at its end); the other one ended.
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_runs WHERE state IN ('lost', 'gone') AND pid = " + std::to_string(b)), 1);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_runs WHERE state = 'finished' AND pid = " + std::to_string(a)), 1);
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_workers_v"), 0);
}

// A process stopped (SIGSTOP) past its lease while its jobs run: the other process takes them
// over and records them; the stopped one's late outcomes are refused (fenced by the lease
// epoch), and its copies of the outputs are not left beside the recorded ones.
TEST_F(PostgresqlFaultTest, F_AStoppedProcessesLateOutcomesAreRejected) {
  START_SERVER("");
  write_config("", "  lease_seconds: 3\n  heartbeat_seconds: 1\n");
  const auto [a, b] = start_two("pf", "*:sleep=0.3");
  ::kill(b, SIGSTOP);
  std::this_thread::sleep_for(6s);  // past the lease: A takes B's jobs over
  ::kill(b, SIGCONT);
  auto rb = test::finish_pdr_run(b, dir_ / "b");
  auto ra = test::finish_pdr_run(a, dir_ / "a");
  EXPECT_EQ(ra.code, 0) << tail(ra.err);
  EXPECT_EQ(rb.code, 0) << tail(rb.err);
  EXPECT_NE(rb.out.find("outcomes dropped (lease taken over)"), std::string::npos) << rb.out << tail(rb.err);
  EXPECT_GE(q("SELECT COUNT(*) FROM pdr_model_jobs WHERE lease_epoch = 2"), 1);
  expect_consistent({ra, rb}, 200, /*each_ran_once=*/false);
  test::expect_store_verified(dir_.path(), "pf", env(""));
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_runs WHERE state = 'running'"), 0) << "both runs ended";
  // Whole seconds by one clock: no run starts after it was last heard from.
  EXPECT_EQ(q("SELECT COUNT(*) FROM pdr_runs WHERE started_at <> date_trunc('second', started_at) OR started_at > "
              "updated_at"),
            0);
}

// doctor reads the server's version, idle timeouts and max_connections, creates nothing, and
// compares the counters with the rows.
TEST_F(PostgresqlFaultTest, D_DoctorComparesTheServerWithTheRun) {
  START_SERVER("-c max_connections=20 -c idle_session_timeout=5s -c idle_in_transaction_session_timeout=500ms");
  write_config();
  auto d = test::run_pdr_run(
      dir_.path(), {"doctor", "--config", dir_ / "cfg.yaml", "--parallel", "--workers", "8", "--nodes", "8"}, env(""));
  EXPECT_EQ(d.code, 1) << d.out << d.err;
  for (const char* line :
       {"OK    database: reachable: postgresql 127.0.0.1:", "WARN  schema: no pdr_run tables yet",
        "OK    writes: the session may write (not read-only)",
        "OK    claims: SELECT ... FOR UPDATE SKIP LOCKED supported",
        "WARN  idle_session_timeout: 5000 ms is shorter than two heartbeats (20000 ms)",
        "WARN  idle_in_transaction_session_timeout: 500 ms",
        "FAIL  max_connections: 20 is less than the 24 connections at most (8 node(s) x 3 per process, whatever the "
        "workers)"}) {
    EXPECT_NE(d.out.find(line), std::string::npos) << line << "\n" << d.out;
  }
  EXPECT_EQ(d.out.find(server_->password()), std::string::npos);
  EXPECT_EQ(q("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"), 0)
      << "doctor creates nothing";
  auto args = grid("pd");
  args.push_back("--register-only");
  auto r = test::run_pdr_run(dir_.path(), args, env(""));
  ASSERT_EQ(r.code, 0) << r.err;
  server_->sql(
      "UPDATE pdr_job_counts SET n = n + 1 WHERE id = (SELECT MIN(id) FROM pdr_job_counts WHERE status = "
      "'pending')",
      database_);
  auto off = test::run_pdr_run(dir_.path(), {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  EXPECT_EQ(off.code, 1);
  EXPECT_NE(off.out.find("FAIL  job counts: model pd: pending 201 counted, 200 rows"), std::string::npos) << off.out;
  auto fixed = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--recount"}, env(""));
  EXPECT_EQ(fixed.code, 0) << fixed.err;
  auto after = test::run_pdr_run(dir_.path(), {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  EXPECT_NE(after.out.find("OK    job counts: kept by triggers, equal to the rows of 1 model(s)"), std::string::npos)
      << after.out;
  EXPECT_NE(
      after.out.find(
          "OK    writes: an insert into each of pdr_run's tables, and an update and a delete where a run makes them"),
      std::string::npos)
      << after.out;
  // Read-only transactions for the account answer every read and refuse a run's first write.
  server_->sql("ALTER ROLE pdr SET default_transaction_read_only = on", database_);
  auto ro = test::run_pdr_run(dir_.path(), {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  server_->sql("ALTER ROLE pdr RESET default_transaction_read_only", database_);
  EXPECT_EQ(ro.code, 1);
  EXPECT_NE(ro.out.find("FAIL  writes: a run could not write (INSERT INTO chemical_databases SELECT * FROM "
                        "chemical_databases WHERE 1 = 0): "),
            std::string::npos)
      << ro.out;
  EXPECT_NE(ro.out.find("cannot execute INSERT in a read-only transaction (PostgreSQL SQLSTATE 25006)"),
            std::string::npos)
      << ro.out;
  // An INSERT of no row draws no id: the sequences behind the ids are looked at on their own.
  server_->sql("REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM pdr", database_);
  auto seq = test::run_pdr_run(dir_.path(), {"doctor", "--config", dir_ / "cfg.yaml"}, env(""));
  server_->sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO pdr", database_);
  EXPECT_EQ(seq.code, 1);
  EXPECT_NE(seq.out.find("FAIL  writes: a run could not write: pdr may not use sequence public."), std::string::npos)
      << seq.out;
}

}  // namespace
}  // namespace pdr
