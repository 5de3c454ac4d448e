// Every job's history: pdr_job_events, one row per change of a job's state, written by the
// transaction that makes the change (so the last event of a job always names its state), and
// read by `pdr_run history` and `status`.
#include "db/soci_job_store.h"
#include "db/statement_cache.h"
#include "pdr/grid_value.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <tuple>

namespace pdr {

namespace {

// The event a change is, from what it changes.
std::string event_of(const StatusChange& c) {
  if (!c.replayed_from.empty()) return "replayed";
  if (c.reaped) return "reaped";
  switch (c.next) {
    case JobState::Running:
      return "claimed";
    case JobState::Finished:
      return "finished";
    case JobState::Failed:
      return "failed";
    case JobState::Pending:
      if (c.retry) return "retry";
      // Handed back by its owner (interrupted, stopped, its host failing): the attempt is undone.
      if (c.expect == JobState::Running) return "released";
      return "requeued";
    default:
      return to_string(c.next);
  }
}

}  // namespace

// What an event row takes from its change (the rest it reads from the job row).
struct EventFields {
  std::string event, token, stage, detail;
  std::optional<int> exit_code;
  int undone = 0;
  bool operator<(const EventFields& o) const {
    return std::tie(event, token, stage, detail, exit_code, undone) <
           std::tie(o.event, o.token, o.stage, o.detail, o.exit_code, o.undone);
  }
};

namespace {

EventFields fields_of(const StatusChange& c, const std::string& event) {
  EventFields f;
  f.event = event.empty() ? event_of(c) : event;
  f.token = c.claimant != nullptr ? c.claimant->token : c.reaped ? c.reaped_token : c.token;
  f.stage = !c.event_stage.empty() ? c.event_stage : c.stage != Stage::None ? to_string(c.stage) : "";
  f.detail = !c.note.empty() ? c.note : c.error;
  if (!c.replayed_from.empty()) {
    f.detail = std::string(to_string(c.next)) + ", replayed from " + c.replayed_from +
               (f.detail.empty() ? "" : ": " + f.detail);
  }
  f.detail = valid_utf8(f.detail);
  f.exit_code = c.exit_code;
  // A hand-back undoes its attempt (attempts - 1): the event names the attempt it ended.
  f.undone =
      c.next == JobState::Pending && c.expect == JobState::Running && !c.token.empty() && !c.retry && !c.reaped ? 1 : 0;
  return f;
}

}  // namespace

void SociJobStore::write_event(Session& sql, const StatusChange& c, const std::string& event) {
  const EventFields f = fields_of(c, event);
  // The attempt's stages come before its end (the row is this transaction's now: no fence).
  write_stage_starts(sql, c.stage_starts, f.token, f.undone, false);
  write_event_rows(sql, f, {c.job_id});
}

void SociJobStore::write_events(Session& sql, const std::vector<StatusChange>& changes) {
  if (changes.empty()) return;
  if (changes.size() == 1) return write_event(sql, changes.front());
  // The attempts' stage starts before their ends: one statement per owner (all of them, as a rule).
  std::map<std::pair<std::string, int>, std::vector<StageStart>> starts;
  for (const auto& c : changes) {
    if (c.stage_starts.empty()) continue;
    const EventFields f = fields_of(c, "");
    auto& all = starts[{f.token, f.undone}];
    all.insert(all.end(), c.stage_starts.begin(), c.stage_starts.end());
  }
  for (const auto& [owner, list] : starts) write_stage_starts(sql, list, owner.first, owner.second, false);
  std::map<EventFields, std::vector<long long>> groups;  // fields -> the job ids
  for (const auto& c : changes) groups[fields_of(c, "")].push_back(c.job_id);
  if (groups.size() == 1) return write_event_rows(sql, groups.begin()->first, groups.begin()->second);
  // Several kinds (a claim beside the finishes before it): one statement, a SELECT each. Numbers
  // of this program are written out, texts bound: PostgreSQL types an unknown value of a UNION
  // as text. The ids are bound, as many as the next power of two (see id_placeholders).
  std::string q;
  size_t n = 0;
  for (const auto& [f, ids] : groups) {
    const std::string i = std::to_string(n++);
    auto text = [&](const std::string& v, const char* name) {
      return v.empty() ? std::string("NULL") : std::string(":") + name + i;
    };
    q += std::string(q.empty() ? "" : " UNION ALL ") + "SELECT id, model_name_id, " + dialect_.now_ms() + ", :e" + i +
         ", status, :h" + i + ", " + std::to_string(actor_pid_) + ", ";
    q += text(f.token, "t") + ", attempts + " + std::to_string(f.undone) + ", lease_epoch, ";
    q += text(f.stage, "s") + ", ";
    q += (f.exit_code ? std::to_string(*f.exit_code) : dialect_.pg ? "CAST(NULL AS INTEGER)" : "NULL") + ", ";
    q += text(f.detail, "d") + " FROM pdr_model_jobs WHERE id IN (" + id_placeholders("j" + i + "_", ids.size()) + ")";
  }
  q = "INSERT INTO pdr_job_events (job_id, model_name_id, at, event, state, host, pid, token, attempt, lease_epoch, "
      "stage, exit_code, detail) " +
      q;
  std::unique_ptr<ReusableStatement> fresh;
  ReusableStatement& st = reusable_statement(sql, q, fresh);
  for (const auto& [f, ids] : groups) {
    st.use(f.event);
    st.use(actor_host_);
    if (!f.token.empty()) st.use(f.token);
    if (!f.stage.empty()) st.use(f.stage);
    if (!f.detail.empty()) st.use(f.detail);
    use_ids(st, ids);
  }
  run_kept(sql, st, q);
}

void SociJobStore::write_event_rows(Session& sql, const EventFields& f, const std::vector<long long>& ids) {
  const std::string q =
      "INSERT INTO pdr_job_events (job_id, model_name_id, at, event, state, host, pid, token, attempt, "
      "lease_epoch, stage, exit_code, detail) SELECT id, model_name_id, " +
      dialect_.now_ms() +
      ", :event, status, :host, :pid, :token, attempts + :undone, lease_epoch, :stage, :exit_code, :detail "
      "FROM pdr_model_jobs WHERE id IN (" +
      id_placeholders("j", ids.size()) + ") ORDER BY id";
  std::unique_ptr<ReusableStatement> fresh;
  ReusableStatement& st = reusable_statement(sql, q, fresh);
  st.use(f.event);
  st.use(actor_host_);
  st.use(actor_pid_);
  st.use(f.token, f.token.empty() ? soci::i_null : soci::i_ok);
  st.use(f.undone);
  st.use(f.stage, f.stage.empty() ? soci::i_null : soci::i_ok);
  st.use(f.exit_code.value_or(0), f.exit_code ? soci::i_ok : soci::i_null);
  st.use(f.detail, f.detail.empty() ? soci::i_null : soci::i_ok);
  use_ids(st, ids);
  run_kept(sql, st, q);
}

void SociJobStore::write_stage_starts(Session& sql, const std::vector<StageStart>& starts, const std::string& token,
                                      int undone, bool fenced) {
  if (starts.empty()) return;
  // "started" names the state the attempt was in when it happened: running. Written once per
  // attempt and stage, also when a write whose commit was cut is done again. Fenced: only an
  // attempt that still holds its job says so. All starts in one statement (a job of a dozen
  // onion species starts 14 stages): the ids, epochs, stages and times are numbers or names of
  // this program; the species (detail) are bound.
  const auto now = std::chrono::steady_clock::now();
  soci::statement st(sql);
  soci::indicator token_ind = token.empty() ? soci::i_null : soci::i_ok;
  st.exchange(soci::use(actor_host_));
  st.exchange(soci::use(actor_pid_));
  st.exchange(soci::use(token, token_ind));
  st.exchange(soci::use(undone));
  std::string rows;
  for (size_t i = 0; i < starts.size(); ++i) {
    const StageStart& s = starts[i];
    const long long ms =
        std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(now - s.at).count());
    rows += std::string(i == 0 ? "SELECT " : " UNION ALL SELECT ") + std::to_string(i) + (i == 0 ? " AS n, " : ", ") +
            dialect_.ms_ago(ms) + (i == 0 ? " AS at, " : ", ") + std::to_string(s.job_id) +
            (i == 0 ? " AS job, " : ", ") + std::to_string(s.epoch) + (i == 0 ? " AS epoch, '" : ", '") +
            to_string(s.stage) + (i == 0 ? "' AS stage, " : "', ") +
            (s.detail.empty() ? std::string("NULL") : ":d" + std::to_string(i)) + (i == 0 ? " AS detail" : "");
    if (!s.detail.empty()) st.exchange(soci::use(s.detail));
  }
  if (fenced) st.exchange(soci::use(token));
  st.alloc();
  st.prepare(
      "INSERT INTO pdr_job_events (job_id, model_name_id, at, event, state, host, pid, token, attempt, lease_epoch, "
      "stage, detail) SELECT j.id, j.model_name_id, v.at, 'started', 'running', :host, :pid, :token, j.attempts + "
      ":undone, v.epoch, v.stage, v.detail FROM (" +
      rows +
      ") v JOIN pdr_model_jobs j ON j.id = v.job WHERE NOT EXISTS (SELECT 1 FROM pdr_job_events e WHERE e.job_id = "
      "v.job AND e.event = 'started' AND e.lease_epoch = v.epoch AND e.stage = v.stage AND COALESCE(e.detail, '') = "
      "COALESCE(v.detail, ''))" +
      (fenced ? " AND j.status = 'running' AND j.token = :held AND j.lease_epoch = v.epoch" : "") + " ORDER BY v.n");
  st.define_and_bind();
  st.execute(true);
}

