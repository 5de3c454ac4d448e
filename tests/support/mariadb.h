// A throwaway MariaDB server for tests (scripts/mariadb.sh): its own data directory, socket and
// free loopback port. Tests that need it fail, never skip, when CI is set and the server cannot
// be started.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "pdr/settings.h"
#include "support/temp_dir.h"

namespace pdr::test {

class MariaDb {
 public:
  explicit MariaDb(const std::string& options = "") {
    const std::string cmd = script() + " start " + dir_.path() + " " + options + " >" + (dir_ / "start.log") + " 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) {
      error_ = "could not start MariaDB: " + read_text(dir_ / "start.log");
      return;
    }
    load_env();
  }
  ~MariaDb() {
    if (ok_) run(script() + " stop " + dir_.path());
  }
  MariaDb(const MariaDb&) = delete;
  MariaDb& operator=(const MariaDb&) = delete;

  // The one server shared by the tests of this process that do not disturb it.
  static MariaDb& shared() {
    static MariaDb* server = new MariaDb();  // stopped at exit below
    static bool registered = [] {
      std::atexit([] { delete server; });
      return true;
    }();
    (void)registered;
    return *server;
  }

  // Call at the start of a test: fails in CI, skips elsewhere, when there is no server.
  bool available() const { return ok_; }
  const std::string& error() const { return error_; }

  int port() const { return port_; }
  long pid() const { return pid_; }
  const std::string& socket() const { return socket_; }
  const std::string& password() const { return password_; }
  const std::string& dir() const { return dir_.path(); }

  // Runs SQL as root over the socket; returns what it printed (tab separated, no headers).
  std::string sql(const std::string& query) const {
    const std::string out = dir_ / ("sql-" + std::to_string(++counter_) + ".out");
    std::string quoted = "'";
    for (char c : query) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    run("mariadb --no-defaults --socket=" + socket_ + " -uroot -N -B -e " + quoted + " >" + out + " 2>&1");
    std::string text = read_text(out);
    std::remove(out.c_str());
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  // Loads an SQL file (a dump) into `database` as root; returns what the client printed.
  std::string source(const std::string& database, const std::string& file) const {
    const std::string out = dir_ / ("source-" + std::to_string(++counter_) + ".out");
    run("mariadb --no-defaults --socket=" + socket_ + " -uroot " + database + " <" + file + " >" + out + " 2>&1");
    std::string text = read_text(out);
    std::remove(out.c_str());
    return text;
  }
  long long number(const std::string& query) const {
    const std::string t = sql(query);
    return t.empty() ? -1 : std::atoll(t.c_str());
  }

  // A new empty database; returns its name. The pdr user may use it.
  std::string create_database() const {
    const std::string name = "pdr_t" + std::to_string(++databases_);
    sql("CREATE DATABASE " + name + "; GRANT ALL ON " + name + ".* TO 'pdr'@'127.0.0.1'; GRANT ALL ON " + name +
        ".* TO 'pdr'@'localhost'");
    return name;
  }

  // Settings for pdr over TCP with the password (as production uses it).
  DatabaseSettings settings(const std::string& database) const {
    DatabaseSettings s;
    s.type = "mysql";
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
  // The PDR_DB_* environment for the pdr_run binary.
  std::vector<std::string> env(const std::string& database) const {
    return {"PDR_DB_TYPE=mysql",           "PDR_DB_HOST=127.0.0.1", "PDR_DB_PORT=" + std::to_string(port_),
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
  static std::string script() { return std::string(PDR_SOURCE_DIR) + "/scripts/mariadb.sh"; }
  static int run(const std::string& cmd) { return std::system(cmd.c_str()); }
  void load_env() {
    std::istringstream in(read_text(dir_ / "env"));
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
      if (k == "PORT") port_ = std::atoi(v.c_str());
      if (k == "SOCKET") socket_ = v;
      if (k == "PID") pid_ = std::atol(v.c_str());
      if (k == "PASSWORD") password_ = v;
    }
  }

  TempDir dir_;
  bool ok_ = false;
  std::string error_;
  int port_ = 0;
  long pid_ = 0;
  std::string socket_, password_;
  mutable std::atomic<int> counter_{0};
  mutable std::atomic<int> databases_{0};
};

}  // namespace pdr::test

// Fails in CI (a missing server is a failure there) and skips elsewhere.
#define PDR_REQUIRE_MARIADB(server)                                 \
  do {                                                              \
    if (!(server).available()) {                                    \
      if (std::getenv("CI") != nullptr) FAIL() << (server).error(); \
      GTEST_SKIP() << (server).error();                             \
    }                                                               \
  } while (0)
