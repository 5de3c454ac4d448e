// Creating and upgrading the schema, and taking in rows the predecessor wrote.
#include "db/schema_lock.h"
#include "db/soci_job_store.h"

#include <algorithm>
#include <limits>

namespace pdr {

Status SociJobStore::open_schema() {
  // SQLite: write-ahead logging, so that readers (status, a colleague's watch) never wait for a
  // writer, nor it for them. Switched on here, where pdr_run's tables are made or found (after
  // the look of expect_before_writing), not at each connect; the file keeps the mode. Not in a
  // transaction: SQLite cannot change it there.
  if (!dialect_.server() && !db_->settings().read_only) {
    auto lease = db_->borrow("switch the database file to write-ahead logging");
    if (!lease.ok()) return lease.status();
    try {
      // A lock held by another process is waited for (database.busy_timeout) by the busy handler.
      std::string mode;
      lease->session() << "PRAGMA journal_mode=WAL", soci::into(mode);
      if (lower(mode) != "wal") {
        spdlog::warn(
            "{} stays in journal mode {} (write-ahead logging refused, e.g. on a network filesystem): "
            "readers such as status wait for writers",
            db_->settings().describe(), mode);
      }
    } catch (const std::exception& e) {
      lease->mark_broken();
      return db_error_status(e, "database error while trying to switch the database file to write-ahead logging");
    }
  }
  Status st = transaction("create or migrate the schema", [&](Session& sql) {
    migration_ = MigrationReport{};
    created_beside_.clear();
    // The version stored, 0 without one; an error when it is newer than this build.
    int stored = 0;
    bool versioned = false;
    auto read_version = [&]() -> Status {
      stored = 0;
      versioned = has_version_table(sql);
      if (!versioned) return Status::Ok();
      soci::indicator ind = soci::i_null;
      sql << "SELECT MAX(version) FROM schema_version", soci::into(stored, ind);
      if (ind != soci::i_ok) stored = 0;
      if (stored > kSchemaVersion) {
        return Status::Error(ErrorKind::kPermanent, "the database has schema version " + std::to_string(stored) +
                                                        ", newer than this pdr_run understands (" +
                                                        std::to_string(kSchemaVersion) + "); use a newer pdr_run");
      }
      return Status::Ok();
    };
    // Current: nothing to create or migrate (a start of many workers, or a quick status).
    if (Status v = read_version(); !v.ok()) return v;
    if (stored == kSchemaVersion && schema_complete(sql)) return Status::Ok();
    SchemaLock lock(sql, dialect_.mysql, dialect_.pg);
    if (lock.active()) {
      if (Status took = lock.take(); !took.ok()) return took;
      // Read again: the process that held the lock may have done it all.
      if (Status v = read_version(); !v.ok()) return v;
      if (stored == kSchemaVersion && schema_complete(sql)) return Status::Ok();
    }
    if (!versioned) {
      if (Status foreign = foreign_tables(sql); !foreign.ok()) return foreign;
      if (!table_exists(sql, "model_names")) {
        std::set<std::string> ours;
        for (const auto& t : schema_tables()) ours.insert(t.name);
        for (auto& name : table_names(sql)) {
          if (ours.count(name) == 0) created_beside_.push_back(std::move(name));
        }
      }
    }
    migration_.from_predecessor = !versioned && table_exists(sql, "pdr_model_jobs");
    // A current schema missing columns had them dropped by hand: upgrade_tables adds them back.
    if (stored == kSchemaVersion) migration_.columns_restored = absent_columns(sql);
    upgrade_tables(sql);
    for (const auto& index : obsolete_indexes()) drop_index(sql, index);
    if (stored < 4) {
      // Up to version 3 a job was unique by its parameter row; now by its name. Groups of one
      // name with more than one job (FLOAT rows of the predecessor) are classified again.
      unmark_name_clashes(sql);
      adopt_rows(sql, 0);
    }
    for (const auto& index : schema_indexes()) create_index(sql, index);
    if (versioned && stored < 9) replace_old_triggers(sql, stored);
    create_views(sql, stored < kSchemaVersion);
    if (stored < kSchemaVersion) sql << "INSERT INTO schema_version (version) VALUES (" << kSchemaVersion << ")";
    lock.commit_and_release();
    return Status::Ok();
  });
  for (const auto& key : migration_.unique_keys_skipped) {
    spdlog::warn("unique key on {} not created: the table holds duplicate rows from the predecessor", key);
  }
  if (st.ok() && !migration_.columns_restored.empty()) {
    std::string names;
    for (const auto& c : migration_.columns_restored) names += (names.empty() ? "" : ", ") + c;
    spdlog::warn("{} lacked column(s) of schema {} ({}), dropped by hand: added back, empty in the rows it has",
                 db_->settings().describe(), kSchemaVersion, names);
  }
  if (st.ok() && !created_beside_.empty()) {
    // Not refused: a server database may be shared by several applications on purpose. A file
    // named by mistake is noticed here, once: the next start finds pdr_run's tables.
    std::string names;
    for (std::size_t i = 0; i < created_beside_.size() && i < 3; ++i) names += (i ? ", " : "") + created_beside_[i];
    if (created_beside_.size() > 3) names += ", ...";
    spdlog::warn(
        "created pdr_run's tables in {} beside {} table(s) of another application ({}); if that database "
        "was named by mistake, remove pdr_run's tables from it and use another",
        db_->settings().describe(), created_beside_.size(), names);
  }
  if (st.ok() && migration_.from_predecessor) {
    spdlog::warn(
        "opened a database of the Python pdr_run: {} columns added, {} FLOAT columns widened to DOUBLE, "
        "{} duplicate parameter rows and {} duplicate jobs kept and marked; its rows and statuses are "
        "otherwise unchanged",
        migration_.columns_added, migration_.columns_widened, migration_.duplicate_parameters,
        migration_.duplicate_jobs);
  }
  return st;
}

// A table of one of pdr_run's names that has none of its columns is someone else's (a database
// that is neither pdr_run's nor the Python pdr_run's): refused, nothing is changed.
// A table of pdr_run's name is taken for pdr_run's (or the Python pdr_run's, whose tables are
// a subset of pdr_run's) when it has an id column and at least two of the table's columns (all
// of them when it has fewer): someone's users(id, email) is not. schema_version has a version
// column and nothing but an id besides (the first schema's had no id): another tool's of that
// name (Flyway's: installed_rank, version, script, ...) is not pdr_run's.
bool SociJobStore::shaped_like(Session& sql, const TableDef& table) {
  const auto existing = column_info(sql, table.name);
  if (table.name == "schema_version") {
    return existing.count("version") != 0 && existing.size() <= 1 + existing.count("id");
  }
  if (existing.count("id") == 0) return false;
  std::size_t shared = 0;
  for (const auto& c : table.columns) shared += existing.count(lower(c.name));
  return shared >= std::min<std::size_t>(2, table.columns.size());
}

std::vector<std::string> SociJobStore::table_names(Session& sql) {
  std::vector<std::string> names;
  std::string q;
  if (dialect_.pg) {
    // Without the tables of an extension (PostGIS's spatial_ref_sys): they are the server's.
    q = "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
        "current_schema() AND c.relkind IN ('r', 'p') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
        "'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') ORDER BY c.relname";
  } else if (dialect_.mysql) {
    q = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
        "TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME";
  } else {
    q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
  }
  soci::rowset<std::string> rs = (sql.prepare << q);
  for (const auto& n : rs) names.push_back(n);
  return names;
}

bool SociJobStore::has_version_table(Session& sql) {
  return table_exists(sql, "schema_version") && shaped_like(sql, TableDef{"schema_version", {}});
}

Status SociJobStore::foreign_tables(Session& sql) {
  for (const auto& table : schema_tables()) {
    if (dialect_.pg) {
      // A sequence, an index or a type of relation other than a table by that name (one
      // namespace on PostgreSQL): CREATE TABLE IF NOT EXISTS would pass it over.
      std::string kind;
      soci::indicator ind = soci::i_null;
      sql << "SELECT CASE relkind WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'm' "
             "THEN 'materialized view' WHEN 'c' THEN 'composite type' WHEN 't' THEN 'TOAST table' ELSE '' END FROM "
             "pg_class WHERE oid = to_regclass(:t)",
          soci::use(table.name), soci::into(kind, ind);
      if (ind == soci::i_ok && !kind.empty()) {
        return Status::Usage(db_->settings().describe() + " has a " + kind + " named " + table.name +
                             ", where pdr_run keeps a table; use another database");
      }
    }
    if (!table_exists(sql, table.name) || shaped_like(sql, table)) continue;
    return Status::Usage(db_->settings().describe() + " has a table " + table.name +
                         " that is neither pdr_run's nor the Python pdr_run's; use another database");
  }
  return Status::Ok();
}

// Count triggers of an earlier schema: MySQL's of schemas 3 and 4 added with INSERT ... SELECT
// (a table-level AUTO-INC lock per change), and up to schema 8 every server's added to one of
// 16 shards, which sessions shared (two transactions moving jobs between states in different
// orders could deadlock on them). MySQL's are dropped here and created anew with the counters
// recounted (ensure_counters); PostgreSQL's functions are replaced in this transaction, and the
// counts stay true (a shard only ever adds). An account that may not do so keeps them: they
// count correctly.
void SociJobStore::replace_old_triggers(Session& sql, int stored) {
  if (!dialect_.server()) return;
  const auto present = present_triggers(sql);
  if (present.empty()) return;
  if (dialect_.pg && !all_triggers(present)) return;  // ensure_counters creates them all
  if (dialect_.pg) sql << "SAVEPOINT pdr_old_triggers";
  try {
    if (dialect_.pg) {
      for (const auto& t : schema_triggers(dialect_)) sql << t.function;
    } else {
      for (const auto& t : schema_triggers(dialect_)) sql << drop_trigger_sql(t.name);
    }
  } catch (const soci::soci_error& e) {
    Status refused = db_error_status(e, "replacing the job count triggers refused");
    if (refused.kind() == ErrorKind::kTransient || is_connection_lost(refused.code())) throw;
    if (dialect_.pg) sql << "ROLLBACK TO SAVEPOINT pdr_old_triggers";
    spdlog::warn("the job count triggers of schema {} stay ({}): they count correctly, but can deadlock sessions",
                 stored, refused.message());
  }
}

// Creates the missing tables; adds missing columns, widens the predecessor's FLOAT columns
// (MySQL) and relaxes NOT NULL of earlier versions on columns its inserts leave out.
void SociJobStore::upgrade_tables(Session& sql) {
  for (const auto& table : schema_tables()) {
    if (!table_exists(sql, table.name)) {
      sql << create_table_sql(table, dialect_);
      continue;
    }
    if (dialect_.mysql && alter_mysql_table(sql, table)) continue;
    const auto existing = column_info(sql, table.name);
    std::vector<ColumnDef> relax;
    for (const auto& c : table.columns) {
      auto it = existing.find(lower(c.name));
      if (it == existing.end()) {
        add_column(sql, table.name, c);
        continue;
      }
      if (dialect_.mysql && it->second.type == "float") {
        sql << "ALTER TABLE " + table.name + " MODIFY COLUMN " + dialect_.quote(c.name) + " DOUBLE";
        ++migration_.columns_widened;
      }
      // NOT NULL of an earlier version on a column the predecessor's inserts leave out.
      if (it->second.not_null && c.type.find("NOT NULL") == std::string::npos) relax.push_back(c);
    }
    if (!relax.empty()) relax_columns(sql, table.name, relax);
  }
}

// MySQL: the columns to add, widen and relax of one table in a single ALTER TABLE, so a big
// table of the predecessor is copied once, not once per FLOAT column. False when another process
// added one of the columns meanwhile (1060): the caller then goes column by column.
bool SociJobStore::alter_mysql_table(Session& sql, const TableDef& table) {
  const auto existing = column_info(sql, table.name);
  std::string clauses;
  int added = 0, widened = 0;
  for (const auto& c : table.columns) {
    auto it = existing.find(lower(c.name));
    std::string clause;
    if (it == existing.end()) {
      clause = "ADD COLUMN " + dialect_.quote(c.name) + " " + c.added_type();
      ++added;
    } else if (it->second.type == "float") {
      clause = "MODIFY COLUMN " + dialect_.quote(c.name) + " DOUBLE";  // nullable, as the predecessor's
      ++widened;
    } else if (it->second.not_null && c.type.find("NOT NULL") == std::string::npos) {
      // NOT NULL of an earlier version on a column the predecessor's inserts leave out.
      clause = "MODIFY COLUMN " + dialect_.quote(c.name) + " " + c.type;
    }
    if (!clause.empty()) clauses += (clauses.empty() ? "" : ", ") + clause;
  }
  if (clauses.empty()) return true;
  try {
    sql << "ALTER TABLE " + table.name + " " + clauses;
  } catch (const soci::soci_error& e) {
    if (db_error_status(e, "").code() != 1060) throw;
    return false;
  }
  migration_.columns_added += added;
  migration_.columns_widened += widened;
  return true;
}

// (Re)creates the monitoring views when the schema `changed` or one of them is missing.
// pdr_progress_v reads the counters when every count trigger is present.
void SociJobStore::create_views(Session& sql, bool changed) {
  bool views_missing = false;
  const auto views = schema_views(all_triggers(present_triggers(sql)), dialect_.mysql);
  for (const auto& view : views) views_missing = views_missing || !view_exists(sql, view.name);
  if (changed || views_missing) {
    for (const auto& view : views) replace_view(sql, view);
  }
}

void SociJobStore::replace_view(Session& sql, const ViewDef& view) {
  if (dialect_.mysql) {
    sql << "CREATE OR REPLACE VIEW " + view.name + " AS " + view.select;
  } else {
    sql << "DROP VIEW IF EXISTS " + view.name;
    sql << "CREATE VIEW " + view.name + " AS " + view.select;
  }
}

// pdr_progress_v as the counters allow: after their triggers were created, or refused. An
// account that may not replace it keeps the view it has (correct either way while the
// triggers are present; doctor compares the counters with the rows).
void SociJobStore::replace_progress_view(Session& sql, bool counted) {
  for (const auto& view : schema_views(counted, dialect_.mysql)) {
    if (view.name != "pdr_progress_v") continue;
    try {
      replace_view(sql, view);
    } catch (const soci::soci_error& e) {
      Status refused = db_error_status(e, "pdr_progress_v not replaced");
      if (refused.kind() == ErrorKind::kTransient) throw;
      spdlog::warn("{}", refused.message());
    }
  }
}

// Lower-case column name -> its data type and nullability.
std::map<std::string, SociJobStore::ColumnInfo> SociJobStore::column_info(Session& sql, const std::string& table) {
  std::map<std::string, ColumnInfo> out;
  if (dialect_.pg) {
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT a.attname::text, format_type(a.atttypid, NULL), CASE WHEN a.attnotnull THEN 'NO' "
                        "ELSE 'YES' END FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.oid = "
                        "to_regclass(:t) AND c.relkind IN ('r', 'p', 'v', 'f') AND a.attnum > 0 AND NOT "
                        "a.attisdropped",
         soci::use(table));
    for (const auto& row : rs) {
      out[lower(row.get<std::string>(0))] = ColumnInfo{lower(row.get<std::string>(1)), row.get<std::string>(2) == "NO"};
    }
  } else if (dialect_.mysql) {
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
         soci::use(table));
    for (const auto& row : rs) {
      out[lower(row.get<std::string>(0))] = ColumnInfo{lower(row.get<std::string>(1)), row.get<std::string>(2) == "NO"};
    }
  } else {
    soci::rowset<soci::row> rs = (sql.prepare << "PRAGMA table_info(" + table + ")");
    for (const auto& row : rs) {
      out[lower(row.get<std::string>(1))] = ColumnInfo{lower(row.get<std::string>(2)), as_integer(row, 3) != 0};
    }
  }
  return out;
}

