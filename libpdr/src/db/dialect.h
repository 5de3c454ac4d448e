// The SQL differences between the three backends, in one place.
#pragma once

#include <string>

namespace pdr {

struct Dialect {
  bool mysql = false;
  bool pg = false;          // PostgreSQL
  bool skip_locked = true;  // false on MySQL < 8.0 / MariaDB < 10.6: claimers wait for each other

  // A server several processes share (MySQL or PostgreSQL), not an embedded file.
  bool server() const { return mysql || pg; }

  std::string quote(const std::string& name) const { return mysql ? "`" + name + "`" : "\"" + name + "\""; }
  // An insert that leaves out rows a unique key already has: insert_ignore() starts the
  // statement, ignore_end() ends it (PostgreSQL says so at the end).
  const char* insert_ignore() const { return mysql ? "INSERT IGNORE" : pg ? "INSERT" : "INSERT OR IGNORE"; }
  const char* ignore_end() const { return pg ? " ON CONFLICT DO NOTHING" : ""; }
  const char* id_column() const {
    return mysql ? "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY"
           : pg  ? "id SERIAL PRIMARY KEY"
                 : "id INTEGER PRIMARY KEY AUTOINCREMENT";
  }
  const char* table_options() const { return mysql ? " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" : ""; }
  // The column type as this backend spells it (the schema is written in MySQL's words).
  std::string column_type(const std::string& type) const;
  // Row locks for claiming: other claimers skip rows this one holds instead of waiting.
  const char* claim_lock() const {
    if (!server()) return "";
    return skip_locked ? " FOR UPDATE SKIP LOCKED" : " FOR UPDATE";
  }
  // The claim reads pending rows in id order through idx_jobs_claim. For ORDER BY id LIMIT n
  // MariaDB's optimizer prefers walking the primary key, past every finished row: each claim got
  // slower with each finished job (40 ms at 20,000). SQLite finds the rows in that order itself.
  const char* claim_index() const { return mysql ? " FORCE INDEX (idx_jobs_claim)" : ""; }
  // The database's clock in UTC, now and `seconds` from now (leases and retries use it, so the
  // clocks of the nodes do not matter). Whole seconds, like the DATETIME columns. PostgreSQL's
  // is the statement's start, as MySQL's UTC_TIMESTAMP() (CURRENT_TIMESTAMP would be the
  // transaction's).
  std::string now() const {
    return mysql ? "UTC_TIMESTAMP()"
           : pg  ? "date_trunc('second', statement_timestamp() AT TIME ZONE 'UTC')"
                 : "datetime('now')";
  }
  // Now to the millisecond (UTC), for the job history.
  std::string now_ms() const {
    return mysql ? "UTC_TIMESTAMP(3)"
           : pg  ? "date_trunc('milliseconds', statement_timestamp() AT TIME ZONE 'UTC')"
                 : "strftime('%Y-%m-%d %H:%M:%f', 'now')";
  }
  // To the millisecond, `ms` milliseconds ago: an event that happened before it was written.
  std::string ms_ago(long long ms) const {
    if (ms <= 0) return now_ms();
    if (pg) return "(" + now_ms() + " - INTERVAL '" + std::to_string(ms) + " milliseconds')";
    return mysql ? "(UTC_TIMESTAMP(3) - INTERVAL " + std::to_string(ms * 1000) + " MICROSECOND)"
                 : "strftime('%Y-%m-%d %H:%M:%f', 'now', '-" + std::to_string(ms / 1000) + "." +
                       std::string(ms % 1000 < 100 ? (ms % 1000 < 10 ? "00" : "0") : "") + std::to_string(ms % 1000) +
                       " seconds')";
  }
  // Whole seconds from a DATETIME column (UTC) to now.
  std::string seconds_since(const std::string& column) const {
    if (pg) return seconds_between(column, "(statement_timestamp() AT TIME ZONE 'UTC')");
    return mysql ? "TIMESTAMPDIFF(SECOND, " + column + ", UTC_TIMESTAMP())"
                 : "CAST((julianday('now') - julianday(" + column + ")) * 86400 AS INTEGER)";
  }
  // Seconds from one DATETIME column (UTC) to another: a job's run time.
  std::string seconds_between(const std::string& from, const std::string& to) const {
    if (pg) return "CAST(TRUNC(EXTRACT(EPOCH FROM (" + to + " - " + from + "))) AS BIGINT)";
    return mysql ? "TIMESTAMPDIFF(SECOND, " + from + ", " + to + ")"
                 : "CAST(ROUND((julianday(" + to + ") - julianday(" + from + ")) * 86400) AS INTEGER)";
  }
  std::string now_plus(long long seconds) const {
    if (pg) return "(" + now() + " + INTERVAL '" + std::to_string(seconds) + " seconds')";
    return mysql ? "(UTC_TIMESTAMP() + INTERVAL " + std::to_string(seconds) + " SECOND)"
                 : "datetime('now', '" + std::string(seconds < 0 ? "" : "+") + std::to_string(seconds) + " seconds')";
  }
  // A DATETIME column as text "YYYY-MM-DD HH:MM:SS" (".mmm" with `ms`), as MySQL and SQLite
  // give it; PostgreSQL would leave out zero fractions.
  std::string as_text(const std::string& column, bool ms = false) const {
    if (!pg) return column;
    return "to_char(" + column + ", '" + (ms ? "YYYY-MM-DD HH24:MI:SS.MS" : "YYYY-MM-DD HH24:MI:SS") + "')";
  }
};

}  // namespace pdr
