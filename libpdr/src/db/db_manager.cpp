#include "pdr/db_manager.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "db/db_error.h"

namespace pdr {

DbManager::DbManager(DatabaseSettings settings) : settings_(std::move(settings)) {}
DbManager::~DbManager() = default;

DbManager::Lease::Lease(DbManager* owner, std::unique_ptr<soci::session> s,
                        std::chrono::steady_clock::time_point born)
    : owner_(owner), session_(std::move(s)), born_(born) {}

DbManager::Lease::Lease(Lease&& other) noexcept
    : owner_(other.owner_), session_(std::move(other.session_)), born_(other.born_), broken_(other.broken_) {
  other.owner_ = nullptr;
}

DbManager::Lease::~Lease() {
  if (owner_ != nullptr && session_) owner_->give_back(std::move(session_), born_, broken_);
}

Result<std::unique_ptr<soci::session>> DbManager::connect() {
  try {
    auto s = std::make_unique<soci::session>();
    // The busy timeout lets concurrent writers queue instead of failing at once.
    s->open(*soci::factory_sqlite3(),
            "db=\"" + settings_.path + "\" timeout=" + std::to_string(settings_.busy_timeout));
    *s << "PRAGMA journal_mode=WAL";
    *s << "PRAGMA synchronous=NORMAL";
    *s << "PRAGMA foreign_keys=ON";
    return s;
  } catch (const std::exception& e) {
    return db_error_status(e, "cannot open database " + settings_.path);
  }
}

Result<DbManager::Lease> DbManager::borrow() {
  using clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = clock::now() + std::chrono::seconds(settings_.pool_timeout);
  const auto max_age = std::chrono::seconds(settings_.pool_recycle);
  for (;;) {
    while (!idle_.empty()) {
      Idle item = std::move(idle_.back());
      idle_.pop_back();
      const auto now = clock::now();
      if (now - item.born > max_age) {
        ++counters_.replaced;
        continue;  // too old: dropped, a fresh one is made below
      }
      if (settings_.pool_pre_ping && now - item.last_used > std::chrono::seconds(1)) {
        ++counters_.validated;
        if (!item.session->is_connected()) {
          ++counters_.replaced;
          continue;
        }
      }
      ++in_use_;
      return Lease(this, std::move(item.session), item.born);
    }
    if (in_use_ < settings_.pool_size) {
      ++in_use_;
      lock.unlock();
      auto s = connect();
      lock.lock();
      if (!s.ok()) {
        --in_use_;
        ++counters_.failed;
        freed_.notify_one();
        return s.status();
      }
      ++counters_.created;
      return Lease(this, std::move(s.value()), clock::now());
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        in_use_ >= settings_.pool_size) {
      return Status::Error(ErrorKind::kTransient, "no database session free after " +
                                                      std::to_string(settings_.pool_timeout) +
                                                      " s (database.pool_size " +
                                                      std::to_string(settings_.pool_size) + ")");
    }
  }
}

void DbManager::give_back(std::unique_ptr<soci::session> s, std::chrono::steady_clock::time_point born,
                          bool broken) {
  std::lock_guard<std::mutex> lock(mu_);
  --in_use_;
  if (broken) {
    ++counters_.replaced;
  } else {
    idle_.push_back(Idle{std::move(s), born, std::chrono::steady_clock::now()});
  }
  freed_.notify_one();
}

PoolStats DbManager::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PoolStats st = counters_;
  st.in_use = in_use_;
  st.idle = static_cast<int>(idle_.size());
  st.size = st.in_use + st.idle;
  return st;
}

namespace {
bool same_database(const DatabaseSettings& a, const DatabaseSettings& b) {
  return a.type == b.type && a.path == b.path && a.host == b.host && a.port == b.port &&
         a.database == b.database && a.username == b.username;
}
}  // namespace

Result<DbManager*> process_db_manager(const DatabaseSettings& settings) {
  static std::once_flag once;
  static std::unique_ptr<DbManager> manager;
  std::call_once(once, [&] { manager = std::make_unique<DbManager>(settings); });
  if (!same_database(manager->settings(), settings)) {
    return Status::Error(ErrorKind::kPermanent,
                         "this process already uses another database; one process has one manager");
  }
  return manager.get();
}

}  // namespace pdr
