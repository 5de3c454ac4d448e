// A fresh empty database for a test on any backend: a SQLite file in a temporary directory, or a
// new database on the shared throwaway MariaDB or PostgreSQL. Plain SQL helpers read it from
// outside.
#pragma once

#include <gtest/gtest.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <memory>
#include <string>

#include "pdr/settings.h"
#include "support/mariadb.h"
#include "support/postgresql.h"
#include "support/temp_dir.h"

namespace pdr::test {

class BackendDatabase {
 public:
  // Call from SetUp; with a server it fails in CI and skips elsewhere when there is none.
  void open(const std::string& backend) {
    mysql_ = backend == "mysql";
    pg_ = backend == "postgresql";
    if (pg_) {
      auto& server = PostgreSql::shared();
      PDR_REQUIRE_POSTGRESQL(server);
      database_ = server.create_database();
      settings_ = server.settings(database_);
    } else if (mysql_) {
      auto& server = MariaDb::shared();
      PDR_REQUIRE_MARIADB(server);
      database_ = server.create_database();
      settings_ = server.settings(database_);
    } else {
      settings_.type = "sqlite";
      settings_.path = dir_ / "jobs.db";
    }
  }

  const DatabaseSettings& settings() const { return settings_; }
  const TempDir& dir() const { return dir_; }
  const std::string& database() const { return database_; }  // servers only
  bool mysql() const { return mysql_; }
  bool postgresql() const { return pg_; }

  long long count(const std::string& sql) const {
    if (mysql_) return MariaDb::shared().number("USE " + database_ + "; " + sql);
    if (pg_) {
      soci::session s(*soci::factory_postgresql(), PostgreSql::shared().connect_string(database_));
      long long n = -1;
      s << sql, soci::into(n);
      return n;
    }
    soci::session s(*soci::factory_sqlite3(), "db=" + settings_.path);
    long long n = -1;
    s << sql, soci::into(n);
    return n;
  }

  // A session of its own, for statements the command-line client cannot take (a MySQL trigger
  // with BEGIN ... END).
  std::unique_ptr<soci::session> session() const {
    if (mysql_) {
      auto& server = MariaDb::shared();
      return std::make_unique<soci::session>(
          *soci::factory_mysql(), "host=127.0.0.1 port=" + std::to_string(server.port()) + " db=" + database_ +
                                      " user=pdr password='" + server.password() + "'");
    }
    if (pg_) {
      return std::make_unique<soci::session>(*soci::factory_postgresql(),
                                             PostgreSql::shared().connect_string(database_));
    }
    return std::make_unique<soci::session>(*soci::factory_sqlite3(), "db=" + settings_.path);
  }

  void exec(const std::string& sql) const {
    if (mysql_) {
      const std::string out = MariaDb::shared().sql("USE " + database_ + "; " + sql);
      ASSERT_EQ(out.find("ERROR"), std::string::npos) << out << "\n" << sql;
      return;
    }
    if (pg_) {
      soci::session s(*soci::factory_postgresql(), PostgreSql::shared().connect_string(database_));
      s << sql;
      return;
    }
    soci::session s(*soci::factory_sqlite3(), "db=" + settings_.path);
    s << sql;
  }

 private:
  TempDir dir_;
  bool mysql_ = false;
  bool pg_ = false;
  std::string database_;
  DatabaseSettings settings_;
};

}  // namespace pdr::test
