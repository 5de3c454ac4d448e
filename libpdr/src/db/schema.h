// The job database schema (the predecessor's tables and columns, DOUBLE precision, real unique
// keys, indexes for status queries) and its version.
#pragma once

#include <string>
#include <vector>

namespace pdr {

constexpr int kSchemaVersion = 1;

// CREATE TABLE/INDEX IF NOT EXISTS statements, in dependency order.
std::vector<std::string> schema_statements();

// A column name quoted for SQL (mixed-case names such as Xhtry keep their case).
std::string quote_ident(const std::string& name);

}  // namespace pdr
