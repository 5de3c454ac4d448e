// Turns a database exception into a Status, classified by error code (never by message words):
// MySQL client/server numbers and SQLite result codes.
#pragma once

#include <exception>
#include <string>

#include "pdr/status.h"

namespace pdr {

// `context` says what was being done ("cannot open database X"); the exception's message is
// appended with anything that looks like a password removed. Status::code() carries the
// MySQL error number or the SQLite result code.
Status db_error_status(const std::exception& e, const std::string& context);

// True for MySQL errors after which the connection is gone (the session must be discarded).
bool is_connection_lost(int mysql_code);

}  // namespace pdr
