// The one way pdr_run talks to its database: `run` does a body in one transaction on a session
// borrowed from the process's pool and commits.
//
// Transient errors (classified by code) roll back and retry the whole body with capped
// exponential backoff and jitter, bounded by database.retry.max_attempts and
// database.retry.deadline; each retry is logged once with its attempt number and error code. A
// connection lost during COMMIT leaves the outcome unknown: `landed` reads the row back (on a new
// connection) before anything is replayed; without it the body must be harmless to replay (every
// body of the job store is conditional or INSERT IGNORE). A read-only body runs in a deferred
// transaction, so on SQLite it takes no write lock.
#pragma once

#include <soci/soci.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "db/db_error.h"
#include "pdr/db_manager.h"
#include "pdr/status.h"

namespace pdr {

// While one is alive, the waits between retries of the transactions of its thread end as soon
// as `stop` answers true, and the transaction fails with ErrorKind::kInterrupted. A registration
// uses it, so a signal is not held up by a database that went away. The threads of a process
// working its grid share one process-wide stop instead (set_process_wide), which answers true
// only a grace period after the signal, so their outcomes are still recorded after a stop was
// asked for, yet a stop during an outage is not held up by database.retry.deadline.
class StopRetryingOn {
 public:
  explicit StopRetryingOn(const std::function<bool()>& stop) : outer_(current_) {
    if (stop) current_ = &stop;
  }
  ~StopRetryingOn() { current_ = outer_; }
  StopRetryingOn(const StopRetryingOn&) = delete;
  StopRetryingOn& operator=(const StopRetryingOn&) = delete;

  // Whether the StopRetryingOn of this thread, if any, or the process-wide stop asks to stop.
  static bool stopping() { return (current_ != nullptr && (*current_)()) || process_stopping(); }

  // For every thread of the process (nullptr: none). The caller keeps `stop` alive until it
  // sets nullptr again, after the threads that use the database have ended.
  static void set_process_wide(const std::function<bool()>* stop) { process_.store(stop); }
  // Whether the process-wide stop asks to stop.
  static bool process_stopping() {
    const std::function<bool()>* all = process_.load();
    return all != nullptr && (*all)();
  }

  // Sleeps `wait`, or less when a stop is asked for; false then.
  static bool pause(std::chrono::duration<double> wait) {
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + std::chrono::duration_cast<clock::duration>(wait);
    for (;;) {
      if (stopping()) return false;
      const clock::duration left = until - clock::now();
      if (left <= clock::duration::zero()) return true;
      std::this_thread::sleep_for(std::min<clock::duration>(left, std::chrono::milliseconds(50)));
    }
  }

 private:
  const std::function<bool()>* outer_;
  static inline thread_local const std::function<bool()>* current_ = nullptr;
  static inline std::atomic<const std::function<bool()>*> process_{nullptr};
};

class Transactor {
 public:
  // Whether a transaction whose COMMIT outcome is unknown did land; read on a fresh session.
  using LandedCheck = std::function<bool(soci::session&)>;
  enum class Access { kWrite, kRead };

  explicit Transactor(DbManager* db);