void SociJobStore::write_rejected(Session& sql, const StatusChange& c) {
  // Only an attempt's own outcome is "rejected"; another change that found the row moved on
  // (a reaper that lost a race, a requeue of a job that runs again) did nothing to tell.
  if (c.token.empty() || c.expect != JobState::Running) return;
  // It changed nothing, so it names no state. The row is read without a lock: on MySQL
  // (READ COMMITTED) the UPDATE that matched nothing took none, and waiting here for the
  // transaction that holds the job now could deadlock with it on the counter rows.
  long long model_id = 0;
  sql << "SELECT model_name_id FROM pdr_model_jobs WHERE id = :id", soci::use(c.job_id), soci::into(model_id);
  if (!sql.got_data()) return;
  const std::string note = std::string("outcome ") + to_string(c.next) +
                           " not recorded: the job is no longer held by this attempt (lease lost)" +
                           (c.replayed_from.empty() ? "" : "; replayed from " + c.replayed_from);
  const int exit_code = c.exit_code.value_or(0);
  soci::indicator exit_ind = c.exit_code ? soci::i_ok : soci::i_null;
  // The attempt is the one its claim of that lease epoch recorded (NULL when there is none).
  long long attempt = 0;
  soci::indicator attempt_ind = soci::i_null;
  sql << "SELECT MAX(attempt) FROM pdr_job_events WHERE job_id = :id AND lease_epoch = :epoch AND event = 'claimed' "
         "AND token = :token",
      soci::use(c.job_id), soci::use(c.epoch), soci::use(c.token), soci::into(attempt, attempt_ind);
  if (!sql.got_data()) attempt_ind = soci::i_null;
  sql << "INSERT INTO pdr_job_events (job_id, model_name_id, at, event, host, pid, token, attempt, lease_epoch, "
         "exit_code, detail) VALUES (:id, :m, " +
             dialect_.now_ms() + ", 'rejected', :host, :pid, :token, :attempt, :epoch, :exit_code, :detail)",
      soci::use(c.job_id), soci::use(model_id), soci::use(actor_host_), soci::use(actor_pid_), soci::use(c.token),
      soci::use(attempt, attempt_ind), soci::use(c.epoch), soci::use(exit_code, exit_ind), soci::use(note);
}

