#include "db/db_error.h"

#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstring>
#include <regex>

namespace pdr {
namespace {

// Server gone, lost or refusing: the connection (if any) is unusable.
constexpr int kConnectionLost[] = {
    2002,  // CR_CONNECTION_ERROR (socket), also "server not listening" with Connector/C
    2003,  // CR_CONN_HOST_ERROR
    2006,  // CR_SERVER_GONE_ERROR
    2013,  // CR_SERVER_LOST (also a read timeout)
    2055,  // CR_SERVER_LOST_EXTENDED
    2026,  // CR_SSL_CONNECTION_ERROR
    1927,  // ER_CONNECTION_KILLED
    1053,  // ER_SERVER_SHUTDOWN
    4031,  // ER_CLIENT_INTERACTION_TIMEOUT (idle past wait_timeout, MySQL 8)
    // ER_OPTION_PREVENTS_STATEMENT: a server in read_only (a primary demoted in a failover, a
    // maintenance window) takes no write; a new session may reach the new primary.
    1290,
};

// Worth retrying on a live connection (after a rollback).
constexpr int kRetryable[] = {
    1040,  // ER_CON_COUNT_ERROR: too many connections
    1203,  // ER_TOO_MANY_USER_CONNECTIONS: max_user_connections reached
    1226,  // ER_USER_LIMIT_REACHED: the account's MAX_USER_CONNECTIONS (or another of its limits)
    1205,  // ER_LOCK_WAIT_TIMEOUT (the transaction stays open: roll back)
    1213,  // ER_LOCK_DEADLOCK
    // ER_AUTOINC_READ_FAILED: InnoDB's deadlock on the AUTO-INC lock (an INSERT ... SELECT
    // in the counter triggers), reported under this code (MDEV-33593); rolled back like 1213.
    // The same code for an exhausted AUTO_INCREMENT would be retried until the deadline and
    // then reported like an outage (the tables' INT ids end at 2^31 rows).
    1467,
    1317,                    // ER_QUERY_INTERRUPTED
    1158, 1159, 1160, 1161,  // network read/write errors and timeouts
    // The server out of disk or memory: an administrator can free it while the grid goes on
    // (the outcomes wait in the journal past the deadline; running jobs are not stopped).
    1021,  // ER_DISK_FULL
    1114,  // ER_RECORD_FILE_FULL (InnoDB: the disk under the table is full)
    1037,  // ER_OUTOFMEMORY
    1041,  // ER_OUT_OF_RESOURCES
};

// PostgreSQL SQLSTATEs of a session that is gone (the connection must be discarded).
bool pg_connection_lost(const std::string& state) {
  return state.empty() ||                   // no SQLSTATE: the client library lost the server
         state.compare(0, 2, "08") == 0 ||  // connection exception
         state == "57P01" ||                // admin_shutdown (pg_terminate_backend, server stop)
         state == "57P02" ||                // crash_shutdown
         state == "57P03" ||                // cannot_connect_now (starting or stopping)
         state == "57P05" ||                // idle_session_timeout
         state == "25P03";                  // idle_in_transaction_session_timeout
}

// Worth retrying on a live connection (after a rollback).
bool pg_retryable(const std::string& state) {
  return state == "53300" ||  // too_many_connections
         state == "40001" ||  // serialization_failure
         state == "40P01" ||  // deadlock_detected
         state == "55P03" ||  // lock_not_available
         state == "57014" ||  // query_canceled (statement_timeout)
         state == "53000" ||  // insufficient_resources
         state == "53100" ||  // disk_full (as on MySQL: freed while the grid goes on)
         state == "53200" ||  // out_of_memory
         state == "26000";    // invalid_sql_statement_name: a kept statement a proxy's connection
                              // lacks (statement_cache.cpp stops keeping them)
}

}  // namespace

int pg_error_code(const std::string& sqlstate) {
  std::string state = sqlstate;
  while (!state.empty() && state.back() == ' ') state.pop_back();
  int packed = 0;
  for (char c : state) {
    const int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                      : std::isalpha(static_cast<unsigned char>(c))
                          ? 10 + std::toupper(static_cast<unsigned char>(c)) - 'A'
                          : 0;
    packed = packed * 36 + digit;
  }
  // A length marker keeps "" apart from "00000".
  return kPgErrorBase + packed * 8 + static_cast<int>(state.size());
}

std::string pg_sqlstate(int code) {
  if (code < kPgErrorBase) return "";
  int rest = code - kPgErrorBase;
  const int length = rest % 8;
  int packed = rest / 8;
  std::string state(static_cast<size_t>(length), '0');
  for (int i = length - 1; i >= 0; --i) {
    const int digit = packed % 36;
    packed /= 36;
    state[static_cast<size_t>(i)] = static_cast<char>(digit < 10 ? '0' + digit : 'A' + digit - 10);
  }
  return state;
}

std::string error_code_text(int code) {
  if (code < kPgErrorBase) return "error " + std::to_string(code);
  const std::string state = pg_sqlstate(code);
  return state.empty() ? "connection lost" : "SQLSTATE " + state;
}

bool is_connection_lost(int code) {
  if (code >= kPgErrorBase) return pg_connection_lost(pg_sqlstate(code));
  for (int c : kConnectionLost) {
    if (c == code) return true;
  }
  return false;
}

bool is_deadlock(int code) {
  if (code >= kPgErrorBase) return pg_sqlstate(code) == "40P01" || pg_sqlstate(code) == "40001";
  return code == 1213 || code == 1467;
}

bool is_too_many_connections(int code) {
  return code == 1040 || code == 1203 || code == 1226 || (code >= kPgErrorBase && pg_sqlstate(code) == "53300");
}

Status pg_connect_error(const std::string& sqlstate, const std::string& context, const std::string& message) {
  const ErrorKind kind =
      pg_connection_lost(sqlstate) || pg_retryable(sqlstate) ? ErrorKind::kTransient : ErrorKind::kPermanent;
  std::string what = context + ": " + message;
  if (!sqlstate.empty()) what += " (PostgreSQL SQLSTATE " + sqlstate + ")";
  return Status::Error(kind, what, pg_error_code(sqlstate));
}

Status db_error_status(const std::exception& e, const std::string& context) {
  std::string what = e.what();
  // SOCI messages may echo the connection string; mask any password in it.
  what = std::regex_replace(what, std::regex(R"((password|pass|pwd)\s*=\s*('[^']*'|"[^"]*"|\S+))", std::regex::icase),
                            "$1=***");
  // SOCI appends the whole statement (and its bound values): it goes to the log file at debug
  // level, and the user's line keeps what failed and the error.
  for (const char* doing : {" while executing \"", " while preparing \""}) {
    if (auto at = what.find(doing); at != std::string::npos) {
      spdlog::debug("{}: {}", context, what);
      what = what.substr(0, at);
    }
  }
  if (auto nl = what.find('\n'); nl != std::string::npos) what = what.substr(0, nl);
  while (!what.empty() && (what.back() == ' ' || what.back() == '.')) what.pop_back();
  ErrorKind kind = ErrorKind::kPermanent;
  int code = 0;
  if (const auto* m = dynamic_cast<const soci::mysql_soci_error*>(&e)) {
    code = static_cast<int>(m->err_num_);
    if (is_connection_lost(code)) kind = ErrorKind::kTransient;
    for (int c : kRetryable) {
      if (c == code) kind = ErrorKind::kTransient;
    }
    what += " (MySQL error " + std::to_string(code) + ")";
  } else if (const auto* p = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    // SOCI puts its own words before the server's ("Cannot execute query. Fatal error. ERROR:  "):
    // the server's message is what the user needs.
    for (const char* soci_words : {"Cannot execute query. ", "Cannot prepare statement. ", "Fatal error. "}) {
      if (what.rfind(soci_words, 0) == 0) what.erase(0, std::strlen(soci_words));
    }
    if (what.rfind("ERROR:  ", 0) == 0) what.erase(0, 8);
    std::string state = p->sqlstate();
    while (!state.empty() && state.back() == ' ') state.pop_back();
    code = pg_error_code(state);
    if (pg_connection_lost(state) || pg_retryable(state)) kind = ErrorKind::kTransient;
    what += state.empty() ? " (PostgreSQL: connection lost)" : " (PostgreSQL SQLSTATE " + state + ")";
  } else if (const auto* s = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    code = s->result();
    const int primary = code & 0xff;
    // SQLITE_FULL: the disk under the database is full; space freed meanwhile lets it go on.
    // SQLITE_IOERR: how a full disk shows when a connection cannot make its -wal or -shm file
    // (and a failing disk, which stays failed until the deadline).
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL || primary == SQLITE_IOERR) {
      kind = ErrorKind::kTransient;
    }
    what += " (SQLite result " + std::to_string(code) + ")";
  }
  return Status::Error(kind, context + ": " + what, code);
}

}  // namespace pdr