  template <class Body>
  Status run(const std::string& what, Body&& body, const LandedCheck& landed = nullptr,
             Access access = Access::kWrite) {
    using clock = std::chrono::steady_clock;
    thread_local std::mt19937 rng(std::random_device{}());
    const auto start = clock::now();
    const auto deadline =
        start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(retry_.deadline));
    double delay = retry_.initial_delay;
    Status last;
    for (int attempt = 1;; ++attempt) {
      auto attempt_start = clock::now();
      bool committing = false;
      {
        auto lease = db_->borrow(what);  // its connects and pings are bounded and checked there
        // Timed from here once a session is in hand (a wait for a free one is no trouble of the
        // database's); a borrow that failed was trouble from its start (a ping or a connect
        // that blocked for its timeout: the outage began then, not when it gave up).
        if (lease.ok()) attempt_start = clock::now();
        if (!lease.ok()) {
          last = lease.status();
        } else {
          soci::session& sql = lease->session();
          try {
            sql << (access == Access::kWrite ? begin_write_ : begin_read_);
            Status st = body(sql);
            if (!st.ok()) {
              sql << "ROLLBACK";
              return st;
            }
            committing = true;
            sql << "COMMIT";
            warn_if_blocked(what, attempt_start, slow_call_);
            // An answer after seconds: the database did not answer anyone for that long.
            if (clock::now() - attempt_start > std::chrono::seconds(kSlowAnswerSeconds)) {
              db_->note_trouble(attempt_start);
            }
            db_->note_answer();
            return Status::Ok();
          } catch (const std::exception& e) {
            last = db_error_status(e, "database error while trying to " + what);
            if (is_connection_lost(last.code())) {
              lease->mark_broken();
            } else {
              try {
                sql << "ROLLBACK";
              } catch (...) {
                lease->mark_broken();
              }
            }
          }
        }
      }
      warn_if_blocked(what, attempt_start, slow_call_);
      // The server lost, full or refusing, or (SQLite) the file locked, full or failing past
      // its timeouts: other processes could not renew their leases meanwhile either. Not a
      // deadlock (two transactions, answered at once) or this process's own pool being busy.
      if (is_connection_lost(last.code()) ||
          (last.kind() == ErrorKind::kTransient && last.code() != 0 && !is_deadlock(last.code()))) {
        db_->note_trouble(attempt_start);
      }
      if (committing && is_connection_lost(last.code())) {
        spdlog::warn("database: connection lost during COMMIT of '{}' ({}): outcome unknown, reading it back", what,
                     error_code_text(last.code()));
        if (landed) {
          auto check = read_back(landed, deadline);
          if (!check.ok()) return check.status();
          if (check.value()) return Status::Ok();
        }
      }
      if (last.kind() != ErrorKind::kTransient) return last;
      const auto wait = std::chrono::duration<double>(std::min(delay, retry_.max_delay) *
                                                      std::uniform_real_distribution<double>(0.5, 1.0)(rng));
      if (attempt >= retry_.max_attempts || clock::now() + wait > deadline) {
        const double spent = std::chrono::duration<double>(clock::now() - start).count();
        return Status::Error(ErrorKind::kTransient,
                             "database unusable: gave up after " + std::to_string(attempt) + " attempts in " +
                                 std::to_string(static_cast<int>(spent + 0.5)) + " s: " + last.message() +
                                 file_named(last.code()),
                             last.code());
      }
      spdlog::warn(
          "database: '{}' failed (attempt {}, {}){}; retrying in {} ms", what, attempt, error_code_text(last.code()),
          attempt == 1 && !db_->settings().server() && disk_full(last.code()) ? file_named(last.code()) : std::string(),
          static_cast<long long>(wait.count() * 1000));
      if (!StopRetryingOn::pause(wait)) {
        return Status::Error(ErrorKind::kInterrupted, "interrupted while retrying '" + what + "': " + last.message(),
                             last.code());
      }
      delay *= 2;
    }
  }

 private:
  // Runs a read-only check on fresh sessions until it answers or the deadline passes.
  Result<bool> read_back(const LandedCheck& landed, std::chrono::steady_clock::time_point deadline);

  // A SQLite error names no file: the one it came from, and what a full disk asks for.
  // A full disk shows as SQLITE_FULL, or as SQLITE_IOERR when the -wal or -shm file cannot be made.
  std::string file_named(int code) const {
    if (db_->settings().server() || code == 0) return "";
    return disk_full(code) ? "; the filesystem holding " + db_->settings().path + " is full: free space there"
                           : "; " + db_->settings().describe();
  }
  bool disk_full(int code) const;

  static constexpr int kSqliteFull = 13;   // SQLITE_FULL
  static constexpr int kSqliteIoErr = 10;  // SQLITE_IOERR
  static constexpr int kSlowAnswerSeconds = 5;
  DbManager* db_;
  DatabaseSettings::Retry retry_;
  const char* begin_write_;
  const char* begin_read_;
  double slow_call_;  // seconds after which a statement blocked (its timeout plus one)
};

}  // namespace pdr
