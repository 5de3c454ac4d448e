// The job database schema: the predecessor's tables and columns with DOUBLE precision, plus
// real unique keys, indexes for status queries, job_files and schema_version. Tables are
// described column by column so a predecessor's database can be migrated additively.
#pragma once

#include <string>
#include <vector>

#include "db/dialect.h"

namespace pdr {

// 1: tables and indexes; 2: leases, retries and the monitoring views (schema_views).
// Any change to tables, columns, indexes or views needs a new version: a database at the current
// version with every table, index and view present is opened without being checked further.
constexpr int kSchemaVersion = 2;

struct ColumnDef {
  std::string name;
  std::string type;  // SQL type with NOT NULL/DEFAULT, as created in a new database
  // The type used when the column is added to an existing table (no NOT NULL without default).
  std::string added_type() const;
};

struct TableDef {
  std::string name;
  std::vector<ColumnDef> columns;  // after the id column
};

struct IndexDef {
  std::string name, table, columns;
  bool unique = false;
};

// Tables in dependency order and their indexes (unique keys included).
std::vector<TableDef> schema_tables();
std::vector<IndexDef> schema_indexes();

// The documented views for people who watch the database with SQL clients (README, "Watching").
// Their names and columns are stable; a new column is only ever added at the end.
struct ViewDef {
  std::string name, select;
};
std::vector<ViewDef> schema_views();

std::string create_table_sql(const TableDef& table, const Dialect& d);
std::string create_index_sql(const IndexDef& index, const Dialect& d);

}  // namespace pdr