// Gives columns their current definition where an earlier one had NOT NULL. MySQL changes
// the column in place. SQLite cannot; dropping NOT NULL and changing a default do not touch
// the stored rows, and SQLite documents editing the table's definition text for exactly that
// (PRAGMA writable_schema, then a new schema_version): no row is copied, and the table keeps
// its foreign keys, indexes, triggers and the views that name it.
void SociJobStore::relax_columns(Session& sql, const std::string& table, const std::vector<ColumnDef>& columns) {
  if (dialect_.pg) {
    for (const auto& c : columns) {
      sql << "ALTER TABLE " + table + " ALTER COLUMN " + dialect_.quote(c.name) + " DROP NOT NULL";
    }
    return;
  }
  if (dialect_.mysql) {
    for (const auto& c : columns) {
      sql << "ALTER TABLE " + table + " MODIFY COLUMN " + dialect_.quote(c.name) + " " + c.type;
    }
    return;
  }
  std::string ddl;
  sql << "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t", soci::use(table), soci::into(ddl);
  const std::string before = ddl;
  for (const auto& c : columns) {
    // pdr_run wrote these columns itself (CREATE TABLE or ADD COLUMN), always double-quoted.
    const std::string quoted = dialect_.quote(c.name);
    const size_t at = ddl.find(quoted);
    if (at == std::string::npos) {
      throw std::runtime_error("cannot find column " + quoted + " in the definition of table " + table);
    }
    size_t end = at + quoted.size();
    for (int depth = 0; end < ddl.size(); ++end) {
      const char ch = ddl[end];
      if (ch == '(') ++depth;
      if (ch == ')' && depth-- == 0) break;
      if (ch == ',' && depth == 0) break;
    }
    ddl.replace(at, end - at, quoted + " " + c.type);
  }
  if (ddl == before) return;
  int version = 0;
  sql << "PRAGMA schema_version", soci::into(version);
  sql << "PRAGMA writable_schema = ON";
  try {
    sql << "UPDATE sqlite_master SET sql = :d WHERE type = 'table' AND name = :t", soci::use(ddl), soci::use(table);
    sql << "PRAGMA schema_version = " + std::to_string(version + 1);
  } catch (...) {
    sql << "PRAGMA writable_schema = OFF";
    throw;
  }
  sql << "PRAGMA writable_schema = OFF";
}

