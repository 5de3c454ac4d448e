// Turns a database exception into a Status, classified by error code (never by message words).
#pragma once

#include <exception>
#include <string>

#include "pdr/status.h"

namespace pdr {

// `context` says what was being done ("cannot open database X"); the message of the exception
// is appended with anything that looks like a password removed.
Status db_error_status(const std::exception& e, const std::string& context);

}  // namespace pdr