void SociJobStore::write_grid_event(Session& sql, long long model_id, const std::string& event,
                                    const std::string& detail) {
  sql << "INSERT INTO pdr_job_events (job_id, model_name_id, at, event, host, pid, detail) VALUES (NULL, :m, " +
             dialect_.now_ms() + ", :event, :host, :pid, :detail)",
      soci::use(model_id), soci::use(event), soci::use(actor_host_), soci::use(actor_pid_), soci::use(detail);
}

namespace {

// `at` is the event time as text (Dialect::as_text).
std::string event_columns(const std::string& at) {
  return "e.id, COALESCE(e.job_id, 0), COALESCE(j.model_job_name, ''), COALESCE(" + at +
         ", ''), e.event, COALESCE(e.state, ''), "
         "COALESCE(e.host, ''), COALESCE(e.pid, 0), COALESCE(e.token, ''), COALESCE(e.attempt, 0), "
         "COALESCE(e.lease_epoch, 0), COALESCE(e.stage, ''), e.exit_code, COALESCE(e.detail, '')";
}

}  // namespace

static JobEvent event_row(const soci::row& row, long long (*integer)(const soci::row&, std::size_t)) {
  JobEvent e;
  e.id = integer(row, 0);
  e.job_id = integer(row, 1);
  e.job_name = row.get<std::string>(2);
  e.at = row.get<std::string>(3);
  e.event = row.get<std::string>(4);
  e.state = row.get<std::string>(5);
  e.host = row.get<std::string>(6);
  e.pid = integer(row, 7);
  e.token = row.get<std::string>(8);
  e.attempt = integer(row, 9);
  e.lease_epoch = integer(row, 10);
  e.stage = row.get<std::string>(11);
  if (row.get_indicator(12) != soci::i_null) e.exit_code = static_cast<int>(integer(row, 12));
  e.detail = row.get<std::string>(13);
  return e;
}