void SociJobStore::drop_index(Session& sql, const IndexDef& index) {
  if (!index_exists(sql, index)) return;
  sql << (dialect_.mysql ? "DROP INDEX " + index.name + " ON " + index.table : "DROP INDEX IF EXISTS " + index.name);
}

void SociJobStore::add_column(Session& sql, const std::string& table, const ColumnDef& c) {
  if (dialect_.pg) {  // DDL is transactional there: no other process adds it meanwhile
    sql << "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS " + dialect_.quote(c.name) + " " +
               dialect_.column_type(c.added_type());
    ++migration_.columns_added;
    return;
  }
  try {
    sql << "ALTER TABLE " + table + " ADD COLUMN " + dialect_.quote(c.name) + " " + c.added_type();
    ++migration_.columns_added;
  } catch (const soci::soci_error& e) {
    // Another process added it first (MySQL DDL is not transactional): that is the goal.
    if (db_error_status(e, "").code() != 1060) throw;
  }
}

void SociJobStore::create_index(Session& sql, const IndexDef& index) {
  if (index_exists(sql, index)) return;
  // Parameter rows and jobs get their keys in any case (duplicates are marked by the
  // migration); elsewhere duplicates left by the predecessor make a unique key impossible.
  const bool may_fail = index.unique && index.table != "kosmatau_parameters" && index.table != "pdr_model_jobs";
  if (!may_fail) {
    sql << create_index_sql(index, dialect_);
    return;
  }
  long long dups = 0;
  sql << "SELECT COUNT(*) FROM (SELECT 1 FROM " + index.table + " WHERE " + not_null(index.columns) + " GROUP BY " +
             index.columns + " HAVING COUNT(*) > 1) d",
      soci::into(dups);
  if (dups > 0) {
    migration_.unique_keys_skipped.push_back(index.table + " (" + index.columns + ")");
    return;
  }
  sql << create_index_sql(index, dialect_);
}

