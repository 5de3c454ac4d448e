// The job database schema (the predecessor's tables and columns, DOUBLE precision, real unique
// keys, indexes for status queries) and its version.
#pragma once

#include <string>
#include <vector>

#include "db/dialect.h"

namespace pdr {

constexpr int kSchemaVersion = 1;

// CREATE TABLE/INDEX IF NOT EXISTS statements, in dependency order. Column names are quoted
// so mixed-case names such as Xhtry keep their case.
std::vector<std::string> schema_statements(const Dialect& d);

}  // namespace pdr
