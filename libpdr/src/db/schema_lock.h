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

#include <chrono>
#include <string>
#include <thread>

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
    const auto start = std::chrono::steady_clock::now();
    long long said = -1;
    // Said at once, then each minute, with who holds it: a wait that does not end is seen.
    const auto tell = [&](const std::string& holder) {
      const long long waited =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
      if (said >= 0 && waited - said < 60) return;
      spdlog::info("waiting for another process that changes the database schema{}{}", holder,
                   said < 0 ? std::string() : " (" + std::to_string(waited) + " s so far)");
      said = waited;
    };
    if (pg_) {
      // Tried every half second, not waited for in the server: a statement timeout would end a long
      // wait as a database failure, and a stop would wait for it.
      for (;;) {
        int got = 0;
        sql_ << "SELECT CASE WHEN pg_try_advisory_xact_lock(" + std::string(kPgKey) + ") THEN 1 ELSE 0 END",
            soci::into(got);
        if (got == 1) return Status::Ok();
        if (StopRetryingOn::stopping()) {
          return Status::Error(ErrorKind::kInterrupted, "interrupted while another process changed the schema");
        }
        tell(pg_holder());
        // Half a second idle in the transaction: below any idle_in_transaction_session_timeout
        // doctor accepts.
        for (int i = 0; i < 5 && !StopRetryingOn::stopping(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    }
    sql_ << "COMMIT";
    for (;;) {
      soci::indicator ind = soci::i_null;
      int got = 0;
      sql_ << "SELECT GET_LOCK(" + std::string(kName) + ", 5)", soci::into(got, ind);
      if (ind == soci::i_ok && got == 1) break;
      if (StopRetryingOn::stopping()) {
        return Status::Error(ErrorKind::kInterrupted, "interrupted while another process changed the schema");
      }
      tell(mysql_holder());
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

  // Who holds the lock, as the server knows its session: ": server session N of host:port" (""
  // when it cannot be read).
  std::string mysql_holder() {
    try {
      soci::indicator ind = soci::i_null;
      long long id = 0;
      sql_ << "SELECT IS_USED_LOCK(" + std::string(kName) + ")", soci::into(id, ind);
      if (ind != soci::i_ok) return {};
      std::string host;
      soci::indicator hind = soci::i_null;
      sql_ << "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = :i", soci::use(id), soci::into(host, hind);
      return ": server session " + std::to_string(id) + (hind == soci::i_ok ? " of " + host : std::string());
    } catch (...) {
      return {};
    }
  }

  // Under a savepoint: an error must not end the transaction the lock is taken in.
  std::string pg_holder() {
    try {
      sql_ << "SAVEPOINT pdr_lock_holder";
    } catch (...) {
      return {};
    }
    try {
      // The activity view is read once per transaction unless cleared: the holder may change.
      sql_ << "SELECT pg_stat_clear_snapshot()";
      soci::indicator ind = soci::i_null, aind = soci::i_null;
      long long pid = 0;
      std::string addr;
      // A bigint key is held as classid (high half) and objid (low half), objsubid 1.
      sql_ << "SELECT a.pid, host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid, (SELECT " +
                  std::string(kPgKey) +
                  "::bigint AS k) key WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND "
                  "l.classid::bigint = ((key.k >> 32) & 4294967295) AND l.objid::bigint = (key.k & 4294967295) AND "
                  "l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
          soci::into(pid, ind), soci::into(addr, aind);
      sql_ << "RELEASE SAVEPOINT pdr_lock_holder";
      if (ind != soci::i_ok) return {};
      return ": server process " + std::to_string(pid) + (aind == soci::i_ok ? " of " + addr : std::string());
    } catch (...) {
      try {
        sql_ << "ROLLBACK TO SAVEPOINT pdr_lock_holder";
      } catch (...) {}
      return {};
    }
  }

  static constexpr const char* kName = "SHA1(CONCAT('pdr_run schema ', DATABASE()))";
  // Never NULL (no lock at all), though connect refuses a session without a schema.
  static constexpr const char* kPgKey = "hashtext('pdr_run schema ' || COALESCE(current_schema(), ''))";
  soci::session& sql_;
  const bool active_;
  const bool pg_;
  bool held_ = false;
};

}  // namespace pdr
