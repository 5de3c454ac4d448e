// A throwaway PostgreSQL server for tests (scripts/postgresql.sh): its own data directory,
// socket directory and free loopback port. Tests that need it fail, never skip, when CI is set
// and the server cannot be started.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "pdr/settings.h"
#include "support/temp_dir.h"

namespace pdr::test {

class PostgreSql {
 public:
  // `options` are server settings for the script ("-c idle_session_timeout=1s").
  explicit PostgreSql(const std::string& options = "") {
    const std::string cmd = script() + " start " + dir_.path() + " " + options + " >" + (dir_ / "start.log") + " 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) {
      error_ = "could not start PostgreSQL: " + read_text(dir_ / "start.log");
      return;
    }
    load_env();
  }
  ~PostgreSql() {
    if (ok_) run(script() + " stop " + dir_.path() + " >/dev/null 2>&1");
  }
  PostgreSql(const PostgreSql&) = delete;
  PostgreSql& operator=(const PostgreSql&) = delete;

  // The one server shared by the tests of this process that do not disturb it.
  static PostgreSql& shared() {
    static PostgreSql* server = new PostgreSql();  // stopped at exit below
    static bool registered = [] {
      std::atexit([] { delete server; });
      return true;
    }();
    (void)registered;
    return *server;
  }

  bool available() const { return ok_; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  long pid() const { return pid_; }
  const std::string& password() const { return password_; }
  const std::string& dir() const { return dir_.path(); }

  // Runs SQL as the superuser over the socket in `database`; returns what psql printed
  // (unaligned, no headers; errors included).
  std::string sql(const std::string& query, const std::string& database = "postgres") const {
    const std::string out = dir_ / ("sql-" + std::to_string(++counter_) + ".out");
    run("PGDATABASE=" + database + " " + script() + " sql " + dir_.path() + " " + shell_quoted(query) + " >" + out +
        " 2>&1");
    std::string text = read_text(out);
    std::remove(out.c_str());
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  long long number(const std::string& query, const std::string& database = "postgres") const {
    const std::string t = sql(query, database);
    return t.empty() ? -1 : std::atoll(t.c_str());
  }

  // A new empty database owned by pdr; returns its name.
  std::string create_database() const {
    const std::string name = "pdr_t" + std::to_string(++databases_);
    sql("CREATE DATABASE " + name + " OWNER pdr");
    return name;
  }

  // Settings for pdr over TCP with the password (as production uses it).
  DatabaseSettings settings(const std::string& database) const {
    DatabaseSettings s;
    s.type = "postgresql";
    s.host = "127.0.0.1";
    s.port = port_;
    s.database = database;
    s.username = "pdr";
    s.password = password_;
    s.connect_timeout = 3;
    s.read_timeout = 5;
    s.write_timeout = 5;
    s.retry.deadline = 30;
    return s;
  }
  // A SOCI connection string for `database` as pdr (for tests that read it from outside).
  std::string connect_string(const std::string& database) const {
    return "postgresql://pdr:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/" + database +
           "?options=-c%20client_min_messages%3Dwarning";
  }
  // The PDR_DB_* environment for the pdr_run binary.
  std::vector<std::string> env(const std::string& database) const {
    return {"PDR_DB_TYPE=postgresql",      "PDR_DB_HOST=127.0.0.1", "PDR_DB_PORT=" + std::to_string(port_),
            "PDR_DB_DATABASE=" + database, "PDR_DB_USERNAME=pdr",   "PDR_DB_PASSWORD=" + password_};
  }

  void stop() { run(script() + " stop " + dir_.path()); }
  void restart() {
    run(script() + " restart " + dir_.path() + " >" + (dir_ / "restart.log") + " 2>&1");
    load_env();
  }
  void freeze() const { ::kill(static_cast<pid_t>(pid_), SIGSTOP); }
  void thaw() const { ::kill(static_cast<pid_t>(pid_), SIGCONT); }

 private:
  static std::string script() { return std::string(PDR_SOURCE_DIR) + "/scripts/postgresql.sh"; }
  static int run(const std::string& cmd) { return std::system(cmd.c_str()); }
  static std::string shell_quoted(const std::string& v) {
    std::string q = "'";
    for (char c : v) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }
  void load_env() {
    std::istringstream in(read_text(dir_ / "env"));
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
      if (k == "PORT") port_ = std::atoi(v.c_str());
      if (k == "PID") pid_ = std::atol(v.c_str());
      if (k == "PASSWORD") password_ = v;
    }
  }

  TempDir dir_;
  bool ok_ = false;
  std::string error_;
  int port_ = 0;
  long pid_ = 0;
  std::string password_;
  mutable std::atomic<int> counter_{0};
  mutable std::atomic<int> databases_{0};
};

}  // namespace pdr::test

// Fails in CI (a missing server is a failure there) and skips elsewhere.
#define PDR_REQUIRE_POSTGRESQL(server)                              \
  do {                                                              \
    if (!(server).available()) {                                    \
      if (std::getenv("CI") != nullptr) FAIL() << (server).error(); \
      GTEST_SKIP() << (server).error();                             \
    }                                                               \
  } while (0)