std::string SociJobStore::not_null(const std::string& columns) {
  std::string out, col;
  std::istringstream in(columns);
  while (std::getline(in, col, ',')) {
    col.erase(0, col.find_first_not_of(' '));
    out += (out.empty() ? "" : " AND ") + col + " IS NOT NULL";
  }
  return out;
}

// Takes in rows the predecessor wrote (of one model, or of all with `model` 0): a parameter
// row without an identity hash gets one (a repeat of a row the model has is kept and marked),
// and a job without duplicate_key is classified: of the rows of one (model, job name) the
// finished one (then skipped, then any; the newest first) is the job, the others are kept
// duplicates. A job of pdr_run that is not finished and not running gives way to a finished
// row of the predecessor (it finished the point meanwhile). Nothing else of those rows changes.
void SociJobStore::adopt_rows(Session& sql, long long model) {
  const std::string of_model = model > 0 ? " AND model_name_id = " + std::to_string(model) : "";
  adopt_parameter_rows(sql, of_model);
  std::map<std::pair<long long, std::string>, std::vector<AdoptedJob>> groups;  // (model, job name) -> rows
  {
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT id, COALESCE(model_name_id, 0), model_job_name, COALESCE(status, ''), "
                        "CASE WHEN token IS NULL THEN 0 ELSE 1 END FROM pdr_model_jobs WHERE duplicate_key IS NULL" +
                            of_model + " ORDER BY id");
    for (const auto& row : rs) {
      groups[{as_integer(row, 1), row.get<std::string>(2)}].push_back(
          AdoptedJob{as_integer(row, 0), row.get<std::string>(3), as_integer(row, 4) != 0});
    }
  }
  if (groups.empty()) return;
  // The job each name already has. A few names (the predecessor's writes into a database of
  // pdr_run) are looked up by the unique key; many (a whole database of the predecessor, read
  // before its keys exist) in one pass, not one scan per name.
  std::map<std::pair<long long, std::string>, AdoptedJob> current;
  const std::string current_sql =
      "SELECT id, COALESCE(model_name_id, 0), model_job_name, COALESCE(status, ''), CASE WHEN token IS NULL THEN 0 "
      "ELSE 1 END FROM pdr_model_jobs WHERE duplicate_key = 0 AND model_name_id IS NOT NULL";
  auto take_current = [&](const soci::row& row) {
    std::pair<long long, std::string> key{as_integer(row, 1), row.get<std::string>(2)};
    if (groups.count(key) != 0) {
      current[key] = AdoptedJob{as_integer(row, 0), row.get<std::string>(3), as_integer(row, 4) != 0};
    }
  };
  if (groups.size() > 100) {
    soci::rowset<soci::row> rs = (sql.prepare << current_sql + of_model);
    for (const auto& row : rs) take_current(row);
  } else {
    for (const auto& [key, jobs] : groups) {
      if (key.first == 0) continue;
      soci::rowset<soci::row> rs = (sql.prepare << current_sql + " AND model_name_id = :m AND model_job_name = :n",
                                    soci::use(key.first), soci::use(key.second));
      for (const auto& row : rs) take_current(row);
    }
  }
  AdoptedIds ids;
  for (const auto& [key, jobs] : groups) {
    auto it = current.find(key);
    classify_jobs(key.first, jobs, it == current.end() ? nullptr : &it->second, ids);
  }
  // Conditional, so a row another process classified meanwhile keeps its class.
  auto mark = [&](const std::vector<long long>& rows, const std::string& set, const std::string& unless) {
    for (size_t at = 0; at < rows.size(); at += 500) {
      std::string list;
      for (size_t i = at; i < std::min(rows.size(), at + 500); ++i) {
        list += (list.empty() ? "" : ", ") + std::to_string(rows[i]);
      }
      sql << "UPDATE pdr_model_jobs SET duplicate_key = " + set + " WHERE id IN (" + list + ") AND " + unless;
    }
  };
  mark(ids.gave_way, "id", "duplicate_key = 0");
  mark(ids.kept, "0", "duplicate_key IS NULL");
  mark(ids.duplicates, "id", "duplicate_key IS NULL");
}

