#include "db/transactor.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>

namespace pdr {

Transactor::Transactor(DbManager* db) : db_(db), retry_(db->settings().retry) {
  const auto& s = db->settings();
  const bool server = s.server();
  // SQLite takes the write lock at BEGIN IMMEDIATE, so a busy database answers at once, not in
  // the middle of a body; a read needs no write lock.
  begin_write_ = server ? "START TRANSACTION" : "BEGIN IMMEDIATE";
  begin_read_ = server ? "START TRANSACTION" : "BEGIN";
  // A statement waits at most read_timeout or write_timeout; one second more is a call that
  // blocked (connects and pings are checked by the manager). A failed attempt stops at its
  // first failing statement, so one attempt is one bounded wait.
  slow_call_ = server ? std::max(s.read_timeout, s.write_timeout) + 1.0 : 0.0;
}

bool Transactor::disk_full(int code) const {
  const int primary = code & 0xff;
  if (db_->settings().server() || (primary != kSqliteFull && primary != kSqliteIoErr)) return false;
  if (primary == kSqliteFull) return true;
  // An I/O error is a full disk when its filesystem has no block left for this user.
  struct statvfs fs {};
  const std::string dir = std::filesystem::path(db_->settings().path).parent_path().string();
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &fs) != 0) return false;
  return (::geteuid() == 0 ? fs.f_bfree : fs.f_bavail) == 0;  // root may use the reserved blocks
}

// Runs a read-only check on fresh sessions until it answers or the deadline passes.
Result<bool> Transactor::read_back(const LandedCheck& landed, std::chrono::steady_clock::time_point deadline) {
  double delay = retry_.initial_delay;
  for (;;) {
    Status last;
    {
      auto lease = db_->borrow("read back an unknown outcome");
      if (lease.ok()) {
        try {
          return landed(lease->session());
        } catch (const std::exception& e) {
          last = db_error_status(e, "database error while reading back an unknown outcome");
          if (is_connection_lost(last.code())) lease->mark_broken();
        }
      } else {
        last = lease.status();
      }
    }
    if (last.kind() != ErrorKind::kTransient) return last;
    if (std::chrono::steady_clock::now() + std::chrono::duration<double>(delay) > deadline ||
        !StopRetryingOn::pause(std::chrono::duration<double>(delay))) {
      return Status::Error(ErrorKind::kOutcomeUnknown, "database unusable; outcome unknown: " + last.message(),
                           last.code());
    }
    delay = std::min(delay * 2, retry_.max_delay);
  }
}

}  // namespace pdr
