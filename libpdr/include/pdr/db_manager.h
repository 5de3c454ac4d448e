// The database manager: a bounded pool of SOCI sessions for one database. Each process owns
// exactly one (process_db_manager), created lazily on first use under std::call_once; workers
// borrow a session for one short transaction and give it back before anything slow happens.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pdr/pool_stats.h"
#include "pdr/settings.h"
#include "pdr/status.h"

namespace soci {
class session;
}

namespace pdr {

class Transactor;
class SociJobStore;

// The sessions a running process holds at most, whatever its workers: the runner loop's (claims,
// with the claimed jobs' parameters, and outcomes), the heartbeat's and the progress line's.
// Workers never borrow one (doctor sizes max_connections with this).
constexpr int kSessionsPerProcess = 3;

// The connection pool of a process. Only the job store (libpdr/src/db/) works with its sessions:
// everything else borrows nothing but a lease to count or hold.
class DbManager {
 public:
  explicit DbManager(DatabaseSettings settings);
  ~DbManager();
  DbManager(const DbManager&) = delete;
  DbManager& operator=(const DbManager&) = delete;

  // A borrowed session, returned to the pool when the lease ends. A lease whose transaction
  // failed should be marked broken so the session is closed instead of reused.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    void mark_broken() { broken_ = true; }

   private:
    friend class DbManager;
    friend class Transactor;
    friend class SociJobStore;
    soci::session& session() { return *session_; }
    Lease(DbManager* owner, std::unique_ptr<soci::session> s, std::chrono::steady_clock::time_point expires,
          long long id);
    DbManager* owner_;
    std::unique_ptr<soci::session> session_;
    std::chrono::steady_clock::time_point expires_;
    long long id_ = 0;
    bool broken_ = false;
  };

  // Waits up to pool_timeout for a session; a connect failure comes back as an error value.
  // `purpose` (e.g. "record job 12") is named if the session is held past leak_threshold.
  Result<Lease> borrow(const std::string& purpose = "");
  // The first connection of a command: a server that refuses or cannot be found is tried again
  // for up to database.start_deadline seconds, the first failure logged with its host and port,
  // then it is one error naming them. Errors that no retry can mend (credentials) come at once.
  Status reach();
  PoolStats stats() const;
  const DatabaseSettings& settings() const { return settings_; }
  // Trouble: a call of this process could not reach the database, or took long (an outage, a
  // server restart, a lock held past the leases), `began` when that call started. Other
  // processes could not renew their leases meanwhile either: the reaper gives them time to.
  void note_trouble(std::chrono::steady_clock::time_point began);
  // The start of this process: as if it came out of trouble whose beginning it cannot know (an
  // outage may have ended a moment before).
  void note_start();
  // Trouble that begins again less than `seconds` after the last ended (a lease: owners had no
  // whole lease to renew in between) is the same trouble: it keeps its beginning.
  void set_trouble_window(double seconds) { trouble_window_ns_ = static_cast<long long>(std::max(0.0, seconds) * 1e9); }
  // A call answered in time: trouble, if any, ends now.
  void note_answer() {
    if (in_trouble_.load(std::memory_order_relaxed) && in_trouble_.exchange(false)) trouble_end_ns_ = now_ns();
  }
  // Seconds since trouble last ended (0 while in it; a large number when there was none).
  double seconds_since_trouble() const;
  // Seconds since the latest trouble began; a negative number when its beginning is unknown.
  double seconds_since_trouble_began() const;
  // Ends the server calls of this process that have been waiting longer than `seconds` (a
  // frozen server holds a read for database.read_timeout): their sockets are shut down, so the
  // call fails at once as a lost connection. For a process that stops (see grid_run.cpp).
  void cut_calls_older_than(double seconds);

 private:
  struct Idle {
    std::unique_ptr<soci::session> session;
    std::chrono::steady_clock::time_point expires, last_used;
  };
  struct Borrowed {
    std::chrono::steady_clock::time_point since;
    std::string purpose;
    bool reported = false;
    soci::session* session = nullptr;  // lent out: a call on it may be waiting for the server
  };
  void give_back(std::unique_ptr<soci::session> s, std::chrono::steady_clock::time_point expires, long long id,
                 bool broken);
  void report_leaks();  // with mu_ held
  std::optional<Idle> take_idle(std::unique_lock<std::mutex>& lock);
  std::chrono::steady_clock::time_point new_expiry();
  Result<std::unique_ptr<soci::session>> connect();
  Status pin_schema(soci::session& s, const std::string& where) const;

  DatabaseSettings settings_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<Idle> idle_;
  int in_use_ = 0;
  long long next_lease_id_ = 0;
  std::map<long long, Borrowed> borrowed_;
  std::map<soci::session*, std::chrono::steady_clock::time_point> pinging_;  // idle ones being pinged
  PoolStats counters_;
  static long long now_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
  static constexpr long long kNever = std::numeric_limits<long long>::min();
  std::atomic<bool> in_trouble_{false};
  std::atomic<long long> trouble_begin_ns_{kNever};  // kNever: unknown (the process start)
  std::atomic<long long> trouble_end_ns_{kNever};    // kNever: no trouble yet
  std::atomic<long long> trouble_window_ns_{30'000'000'000LL};
  std::vector<std::string> sidecars_made_;  // -wal/-shm a read-only SQLite session may make (mu_)
  // SQLite sessions opened as immutable (no locks, no look at the -wal): used once, never pooled,
  // so a later borrower sees what a run that began meanwhile wrote (mu_).
  std::set<const soci::session*> single_use_;
};

// Logs "database: '<what>' blocked for N s" when a network call took longer than `limit`
// seconds (its timeout plus one): with timeouts set that never happens, so it marks a bug.
void warn_if_blocked(const std::string& what, std::chrono::steady_clock::time_point since, double limit);

// The one manager of this process. The first call creates it from `settings`; a later call
// with different settings is an error rather than being silently ignored.
Result<DbManager*> process_db_manager(const DatabaseSettings& settings);

// The database backends compiled in, with the library versions this process uses (--version).
std::string database_backends();

}  // namespace pdr