// Parameter rows without an identity hash get one; a repeat of a row the model has is marked.
void SociJobStore::adopt_parameter_rows(Session& sql, const std::string& of_model) {
  struct Row {
    long long id, model;
  };
  std::vector<Row> params;
  {
    soci::rowset<soci::row> rs = (sql.prepare << "SELECT id, COALESCE(model_name_id, 0) FROM kosmatau_parameters "
                                                 "WHERE parameter_hash IS NULL" +
                                                     of_model + " ORDER BY id");
    for (const auto& row : rs) params.push_back(Row{as_integer(row, 0), as_integer(row, 1)});
  }
  std::map<long long, std::unordered_set<std::string>> hashes;  // per model, loaded once
  std::map<long long, ParameterValues> batch;                   // read 500 rows at a time
  for (size_t i = 0; i < params.size(); ++i) {
    const Row& p = params[i];
    if (batch.count(p.id) == 0) {
      std::vector<long long> next;
      for (size_t j = i; j < std::min(params.size(), i + 500); ++j) next.push_back(params[j].id);
      batch = parameter_rows(sql, next);
    }
    auto known = hashes.find(p.model);
    if (known == hashes.end()) {
      known = hashes.emplace(p.model, std::unordered_set<std::string>{}).first;
      soci::rowset<std::string> rs =
          (sql.prepare << "SELECT parameter_hash FROM kosmatau_parameters WHERE parameter_hash IS NOT NULL AND " +
                              std::string(p.model > 0 ? "model_name_id = " + std::to_string(p.model)
                                                      : "model_name_id IS NULL"));
      for (const auto& h : rs) known->second.insert(h);
    }
    ParameterValues values = std::move(batch[p.id]);
    for (const auto& spec : parameter_specs()) {
      if (spec.role == ParamRole::Comment) values.erase(spec.name);
    }
    std::string hash = parameter_hash(values);
    if (!known->second.insert(hash).second) {
      hash = sha256_hex(hash + ":duplicate:" + std::to_string(p.id));
      ++migration_.duplicate_parameters;
    }
    sql << "UPDATE kosmatau_parameters SET parameter_hash = :h WHERE id = :id AND parameter_hash IS NULL",
        soci::use(hash), soci::use(p.id);
  }
}

