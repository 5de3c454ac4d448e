// Statements kept compiled per session. SQLite compiles each statement it is given, and an UPDATE
// of pdr_model_jobs compiles its triggers with it: a claim and a finish spent most of their
// instructions compiling (callgrind: 46% of the database path's). SOCI prepares a statement on
// PostgreSQL by name and drops it after its run: two more round trips each, and a parse and plan.
// A statement whose text a session has run before runs again with new values instead. The MySQL
// client sends text, prepared or not: its sessions keep nothing, and the same code runs each
// statement once.
//
// On PostgreSQL a kept statement lives in its server connection: a proxy that hands each
// transaction another connection (PgBouncer's transaction pooling before 1.21) cannot be used.
// Queries whose columns are `*` are not kept there (a column another process adds would fail it:
// "cached plan must not change result type").
#pragma once

#include <soci/soci.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace pdr {

// One statement and the values it is bound to. The first execution binds them (SOCI keeps
// references); later ones assign them in the same order, which the statement's text fixes.
class ReusableStatement {
 public:
  explicit ReusableStatement(soci::session& sql) : st_(sql) {}
  ReusableStatement(const ReusableStatement&) = delete;
  ReusableStatement& operator=(const ReusableStatement&) = delete;

  // The next placeholder's value (in the order of the placeholders in the text).
  void use(const std::string& v, soci::indicator ind = soci::i_ok);
  void use(int v, soci::indicator ind = soci::i_ok);
  void use(long long v, soci::indicator ind = soci::i_ok);
  void use(double v, soci::indicator ind = soci::i_ok);

  // Runs the statement (a write: no rows come back); compiled on its first run.
  void execute(const std::string& text);
  long long affected_rows() { return st_.get_affected_rows(); }

  // Its values are given again from the first (whatever a failure left half given).
  void restart() { next_ = 0; }

  // Runs a query whose rows come one at a time into row(), while fetch() is true.
  void query(const std::string& text);
  bool fetch() { return st_.fetch(); }
  const soci::row& row() const { return row_; }

 private:
  enum class Kind { kText, kInt, kLong, kReal };
  struct Slot {
    Kind kind;
    std::size_t index;  // into the deque of its kind
  };
  template <typename T>
  void put(std::deque<T>& values, Kind kind, const T& v, soci::indicator ind);

  void compile(const std::string& text);

  soci::row row_;
  bool prepared_ = false;
  std::size_t next_ = 0;  // the next slot to assign (after the first execution)
  std::vector<Slot> slots_;
  std::deque<std::string> texts_;
  std::deque<int> ints_;
  std::deque<long long> longs_;
  std::deque<double> reals_;
  std::deque<soci::indicator> indicators_;  // one per slot
  soci::statement st_;                      // last: it is bound to the members above
};

// The statement for `text` on this session: kept from an earlier run on a session the pool made
// to keep them (and when `may_keep`), otherwise a new one for this run only, in `fresh`. After a
// statement fails, forget_statement drops it.
ReusableStatement& reusable_statement(soci::session& sql, const std::string& text,
                                      std::unique_ptr<ReusableStatement>& fresh, bool may_keep = true);
void forget_statement(soci::session& sql, const std::string& text);

// Runs a write; a statement that failed is not kept (in whatever state the failure left it).
void run_kept(soci::session& sql, ReusableStatement& st, const std::string& text);

// A list of ids as placeholders :<name>0, :<name>1, ...: as many as the next power of two (up to
// kMaxPaddedIds; longer lists take one each), so that the texts are few; use_ids binds the ids
// and the first id again for the rest.
constexpr std::size_t kMaxPaddedIds = 64;
std::string id_placeholders(const std::string& name, std::size_t n);
void use_ids(ReusableStatement& st, const std::vector<long long>& ids);

// The pool's side: a session it made for SQLite or PostgreSQL keeps statements (keep_statements), and
// whatever it kept is finalized before the session closes (close_statements: every path that
// ends a pooled session calls it first).
void keep_statements(soci::session* sql);
void close_statements(soci::session* sql);

}  // namespace pdr
