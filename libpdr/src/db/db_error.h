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

// True for errors after which the connection is gone (the session must be discarded).
bool is_connection_lost(int code);
// The server refuses more connections (MySQL 1040/1203, PostgreSQL 53300).
bool is_too_many_connections(int code);
// Two transactions in each other's way, one rolled back at once (MySQL 1213/1467, PostgreSQL
// 40P01/40001): the database answers.
bool is_deadlock(int code);

// PostgreSQL's SQLSTATEs are five characters; Status::code() carries them packed above
// kPgErrorBase (MySQL numbers and SQLite result codes stay below). "" (no SQLSTATE: the client
// library lost the server) has a code of its own.
constexpr int kPgErrorBase = 1 << 30;
int pg_error_code(const std::string& sqlstate);
std::string pg_sqlstate(int code);  // "" when `code` is not PostgreSQL's
// "error 1213" (MySQL, SQLite) or "SQLSTATE 40P01" (PostgreSQL), for log lines.
std::string error_code_text(int code);
// A failed PostgreSQL connect, classified by the SQLSTATE the server sent ("" when none came).
Status pg_connect_error(const std::string& sqlstate, const std::string& context, const std::string& message);

}  // namespace pdr