namespace {

// The predecessor skipped a point whose output file was there, also when its own failed run had
// left it (status 'problem' or 'exception_runtime', set after the program ran). Of one job name's
// rows without a finished one, a skipped row after such a failure (`failed_before`: the lowest id
// of those failures) is no finish: the failed row is the job, and runs again. A skip before any
// such failure, or beside failures that never ran the program, stays done.
int rank(const SociJobStore::AdoptedJob& j, long long failed_before) {
  const JobState s = state_of_word(j.status);
  return s == JobState::Finished ? 2 : s == JobState::Skipped ? (failed_before < j.id ? -1 : 1) : 0;
}

// Finished, then skipped, then any; the newest first. A row without a status (none of the
// predecessor's inserts leaves one) is never the job.
bool better(const SociJobStore::AdoptedJob& a, const SociJobStore::AdoptedJob& b, long long failed_before) {
  if (a.status.empty() != b.status.empty()) return b.status.empty();
  const int ra = rank(a, failed_before), rb = rank(b, failed_before);
  return ra > rb || (ra == rb && a.id > b.id);
}

}  // namespace

// The unclassified rows of one (model, job name): the best is the job unless pdr_run already has
// one (`current`) that it does not give way to; the others are kept as duplicates.
void SociJobStore::classify_jobs(long long model, const std::vector<AdoptedJob>& jobs, const AdoptedJob* current,
                                 AdoptedIds& ids) {
  bool finished = false;
  long long failed_before = std::numeric_limits<long long>::max();
  for (const auto& j : jobs) {
    finished = finished || state_of_word(j.status) == JobState::Finished;
    if (j.status == "problem" || j.status == "exception_runtime") failed_before = std::min(failed_before, j.id);
  }
  if (finished) failed_before = std::numeric_limits<long long>::max();
  const AdoptedJob* best = nullptr;
  for (const auto& j : jobs) {
    if (best == nullptr || better(j, *best, failed_before)) best = &j;
  }
  const AdoptedJob* keep = best;
  if (current != nullptr) {
    const JobState now = state_of_word(current->status);
    const bool gives_way = rank(*best, failed_before) == 2 && now != JobState::Finished && now != JobState::Skipped &&
                           now != JobState::Running;
    if (gives_way) {
      ids.gave_way.push_back(current->id);
      ++migration_.duplicate_jobs;
    } else {
      keep = nullptr;
    }
  } else if (model == 0 || best->status.empty()) {
    keep = nullptr;  // a job of no model, or of no state, is never run
  }
  for (const auto& j : jobs) {
    if (&j == keep) {
      ids.kept.push_back(j.id);
    } else {
      ids.duplicates.push_back(j.id);
      ++migration_.duplicate_jobs;
    }
  }
}

// Groups of one (model, job name) with more than one job: their jobs are classified again.
void SociJobStore::unmark_name_clashes(Session& sql) {
  std::vector<std::pair<long long, std::string>> clashes;
  {
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT COALESCE(model_name_id, 0), model_job_name FROM pdr_model_jobs WHERE "
                        "duplicate_key = 0 GROUP BY COALESCE(model_name_id, 0), model_job_name HAVING COUNT(*) > 1");
    for (const auto& row : rs) clashes.emplace_back(as_integer(row, 0), row.get<std::string>(1));
  }
  for (const auto& [model, name] : clashes) {
    sql << "UPDATE pdr_model_jobs SET duplicate_key = NULL WHERE COALESCE(model_name_id, 0) = :m AND "
           "model_job_name = :n AND duplicate_key = 0",
        soci::use(model), soci::use(name);
  }
}

}  // namespace pdr