// The job of the point `name` stands for when the model names it otherwise: the predecessor
// named jobs by the values as typed (100_5_-10_10_00 for 100_05_-10_10_00), and either spelling
// finds it. 0 when there is none. Reads the names that are not canonical only.
long long SociJobStore::job_of_spelling(Session& sql, long long model_id, const std::string& name) {
  std::string wanted = canonical_job_name(name);
  if (wanted.empty()) wanted = name;
  soci::rowset<soci::row> rows = (sql.prepare << "SELECT id, model_job_name FROM pdr_model_jobs WHERE model_name_id "
                                                 "= :m AND duplicate_key = 0 ORDER BY id",
                                  soci::use(model_id));
  for (const auto& row : rows) {
    const std::string stored = row.get<std::string>(1);
    std::string spelled = canonical_job_name(stored);  // "" for a name that is canonical already
    if (spelled.empty()) spelled = stored;
    if (stored != name && spelled == wanted) return as_integer(row, 0);
  }
  return 0;
}

Result<std::vector<JobEvent>> SociJobStore::job_history(const HistoryQuery& q) {
  std::vector<JobEvent> out;
  Status st = read("read the history of model " + q.model, [&](Session& sql) {
    out.clear();
    const auto found = model_id_of(sql, q.model);
    if (!found) return no_model(q.model);
    const long long model_id = *found;
    std::string where = "e.model_name_id = :m";
    long long job_id = 0;
    std::string job_name = q.job;
    if (!q.job.empty()) {
      // A job by name, else by id (a job name is never a plain number).
      soci::indicator ind = soci::i_null;
      sql << "SELECT id FROM pdr_model_jobs WHERE model_name_id = :m AND model_job_name = :n AND duplicate_key = 0",
          soci::use(model_id), soci::use(job_name), soci::into(job_id, ind);
      if (!sql.got_data() || ind != soci::i_ok) {
        job_id = 0;
        const bool digits = q.job.find_first_not_of("0123456789") == std::string::npos && q.job.size() < 18;
        if (digits) {
          long long id = std::stoll(q.job);
          long long n = 0;
          sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE id = :id AND model_name_id = :m", soci::use(id),
              soci::use(model_id), soci::into(n);
          if (n > 0) job_id = id;
        }
        if (job_id == 0) job_id = job_of_spelling(sql, model_id, q.job);
        if (job_id == 0) {
          return Status::Usage("model " + q.model + " has no job named or numbered '" + q.job + "'");
        }
      }
      where += " AND e.job_id = :j";
    }
    if (!q.since.empty()) where += " AND e.at >= :since";
    if (!q.event.empty()) where += " AND e.event = :event";
    std::string query = "SELECT " + event_columns(dialect_.as_text("e.at", true)) +
                        " FROM pdr_job_events e LEFT JOIN pdr_model_jobs j ON j.id = e.job_id WHERE " + where;
    query += q.last > 0 ? " ORDER BY e.id DESC LIMIT " + std::to_string(q.last) : " ORDER BY e.id";
    soci::statement stmt(sql);
    soci::row row;
    stmt.exchange(soci::into(row));
    stmt.exchange(soci::use(model_id));
    if (job_id != 0) stmt.exchange(soci::use(job_id));
    if (!q.since.empty()) stmt.exchange(soci::use(q.since));
    if (!q.event.empty()) stmt.exchange(soci::use(q.event));
    stmt.alloc();
    stmt.prepare(query);
    stmt.define_and_bind();
    stmt.execute(false);
    while (stmt.fetch()) out.push_back(event_row(row, &SociJobStore::as_integer));
    if (q.last > 0) std::reverse(out.begin(), out.end());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

std::map<long long, std::vector<JobEvent>> SociJobStore::last_events(Session& sql, const std::vector<long long>& ids,
                                                                     size_t n) {
  std::map<long long, std::vector<JobEvent>> out;
  if (ids.empty()) return out;
  // One query for all of them: a job has a few events per attempt.
  std::string list;
  for (long long id : ids) list += (list.empty() ? "" : ", ") + std::to_string(id);
  soci::rowset<soci::row> rs = (sql.prepare << "SELECT " + event_columns(dialect_.as_text("e.at", true)) +
                                                   " FROM pdr_job_events e LEFT JOIN pdr_model_jobs j ON j.id = "
                                                   "e.job_id WHERE e.job_id IN (" +
                                                   list + ") ORDER BY e.job_id, e.id DESC");
  for (const auto& row : rs) {
    JobEvent e = event_row(row, &SociJobStore::as_integer);
    auto& events = out[e.job_id];
    if (events.size() < n) events.push_back(std::move(e));
  }
  for (auto& kv : out) std::reverse(kv.second.begin(), kv.second.end());
  return out;
}

Result<long long> SociJobStore::prune_history(long long older_than_seconds, const std::string& model) {
  long long n = 0;
  Status st = transaction("delete old job events", [&](Session& sql) {
    n = 0;
    std::optional<long long> only;
    if (!model.empty()) {
      only = model_id_of(sql, model);
      if (!only) return Status::Usage("model '" + model + "' is not in " + db_->settings().describe());
    }
    // Models with a pending or running job keep their whole history (it is still being written).
    // MySQL cannot name the table it deletes from in a subquery of the same statement unless
    // the subquery is materialized: the model list is read first.
    std::vector<long long> busy;
    for_each_row<long long>(sql,
                            "SELECT DISTINCT model_name_id FROM pdr_model_jobs WHERE status IN ('pending', 'running') "
                            "AND duplicate_key = 0",
                            std::tuple<>(), [&](long long m) { busy.push_back(m); });
    std::string keep;
    for (long long m : busy) keep += (keep.empty() ? "" : ", ") + std::to_string(m);
    if (only && std::find(busy.begin(), busy.end(), *only) != busy.end()) return Status::Ok();
    soci::statement del =
        (sql.prepare << "DELETE FROM pdr_job_events WHERE at < " + dialect_.now_plus(-older_than_seconds) +
                            // A grid's registration events stay (two rows a registration): the
                            // last one says whether a registration was left open.
                            " AND NOT (job_id IS NULL AND event IN ('registering', 'registered'))" +
                            (only           ? " AND model_name_id = " + std::to_string(*only)
                             : keep.empty() ? std::string()
                                            : " AND model_name_id NOT IN (" + keep + ")"));
    del.execute(true);
    n = static_cast<long long>(del.get_affected_rows());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

}  // namespace pdr
