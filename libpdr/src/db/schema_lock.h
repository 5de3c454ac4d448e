// Schema changes of MySQL, one process at a time.
//
// MySQL's DDL commits as it goes, so processes opening an old database at once would each
// migrate it (and report what the others did), and each create the count triggers and count
// the jobs over the others' counts. A named lock of the server, held by its session and
// dropped with it, lets one do it; the others wait, then find it done. PostgreSQL's DDL is
// transactional, but two transactions that both find the triggers or the count missing would
// still both make them (one fails on the other's): there an advisory lock of the transaction
// does the same, released by its COMMIT or ROLLBACK. SQLite's writers queue anyway.
#pragma once

#include <soci/soci.h>
#include <spdlog/spdlog.h>

#include <string>

#include "db/transactor.h"
#include "pdr/status.h"

namespace pdr {

class SchemaLock {
 public:
  SchemaLock(soci::session& sql, bool mysql, bool pg = false) : sql_(sql), active_(mysql || pg), pg_(pg) {}
  ~SchemaLock() { release(); }
  SchemaLock(const SchemaLock&) = delete;
  SchemaLock& operator=(const SchemaLock&) = delete;

  bool active() const { return active_; }

  // Ends the transaction (what it read is read again after the wait), waits for the lock in
  // steps, so a stop is not held up, and begins a new one; an error when asked to stop.
  Status take() {
    if (pg_) {  // waits in the server; a signal ends the statement (SignalEndsDatabaseWaits)
      sql_ << "SELECT pg_advisory_xact_lock(hashtext('pdr_run schema ' || current_schema()))";
      return Status::Ok();
    }
    sql_ << "COMMIT";
    for (bool said = false;;) {
      soci::indicator ind = soci::i_null;
      int got = 0;
      sql_ << "SELECT GET_LOCK(" + std::string(kName) + ", 5)", soci::into(got, ind);
      if (ind == soci::i_ok && got == 1) break;
      if (StopRetryingOn::stopping()) {
        return Status::Error(ErrorKind::kInterrupted, "interrupted while another process changed the schema");
      }
      if (!said) spdlog::info("waiting for another process that changes the database schema");
      said = true;
    }
    held_ = true;
    sql_ << "START TRANSACTION";
    return Status::Ok();
  }

  // Commits what was done before the lock is given up, so the next holder reads it.
  void commit_and_release() {
    if (!held_) return;
    sql_ << "COMMIT";
    release();
    sql_ << "START TRANSACTION";
  }

 private:
  void release() {
    if (!held_) return;
    held_ = false;
    try {
      sql_ << "DO RELEASE_LOCK(" + std::string(kName) + ")";
    } catch (...) {  // a lost session has dropped it already
    }
  }

  static constexpr const char* kName = "SHA1(CONCAT('pdr_run schema ', DATABASE()))";
  soci::session& sql_;
  const bool active_;
  const bool pg_;
  bool held_ = false;
};

}  // namespace pdr
