// What the database has: tables, views, indexes, the job count triggers, the server.
#include <cctype>
#include <map>
#include <set>

#include "db/schema_lock.h"
#include "db/soci_job_store.h"

namespace pdr {

std::string SociJobStore::drop_trigger_sql(const std::string& name) const {
  return "DROP TRIGGER IF EXISTS " + name + (dialect_.pg ? " ON pdr_model_jobs" : "");
}

// The names of the job count triggers present in the database.
std::set<std::string> SociJobStore::present_triggers(Session& sql) {
  std::set<std::string> names;
  if (dialect_.pg) {
    soci::rowset<std::string> rs =
        (sql.prepare << "SELECT tgname::text FROM pg_trigger WHERE tgrelid = to_regclass('pdr_model_jobs') AND NOT "
                        "tgisinternal");
    for (const auto& n : rs) names.insert(n);
  } else if (dialect_.mysql) {
    soci::rowset<std::string> rs = (sql.prepare << "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE "
                                                   "TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = "
                                                   "'pdr_model_jobs'");
    for (const auto& n : rs) names.insert(n);
  } else {
    soci::rowset<std::string> rs =
        (sql.prepare << "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'pdr_model_jobs'");
    for (const auto& n : rs) names.insert(n);
  }
  return names;
}

bool SociJobStore::counted(Session& sql) {
  if (!table_exists(sql, "pdr_job_counts")) return false;
  long long n = 0;
  sql << "SELECT COUNT(*) FROM pdr_job_counts WHERE model_name_id = 0 AND status = '" + std::string(kCountedMark) + "'",
      soci::into(n);
  return n > 0;
}

bool SociJobStore::all_triggers(const std::set<std::string>& present) const {
  for (const auto& t : schema_triggers(dialect_)) {
    if (present.count(t.name) == 0) return false;
  }
  return true;
}

// Creates the job count triggers when check_server found them missing and then counts the
// rows once. A server that refuses CREATE TRIGGER (no TRIGGER privilege, or binary logging
// without log_bin_trust_function_creators) leaves pdr_run counting rows for `status` and the
// progress line: correct, only slower on big grids (doctor says so).
Status SociJobStore::ensure_counters() {
  bool created = false, counted_now = false;
  Status st = transaction("create the job count triggers", [&](Session& sql) {
    counters_note_.clear();
    created = counted_now = false;
    SchemaLock lock(sql, dialect_.mysql, dialect_.pg);
    if (lock.active()) {
      if (Status took = lock.take(); !took.ok()) return took;
    }
    const auto present = present_triggers(sql);
    if (all_triggers(present)) {
      // Another process created them and counted meanwhile; or one created them and ended
      // before it counted: count now.
      if (!counted(sql)) {
        for (const auto& q : recount_sql(dialect_)) sql << q;
        spdlog::info("the job counters had no count on record: counted the jobs");
        lock.commit_and_release();
      }
      counters_live_ = true;
      return Status::Ok();
    }
    // PostgreSQL ends a transaction at its first error: a savepoint keeps it usable.
    if (dialect_.pg) sql << "SAVEPOINT pdr_triggers";
    try {
      for (const auto& t : schema_triggers(dialect_)) {
        if (present.count(t.name) != 0) continue;
        if (!t.function.empty()) sql << t.function;
        sql << t.sql;
      }
      created = true;
    } catch (const soci::soci_error& e) {
      Status refused = db_error_status(e, "CREATE TRIGGER refused");
      if (refused.kind() == ErrorKind::kTransient || is_connection_lost(refused.code())) throw;
      counters_note_ = refused.message();
      if (dialect_.pg) sql << "ROLLBACK TO SAVEPOINT pdr_triggers";
      // All or none: a partial set would count some changes and miss others.
      for (const auto& t : schema_triggers(dialect_)) {
        if (present.count(t.name) == 0) sql << drop_trigger_sql(t.name);
      }
      replace_progress_view(sql, false);
    }
    if (created) {
      // Counted with them: in their transaction (SQLite, PostgreSQL), or under the lock in a
      // transaction of its own (MySQL, whose CREATE TRIGGER commits at once and leaves the
      // session in autocommit): another process finds both or waits, and triggers without the
      // mark of a count are counted by the next process.
      if (dialect_.mysql) sql << "START TRANSACTION";
      for (const auto& q : recount_sql(dialect_)) sql << q;
      counted_now = true;
      lock.commit_and_release();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (!counters_note_.empty()) {
    spdlog::warn("job counters not kept by triggers ({}): status counts the rows instead", counters_note_);
    return Status::Ok();
  }
  if (!created) return Status::Ok();
  Status recounted = counted_now ? Status::Ok() : recount();
  if (recounted.ok()) {
    recounted = transaction("let pdr_progress_v read the counters", [&](Session& sql) {
      replace_progress_view(sql, true);
      return Status::Ok();
    });
  }
  counters_live_ = recounted.ok();
  return recounted;
}

// Rewrites the counters from the rows (after the triggers were created, or to repair them).
Status SociJobStore::recount() {
  return transaction("count the jobs of every model", [&](Session& sql) {
    for (const auto& q : recount_sql(dialect_)) sql << q;
    return Status::Ok();
  });
}

void SociJobStore::fold_counts(long long model_id) {
  if (!dialect_.server() || !counters_live_ || !dialect_.skip_locked) return;
  long long folded = 0;
  const std::string m = std::to_string(model_id);
  Status st = transaction("fold the job counters of the sessions", [&](Session& sql) {
    folded = 0;
    long long active = 0;
    sql << "SELECT COALESCE(SUM(n), 0) FROM pdr_job_counts WHERE model_name_id = " + m +
               " AND status IN ('pending', 'running')",
        soci::into(active);
    if (active != 0) return Status::Ok();
    // Through the unique key, as the triggers lock a counter row: a session that takes one of
    // these rows meanwhile waits for this short transaction, never the other way round.
    const std::string others = std::string("FROM pdr_job_counts") +
                               (dialect_.mysql ? " FORCE INDEX (uq_job_counts)" : "") + " WHERE model_name_id = " + m +
                               " AND shard <> 0 AND status IS NOT NULL FOR UPDATE SKIP LOCKED";
    if (dialect_.pg) {
      soci::rowset<long long> rs =
          (sql.prepare << "WITH gone AS (DELETE FROM pdr_job_counts WHERE id IN (SELECT id " + others +
                              ") RETURNING model_name_id, status, n), added AS (INSERT INTO pdr_job_counts AS c "
                              "(model_name_id, shard, status, n) SELECT model_name_id, 0, status, SUM(n) FROM gone "
                              "GROUP BY model_name_id, status ORDER BY model_name_id, status ON CONFLICT "
                              "(model_name_id, shard, status) DO UPDATE SET n = c.n + excluded.n) "
                              "SELECT COUNT(*) FROM gone");
      for (long long n : rs) folded = n;
      return Status::Ok();
    }
    std::map<std::pair<long long, std::string>, long long> sums;
    std::vector<long long> ids;
    soci::rowset<soci::row> rs = (sql.prepare << "SELECT id, model_name_id, status, n " + others);
    for (const auto& row : rs) {
      ids.push_back(as_integer(row, 0));
      sums[{as_integer(row, 1), row.get<std::string>(2)}] += as_integer(row, 3);
    }
    for (size_t i = 0; i < ids.size(); i += 500) {
      std::string list;
      for (size_t k = i; k < std::min(ids.size(), i + 500); ++k) list += (k == i ? "" : ",") + std::to_string(ids[k]);
      sql << "DELETE FROM pdr_job_counts WHERE id IN (" + list + ")";
    }
    for (const auto& [key, n] : sums) {  // in (model, state) order
      long long model = key.first, sum = n;
      std::string state = key.second;
      sql << "INSERT INTO pdr_job_counts (model_name_id, shard, status, n) VALUES (:m, 0, :s, :n) "
             "ON DUPLICATE KEY UPDATE n = n + VALUES(n)",
          soci::use(model), soci::use(state), soci::use(sum);
    }
    folded = static_cast<long long>(ids.size());
    return Status::Ok();
  });
  if (!st.ok()) {
    spdlog::debug("job counters not folded: {}", st.message());
  } else if (folded > 0) {
    spdlog::debug("folded {} job counter rows into shard 0", folded);
  }
}

// Reads the server's version and limits; on a server without SKIP LOCKED, claims fall back to
// plain row locks (correct, but claimers of several processes wait for each other).
Status SociJobStore::check_server() {
  auto info = server_info();
  if (!info.ok()) return info.status();
  dialect_.skip_locked = info->skip_locked;
  counters_live_ = info->job_counters;
  info_at_open_ = info.value();
  if (!info->skip_locked) {
    spdlog::warn(
        "database server {} cannot SELECT ... FOR UPDATE SKIP LOCKED (MariaDB >= 10.6 or MySQL >= 8.0 "
        "can): claims of several processes wait for each other",
        info->version);
  }
  return Status::Ok();
}

// A PostgreSQL time setting as current_setting shows it ("0", "250ms", "10s", "5min", "2h", "1d")
// in milliseconds; 0 for anything else (doctor then has no timeout to warn of).
long long SociJobStore::pg_setting_ms(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12) return 0;
  const long long n = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit.empty() || unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "min") return n * 60 * 1000;
  if (unit == "h") return n * 3600 * 1000;
  if (unit == "d") return n * 86400 * 1000;
  return 0;
}

Result<ServerInfo> SociJobStore::server_info_at_open() {
  if (!info_at_open_) return server_info();
  ServerInfo info = *info_at_open_;
  info.job_counters = counters_live_;  // ensure_counters may have made them since
  return info;
}

Result<std::string> SociJobStore::try_writes() {
  if (!dialect_.pg && !dialect_.mysql) return std::string();
  Status refused;
  std::string doubt;
  bool tried = false;
  const Status kRolledBack = Status::Usage("rolled back");
  Status st = transaction("try the writes of a run (rolled back)", [&](Session& sql) {
    // Once: a connection lost meanwhile is a finding, not a reason to wait the retry deadline.
    if (tried) return kRolledBack;
    tried = true;
    std::string statement;
    try {
      // A lock someone holds (FLUSH TABLES WITH READ LOCK, a backup, a DDL) is named in seconds.
      statement = dialect_.pg ? "SET LOCAL lock_timeout = '5s'" : "SET SESSION lock_wait_timeout = 5";
      sql << statement;
      if (table_exists(sql, "pdr_model_jobs")) {
        // What a run does: inserts into every table, updates four, deletes from four (the
        // outputs of a job queued again, the counters it folds).
        for (const auto& table : schema_tables()) {
          // schema_version is written by an upgrade only (the schema line says when one is due).
          if (table.name == "schema_version" || !table_exists(sql, table.name)) continue;
          statement = "INSERT INTO " + table.name + " SELECT * FROM " + table.name + " WHERE 1 = 0";
          sql << statement;
        }
        for (const char* table : {"pdr_model_jobs", "pdr_runs", "kosmatau_parameters", "pdr_job_counts"}) {
          if (!table_exists(sql, table)) continue;
          statement = std::string("UPDATE ") + table + " SET id = id WHERE 1 = 0";
          sql << statement;
        }
        for (const char* table : {"job_files", "hdf_files", "json_files", "pdr_job_counts"}) {
          if (!table_exists(sql, table)) continue;
          statement = std::string("DELETE FROM ") + table + " WHERE 1 = 0";
          sql << statement;
        }
        if (dialect_.pg) {
          // An INSERT of no row draws no id: the sequences behind the ids need USAGE of their own.
          for (const auto& table : schema_tables()) {
            if (table.name == "schema_version" || !table_exists(sql, table.name)) continue;
            std::string sequence;
            soci::indicator ind = soci::i_null;
            statement = "SELECT pg_get_serial_sequence of " + table.name;
            sql << "SELECT pg_get_serial_sequence(CAST(a.attrelid AS regclass)::text, a.attname) FROM pg_attribute "
                   "a WHERE a.attrelid = to_regclass(:t) AND a.attname = 'id'",
                soci::use(table.name), soci::into(sequence, ind);
            if (!sql.got_data() || ind != soci::i_ok) continue;
            int usable = 1;
            sql << "SELECT CASE WHEN has_sequence_privilege(:s, 'USAGE') THEN 1 ELSE 0 END", soci::use(sequence),
                soci::into(usable);
            if (usable == 0) {
              refused = Status::Usage("a run could not write: " + db_->settings().username + " may not use sequence " +
                                      sequence + " that numbers the rows of " + table.name +
                                      "; GRANT USAGE ON SEQUENCE " + sequence + " TO " + db_->settings().username);
              break;
            }
          }
        }
      } else if (dialect_.pg) {
        // Nothing to write to yet: a read-only transaction (default_transaction_read_only, a
        // standby) refuses the first run's CREATE TABLE (may_create_tables checks the schema).
        std::string ro;
        statement = "SELECT current_setting('transaction_read_only')";
        sql << statement, soci::into(ro);
        if (ro == "on") {
          refused = Status::Usage(
              "the session's transactions are read-only (transaction_read_only = on: "
              "default_transaction_read_only or a standby server); the first run cannot create its tables");
        }
      } else {
        int server_ro = 0, session_ro = 0;
        statement = "SELECT @@read_only";
        sql << "SELECT CAST(@@read_only AS SIGNED)", soci::into(server_ro);
        try {
          sql << "SELECT CAST(@@SESSION.transaction_read_only AS SIGNED)", soci::into(session_ro);
        } catch (const soci::soci_error&) {  // MariaDB before 11.1 knows it as tx_read_only
          sql << "SELECT CAST(@@SESSION.tx_read_only AS SIGNED)", soci::into(session_ro);
        }
        long long creates = 0;
        statement = "the account's CREATE privilege";
        sql << "SELECT (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'CREATE') + "
               "(SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE PRIVILEGE_TYPE = 'CREATE' AND "
               "DATABASE() LIKE TABLE_SCHEMA)",
            soci::into(creates);
        if (session_ro != 0) {
          refused = Status::Usage(
              "the session's transactions are read-only (transaction_read_only / tx_read_only = ON); the first run "
              "cannot create its tables");
        } else if (server_ro != 0) {
          doubt =
              "the server is read-only (read_only = ON); the first run cannot create its tables unless its "
              "account may write anyway (READ_ONLY ADMIN or SUPER)";
        } else if (creates == 0) {
          doubt = "the account " + db_->settings().username + " has no CREATE privilege on database " +
                  db_->settings().database +
                  " that information_schema shows (a role may give it); the first run creates its tables";
        }
      }
    } catch (const std::exception& e) {
      refused = db_error_status(e, "a run could not write (" + statement + ")");
      if (refused.code() == 1205 || refused.code() == pg_error_code("55P03")) {
        refused = Status::Error(refused.kind(),
                                refused.message() + "; a lock another session holds (" +
                                    (dialect_.pg ? "LOCK TABLE, a schema change, VACUUM FULL"
                                                 : "FLUSH TABLES WITH READ LOCK, a backup, a schema change") +
                                    ") kept it waiting for 5 s",
                                refused.code());
      }
    }
    if (dialect_.mysql) {
      try {
        sql << "SET SESSION lock_wait_timeout = DEFAULT";
      } catch (const std::exception&) {}
    }
    return kRolledBack;
  });
  if (!refused.ok()) return refused;
  if (!st.ok() && st.message() != kRolledBack.message()) return st;
  return doubt;
}

Result<ServerInfo> SociJobStore::server_info() {
  ServerInfo info;
  Status st = read("read the server version", [&](Session& sql) {
    info = ServerInfo{};
    if (dialect_.pg) {
      // current_setting, not the pg_settings view, which builds every setting of the server (ms
      // in a new session); a timeout comes as "0", "500ms", "10s", "5min"... and
      // idle_session_timeout is new in PostgreSQL 14 (NULL before).
      std::string v, idle, idle_tx;
      soci::indicator idle_ind = soci::i_ok, idle_tx_ind = soci::i_ok;
      sql << "SELECT current_setting('server_version'), CAST(current_setting('server_version_num') AS BIGINT), "
             "CAST(current_setting('max_connections') AS BIGINT), current_setting('idle_session_timeout', true), "
             "current_setting('idle_in_transaction_session_timeout', true)",
          soci::into(v), soci::into(info.version_number), soci::into(info.max_connections), soci::into(idle, idle_ind),
          soci::into(idle_tx, idle_tx_ind);
      info.idle_session_timeout_ms = idle_ind == soci::i_ok ? pg_setting_ms(idle) : 0;
      info.idle_in_transaction_timeout_ms = idle_tx_ind == soci::i_ok ? pg_setting_ms(idle_tx) : 0;
      info.version = "PostgreSQL " + v;
      info.skip_locked = true;  // since 9.5; doctor asks for 12
    } else if (dialect_.mysql) {
      sql << "SELECT VERSION()", soci::into(info.version);
      sql << "SELECT CAST(@@max_connections AS SIGNED), CAST(@@wait_timeout AS SIGNED)",
          soci::into(info.max_connections), soci::into(info.wait_timeout);
      info.skip_locked = supports_skip_locked(info.version);
    } else {
      std::string v;
      sql << "SELECT sqlite_version()", soci::into(v);
      info.version = "SQLite " + v;
    }
    info.job_counters = all_triggers(present_triggers(sql)) && counted(sql);
    info.schema_version = 0;
    if (has_version_table(sql)) {  // someone else's schema_version: 0, told by foreign_tables
      soci::indicator ind = soci::i_null;
      sql << "SELECT MAX(version) FROM schema_version", soci::into(info.schema_version, ind);
      if (ind != soci::i_ok) info.schema_version = 0;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return info;
}

Result<std::vector<std::string>> SociJobStore::integrity_problems() {
  std::vector<std::string> problems;
  if (dialect_.server()) return problems;
  auto lease = db_->borrow("check the integrity of the database file");
  if (!lease.ok()) return lease.status();
  // Not through the transactor: a damaged page is what this looks for, not an error to retry.
  try {
    soci::rowset<std::string> rows = (lease->session().prepare << "PRAGMA quick_check");
    for (const auto& row : rows) {
      if (row != "ok") problems.push_back(row);
    }
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  return problems;
}

bool SociJobStore::supports_skip_locked(const std::string& version) {
  int major = 0, minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return true;
  if (version.find("MariaDB") != std::string::npos) return major > 10 || (major == 10 && minor >= 6);
  return major >= 8;
}

bool SociJobStore::table_exists(Session& sql, const std::string& table) {
  long long n = 0;
  if (dialect_.pg) {
    // The catalog, not information_schema, whose views cost ms to plan in each new session
    // (status opens one): the relations information_schema.tables lists, in the one schema of
    // the session's search_path (DbManager::pin_schema), as the statements find them.
    sql << "SELECT COUNT(*) FROM pg_class WHERE oid = to_regclass(:t) AND relkind IN ('r', 'p', 'v', 'f')",
        soci::use(table), soci::into(n);
  } else if (dialect_.mysql) {
    sql << "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
        soci::use(table), soci::into(n);
  } else {
    sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :t", soci::use(table), soci::into(n);
  }
  return n > 0;
}

bool SociJobStore::view_exists(Session& sql, const std::string& view) {
  long long n = 0;
  if (dialect_.pg) {
    sql << "SELECT COUNT(*) FROM pg_class WHERE oid = to_regclass(:t) AND relkind = 'v'", soci::use(view),
        soci::into(n);
  } else if (dialect_.mysql) {
    sql << "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
        soci::use(view), soci::into(n);
  } else {
    sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND name = :t", soci::use(view), soci::into(n);
  }
  return n > 0;
}

bool SociJobStore::index_exists(Session& sql, const IndexDef& index) {
  long long n = 0;
  if (dialect_.pg) {
    sql << "SELECT COUNT(*) FROM pg_class WHERE oid = to_regclass(:i) AND relkind IN ('i', 'I')", soci::use(index.name),
        soci::into(n);
  } else if (dialect_.mysql) {
    sql << "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
           "TABLE_NAME = :t AND INDEX_NAME = :i",
        soci::use(index.table), soci::use(index.name), soci::into(n);
  } else {
    sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = :i", soci::use(index.name),
        soci::into(n);
  }
  return n > 0;
}

// Every table, index and view of this version is there (a skipped unique key is not, so its
// warning comes again at every start).
bool SociJobStore::schema_complete(Session& sql) {
  std::set<std::string> names;
  if (dialect_.pg) {
    // Each name resolved through the search_path, as the statements resolve it.
    std::string list;
    for (const auto& t : schema_tables()) list += (list.empty() ? "'" : ", '") + t.name + "'";
    for (const auto& i : schema_indexes()) list += ", '" + i.name + "'";
    for (const auto& v : schema_views(false, false)) list += ", '" + v.name + "'";
    soci::rowset<std::string> rs =
        (sql.prepare << "SELECT n FROM unnest(ARRAY[" + list + "]) n WHERE to_regclass(n) IS NOT NULL");
    for (const auto& n : rs) names.insert(n);
  } else if (dialect_.mysql) {
    soci::rowset<std::string> rs =
        (sql.prepare << "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                        "UNION SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()");
    for (const auto& n : rs) names.insert(n);
  } else {
    soci::rowset<std::string> rs = (sql.prepare << "SELECT name FROM sqlite_master");
    for (const auto& n : rs) names.insert(n);
  }
  for (const auto& t : schema_tables()) {
    if (names.count(t.name) == 0) return false;
  }
  for (const auto& i : schema_indexes()) {
    if (names.count(i.name) == 0) return false;
  }
  for (const auto& v : schema_views(false, dialect_.mysql)) {
    if (names.count(v.name) == 0) return false;
  }
  return absent_columns(sql).empty();
}

std::vector<std::string> SociJobStore::absent_columns(Session& sql) {
  // (table, column) of pdr_run's tables (PostgreSQL: in the session's one schema); another
  // application's tables are not read (a virtual table whose module is not loaded would fail).
  std::string names;
  for (const auto& t : schema_tables()) names += (names.empty() ? "'" : ", '") + t.name + "'";
  std::string query;
  if (dialect_.pg) {
    query =
        "SELECT c.relname::text, a.attname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE "
        "c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind IN ('r', "
        "'p') AND c.relname IN (" +
        names + ") AND a.attnum > 0 AND NOT a.attisdropped";
  } else if (dialect_.mysql) {
    query =
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
        "TABLE_NAME IN (" +
        names + ")";
  } else {
    query =
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND "
        "m.name IN (" +
        names + ")";
  }
  std::map<std::string, std::set<std::string>> present;
  soci::rowset<soci::row> rs = (sql.prepare << query);
  for (const auto& row : rs) present[lower(row.get<std::string>(0))].insert(lower(row.get<std::string>(1)));
  std::vector<std::string> absent;
  for (const auto& table : schema_tables()) {
    auto it = present.find(table.name);
    if (it == present.end()) continue;  // a missing table is schema_complete's
    for (const auto& c : table.columns) {
      if (it->second.count(lower(c.name)) == 0) absent.push_back(table.name + "." + c.name);
    }
  }
  return absent;
}

Result<std::vector<std::string>> SociJobStore::missing_columns() {
  std::vector<std::string> absent;
  Status st = read("look for missing columns", [&](Session& sql) {
    absent = absent_columns(sql);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return absent;
}

}  // namespace pdr
