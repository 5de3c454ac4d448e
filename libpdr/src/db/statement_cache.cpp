#include "db/statement_cache.h"

#include <soci/postgresql/soci-postgresql.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace pdr {

namespace {

// A session's kept statements, by text. The texts are few (a finish's shape, a claim of 1 to
// `workers` rows); past kMaxKept something builds texts from values, and they are dropped.
constexpr std::size_t kMaxKept = 64;
constexpr std::size_t kMaxKeptText = 16384;  // a longer text is run once
using Kept = std::unordered_map<std::string, std::unique_ptr<ReusableStatement>>;

// Never destroyed: the process's DbManager (a static too) closes its sessions at exit, after
// statics made later than it are gone.
std::mutex& registry_mutex() {
  static auto* mu = new std::mutex;
  return *mu;
}

std::unordered_map<soci::session*, std::unique_ptr<Kept>>& registry() {
  static auto* all = new std::unordered_map<soci::session*, std::unique_ptr<Kept>>;
  return *all;
}

// Off for the rest of the process once a PostgreSQL server connection lost a statement it had
// prepared (SQLSTATE 26000): a proxy hands each transaction another connection.
std::atomic<bool> keeping{true};

}  // namespace

template <typename T>
void ReusableStatement::put(std::deque<T>& values, Kind kind, const T& v, soci::indicator ind) {
  if (!prepared_) {
    values.push_back(v);
    indicators_.push_back(ind);
    slots_.push_back(Slot{kind, values.size() - 1});
    st_.exchange(soci::use(values.back(), indicators_.back()));
    return;
  }
  if (next_ >= slots_.size() || slots_[next_].kind != kind) {
    throw std::logic_error("a kept statement given other values than it was bound to");
  }
  values[slots_[next_].index] = v;
  indicators_[next_] = ind;
  ++next_;
}

void ReusableStatement::use(const std::string& v, soci::indicator ind) { put(texts_, Kind::kText, v, ind); }
void ReusableStatement::use(int v, soci::indicator ind) { put(ints_, Kind::kInt, v, ind); }
void ReusableStatement::use(long long v, soci::indicator ind) { put(longs_, Kind::kLong, v, ind); }
void ReusableStatement::use(double v, soci::indicator ind) { put(reals_, Kind::kReal, v, ind); }

void ReusableStatement::compile(const std::string& text) {
  if (!prepared_) {
    st_.alloc();
    st_.prepare(text);
    st_.define_and_bind();
    prepared_ = true;
  } else if (next_ != slots_.size()) {
    throw std::logic_error("a kept statement given fewer values than it was bound to");
  }
  next_ = 0;
}

void ReusableStatement::execute(const std::string& text) {
  compile(text);
  st_.execute(true);
}

void ReusableStatement::query(const std::string& text) {
  if (!prepared_) st_.exchange(soci::into(row_));
  compile(text);
  st_.execute(false);
}

ReusableStatement& reusable_statement(soci::session& sql, const std::string& text,
                                      std::unique_ptr<ReusableStatement>& fresh, bool may_keep) {
  Kept dropped;  // finalized after the lock (on PostgreSQL each is a round trip)
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto session = registry().find(&sql);
  if (!may_keep || !keeping.load() || session == registry().end() || text.size() > kMaxKeptText) {
    fresh = std::make_unique<ReusableStatement>(sql);
    return *fresh;
  }
  Kept& kept = *session->second;
  auto it = kept.find(text);
  if (it != kept.end()) {
    it->second->restart();
    return *it->second;
  }
  if (kept.size() >= kMaxKept) dropped.swap(kept);  // the session is alive: finalized on it
  return *kept.emplace(text, std::make_unique<ReusableStatement>(sql)).first->second;
}

void forget_statement(soci::session& sql, const std::string& text) {
  std::unique_ptr<ReusableStatement> gone;
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto session = registry().find(&sql);
  if (session == registry().end()) return;
  auto it = session->second->find(text);
  if (it == session->second->end()) return;
  gone = std::move(it->second);
  session->second->erase(it);
}

void run_kept(soci::session& sql, ReusableStatement& st, const std::string& text) {
  try {
    st.execute(text);
  } catch (const soci::postgresql_soci_error& e) {
    forget_statement(sql, text);
    // "prepared statement does not exist": the statement was prepared on another server
    // connection than this transaction's. The error is retried (db_error.cpp); from now on
    // each statement is prepared in the transaction that runs it.
    if (e.sqlstate().compare(0, 5, "26000") == 0 && keeping.exchange(false)) {
      spdlog::warn(
          "PostgreSQL: a statement prepared on this session is not on its server connection (a proxy that "
          "pools transactions?): statements are prepared for each run from now on");
    }
    throw;
  } catch (...) {
    forget_statement(sql, text);
    throw;
  }
}

namespace {
std::size_t padded(std::size_t n) {
  if (n == 0 || n > kMaxPaddedIds) return n;
  std::size_t p = 1;
  while (p < n) p *= 2;
  return p;
}
}  // namespace

std::string id_placeholders(const std::string& name, std::size_t n) {
  std::string list;
  for (std::size_t i = 0; i < padded(n); ++i) list += (i == 0 ? ":" : ", :") + name + std::to_string(i);
  return list;
}

void use_ids(ReusableStatement& st, const std::vector<long long>& ids) {
  // The rest repeat the first: an id twice in a list changes no result (0 could be a row's id in
  // a database restored or migrated by hand).
  for (std::size_t i = 0; i < padded(ids.size()); ++i) st.use(i < ids.size() ? ids[i] : ids.front());
}

void keep_statements(soci::session* sql) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto& slot = registry()[sql];
  if (slot) {
    // Left by a session at this address that closed without close_statements: its statements
    // belong to a closed database and cannot be finalized any more.
    for (auto& [text, st] : *slot) (void)st.release();
  }
  slot = std::make_unique<Kept>();
}

void close_statements(soci::session* sql) {
  std::unique_ptr<Kept> gone;  // finalized after the lock, while the session is still open
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(sql);
    if (it == registry().end()) return;
    gone = std::move(it->second);
    registry().erase(it);
  }
}

}  // namespace pdr
