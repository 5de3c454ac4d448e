#include "db/db_error.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>

#include <regex>

namespace pdr {

Status db_error_status(const std::exception& e, const std::string& context) {
  std::string what = e.what();
  // SOCI messages may echo the connection string; mask any password in it.
  what = std::regex_replace(what, std::regex(R"((password|pass|pwd)\s*=\s*("[^"]*"|\S+))",
                                             std::regex::icase), "$1=***");
  if (auto nl = what.find('\n'); nl != std::string::npos) what = what.substr(0, nl);
  ErrorKind kind = ErrorKind::kPermanent;
  if (const auto* s = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    const int code = s->result() & 0xff;  // primary result code
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) kind = ErrorKind::kTransient;
  } else if (const auto* se = dynamic_cast<const soci::soci_error*>(&e)) {
    if (se->get_error_category() == soci::soci_error::connection_error) kind = ErrorKind::kTransient;
  }
  return Status::Error(kind, context + ": " + what);
}

}  // namespace pdr
