// The job database schema: the predecessor's tables and columns with DOUBLE precision, plus
// real unique keys, indexes for status queries, job_files and schema_version. Tables are
// described column by column so a predecessor's database can be migrated additively.
#pragma once

#include <string>
#include <vector>

#include "db/dialect.h"
#include "pdr/job_reports.h"  // kSchemaVersion

namespace pdr {

struct ColumnDef {
  std::string name;
  std::string type;  // SQL type with NOT NULL/DEFAULT, as created in a new database
  // The type used when the column is added to an existing table (no NOT NULL without default).
  std::string added_type() const;
};

struct TableDef {
  std::string name;
  std::vector<ColumnDef> columns;  // after the id column
  // SQLite: ids from the rowid (the next after the largest), without AUTOINCREMENT's extra
  // write of sqlite_sequence per row; an id may come again only after the rows above it were
  // deleted (the job history, where ids only order a job's events).
  bool rowid_ids = false;
};

struct IndexDef {
  std::string name, table, columns;
  bool unique = false;
};

// Tables in dependency order and their indexes (unique keys included).
std::vector<TableDef> schema_tables();
std::vector<IndexDef> schema_indexes();
// Indexes of earlier versions to drop (only name and table are meaningful).
std::vector<IndexDef> obsolete_indexes();

// The documented views for people who watch the database with SQL clients (README, "Watching").
// Their names and columns are stable; a new column is only ever added at the end.
struct ViewDef {
  std::string name, select;
};
// `counted`: the job count triggers keep pdr_job_counts (pdr_progress_v reads them).
std::vector<ViewDef> schema_views(bool counted, bool mysql);

// Triggers on pdr_model_jobs that keep pdr_job_counts equal to the rows (duplicate_key = 0) per
// model and state, in the transaction of every change, whoever makes it (pdr_run, a script, an
// SQL client), so `status` reads a handful of rows instead of counting a million. On a server
// each session adds to rows of its own (count_shard_sql: its connection id or backend pid, unique
// among the live sessions), so no two transactions ever wait for each other on a counter, nor
// deadlock there whatever states they move jobs between; a reader sums the shards. Shard 0 holds
// a recount's counts and a settled model's rows of every session (SociJobStore::fold_counts).
// SQLite has one writer at a time and one shard, 0.
std::string count_shard_sql(const Dialect& d);
struct TriggerDef {
  std::string name, sql;
  std::string function;  // PostgreSQL: the function it executes (CREATE OR REPLACE), made first
};
std::vector<TriggerDef> schema_triggers(const Dialect& d);
// Rewrites the counters of every model from the rows (inside a transaction).
// The status of the row of pdr_job_counts (model 0) that recount_sql writes last: the counters
// were counted from the rows while the triggers were there. Triggers without it (a process that
// created them and ended before it counted) count from a wrong start.
constexpr const char* kCountedMark = "(counted)";
std::vector<std::string> recount_sql(const Dialect& d);

std::string create_table_sql(const TableDef& table, const Dialect& d);
std::string create_index_sql(const IndexDef& index, const Dialect& d);

}  // namespace pdr
