// Job state changes: claims, outcomes, hand-backs and retries.
#include "db/soci_job_store.h"
#include "db/statement_cache.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace pdr {

namespace {
// A claim's scan from the model's first job (any id, 0 and negative ones included).
constexpr long long kFromTheFirstJob = std::numeric_limits<long long>::min();
}  // namespace

std::string SociJobStore::claim_select(int max) const {
  return std::string(dialect_.claim_index()) +
         " WHERE model_name_id = :m AND status = 'pending' AND duplicate_key = 0" +
         (dialect_.mysql ? " AND id > :h" : "") + " AND (retry_at IS NULL OR retry_at <= " + dialect_.now() +
         ") ORDER BY id LIMIT " + std::to_string(std::max(max, 0)) + std::string(dialect_.claim_lock());
}

Result<std::vector<ClaimedJob>> SociJobStore::claim_jobs(long long model_id, int max, const Owner& owner) {
  return claim_rows(claim_select(max), model_id, max, owner, nullptr);
}

Result<std::vector<ClaimedJob>> SociJobStore::claim_chosen(long long model_id, const std::vector<ChosenJob>& chosen,
                                                           int max, const Owner& owner) {
  if (chosen.empty()) return std::vector<ClaimedJob>{};
  std::map<long long, const ChosenJob*> by_id;
  std::string ids;
  for (const auto& c : chosen) {
    by_id[c.id] = &c;
    ids += (ids.empty() ? "" : ", ") + std::to_string(c.id);
  }
  return claim_rows(" WHERE id IN (" + ids +
                        ") AND model_name_id = :m AND status = 'pending' AND duplicate_key = 0 AND (retry_at IS NULL "
                        "OR retry_at <= " +
                        dialect_.now() + ") ORDER BY id" + std::string(dialect_.claim_lock()),
                    model_id, max, owner, &by_id);
}

// On MySQL a job's row leaves the pending part of the claim index when it is claimed, but its
// old entry stays, delete-marked, until InnoDB's purge removes it, and the rows other sessions
// hold are skipped one by one: a claim from the model's first job walked past hundreds of such
// entries (a history list of 100-230 transactions at 4 x 4 workers), 15-24 % of the server's
// work per job. A claim goes on after the last job this process claimed instead; from the first
// job again once a second (a job queued again below it, a retry whose delay ran out, a job
// handed back by another process waits at most that long), and whenever nothing is pending after
// it, so "nothing pending" is always said by a scan of all of them; and at once after this
// process queued a job again (a retry, a hand-back, verify). Only with SKIP LOCKED: with plain
// row locks, claimers that scan from different places could wait for each other in a cycle. PostgreSQL
// marks the index entries of dead rows as it passes them (measured: no difference) and SQLite
// has one writer: their claims start from the first job, always.
long long SociJobStore::claim_from() {
  if (!dialect_.mysql || !dialect_.skip_locked) return kFromTheFirstJob;
  const long long now = std::chrono::steady_clock::now().time_since_epoch().count();
  if (now >= next_full_scan_.load()) return kFromTheFirstJob;
  return claim_cursor_.load();
}

void SociJobStore::claimed_up_to(long long last_id, bool full_scan) {
  if (!dialect_.mysql) return;
  if (full_scan) {
    next_full_scan_ = (std::chrono::steady_clock::now() + std::chrono::seconds(1)).time_since_epoch().count();
  }
  claim_cursor_ = last_id;
}

Result<std::vector<ClaimedJob>> SociJobStore::claim_rows(const std::string& select, long long model_id, int max,
                                                         const Owner& owner,
                                                         const std::map<long long, const ChosenJob*>* chosen) {
  std::vector<ClaimedJob> claimed;
  Status st = transaction(
      "claim jobs",
      [&](Session& sql) {
        std::vector<StatusChange> events;
        claim_in(sql, select, model_id, max, owner, chosen, &claimed, &events);
        write_events(sql, events);
        attach_parameters(sql, &claimed);
        return Status::Ok();
      },
      [&](Session& sql) {
        // A claim lands whole or not at all: look at one of its rows.
        if (claimed.empty()) return true;
        return job_is(sql, claimed.front().id, JobState::Running, owner.token);
      });
  if (!st.ok()) return st;
  return claimed;
}

// The claim itself, in the caller's transaction: the rows `select` returns set to running for
// `owner` (their events added to `events`), into `claimed`.
void SociJobStore::claim_in(Session& sql, const std::string& select, long long model_id, int max, const Owner& owner,
                            const std::map<long long, const ChosenJob*>* chosen, std::vector<ClaimedJob>* claimed,
                            std::vector<StatusChange>* events) {
  claimed->clear();
  struct Row {
    long long id, params, epoch;
    std::string name, stage;
    int attempts, files;
  };
  std::vector<Row> rows;
  // One spare slot: SOCI's SQLite backend fetches nothing into vectors of size 1.
  const size_t slots = (chosen != nullptr ? chosen->size() : static_cast<size_t>(std::max(max, 0))) + 1;
  std::vector<long long> ids(slots), params(slots), epochs(slots);
  std::vector<std::string> names(slots), stages(slots);
  std::vector<int> attempts(slots), files(slots);
  // Whether the job may have file rows (an earlier finish's): its finish need not look for them
  // when it has none. Only a job never claimed before (lease epoch 0: a first attempt, the most
  // common claim) is taken at its word: the subqueries read the statement's snapshot, the row
  // its latest version, and a job another session claimed, finished and had queued again while
  // this statement ran has a later epoch. A row of the Python pdr_run (epoch 0) has its file rows
  // seen by the subqueries.
  static const std::string kFileRows =
      "CASE WHEN EXISTS (SELECT 1 FROM job_files f WHERE f.job_id = pdr_model_jobs.id) OR EXISTS (SELECT 1 FROM "
      "hdf_files h WHERE h.job_id = pdr_model_jobs.id) OR EXISTS (SELECT 1 FROM json_files s WHERE s.job_id = "
      "pdr_model_jobs.id) THEN 1 ELSE 0 END";
  const std::string query = "SELECT id, model_job_name, kosmatau_parameters_id, attempts, run_stage, lease_epoch, " +
                            kFileRows + " FROM pdr_model_jobs" + select;
  // A claim of the next pending jobs scans from claim_from(); the chosen ones are named.
  const long long from = chosen == nullptr ? claim_from() : kFromTheFirstJob;
  auto fetch = [&](long long after) {
    if (chosen == nullptr) {
      // The claim of the next jobs runs all the time: its statement is kept (statement_cache.h).
      for (auto* v : {&ids, &params, &epochs}) v->clear();
      names.clear();
      stages.clear();
      attempts.clear();
      files.clear();
      std::unique_ptr<ReusableStatement> fresh;
      ReusableStatement& st = reusable_statement(sql, query, fresh);
      st.use(model_id);
      if (dialect_.mysql) st.use(after);
      try {
        st.query(query);
        while (st.fetch()) {
          const soci::row& row = st.row();
          ids.push_back(as_integer(row, 0));
          names.push_back(row.get<std::string>(1));
          params.push_back(as_integer(row, 2));
          attempts.push_back(row.get_indicator(3) == soci::i_null ? 0 : static_cast<int>(as_integer(row, 3)));
          stages.push_back(row.get_indicator(4) == soci::i_null ? std::string() : row.get<std::string>(4));
          epochs.push_back(row.get_indicator(5) == soci::i_null ? 0 : as_integer(row, 5));
          files.push_back(static_cast<int>(as_integer(row, 6)));
        }
      } catch (...) {
        forget_statement(sql, query);
        throw;
      }
      return;
    }
    for (auto* v : {&ids, &params, &epochs}) v->resize(slots);
    names.resize(slots);
    stages.resize(slots);
    attempts.resize(slots);
    files.resize(slots);
    sql << query, soci::use(model_id), soci::into(ids), soci::into(names), soci::into(params), soci::into(attempts),
        soci::into(stages), soci::into(epochs), soci::into(files);
  };
  fetch(from);
  if (chosen == nullptr) {
    bool full_scan = from == kFromTheFirstJob;
    if (!full_scan && ids.empty()) {  // nothing after the last claimed job: look at all of them
      fetch(kFromTheFirstJob);
      full_scan = true;
    }
    claimed_up_to(ids.empty() ? kFromTheFirstJob : ids.back(), full_scan);
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    rows.push_back(Row{ids[i], params[i], epochs[i], names[i], stages[i], attempts[i], files[i]});
  }
  if (chosen != nullptr) {
    // Most wanted first: the longest predicted run time that fits.
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
      return chosen->at(a.id)->predicted_seconds > chosen->at(b.id)->predicted_seconds;
    });
  }
  if (chosen == nullptr && events != nullptr && rows.size() > 1 && static_cast<int>(rows.size()) <= max) {
    // The same change of every row: one UPDATE (each row is locked by the SELECT; on SQLite the
    // transaction holds the database), not one a row.
    StatusChange c;
    c.expect = JobState::Pending;
    c.next = JobState::Running;
    c.claimant = &owner;
    std::vector<long long> claiming;
    for (const auto& r : rows) claiming.push_back(r.id);
    std::map<long long, long long> taken;  // id -> its new lease epoch
    if (write_states(sql, c, claiming) == static_cast<long long>(claiming.size())) {
      for (const auto& r : rows) taken[r.id] = r.epoch + 1;
    } else {
      // Not every row was still pending: the rows this claim took are held by its owner under
      // the next epoch.
      std::string list;
      for (long long id : claiming) list += (list.empty() ? "" : ", ") + std::to_string(id);
      for_each_row<long long, long long>(sql,
                                         "SELECT id, COALESCE(lease_epoch, 0) FROM pdr_model_jobs WHERE id IN (" +
                                             list + ") AND status = 'running' AND token = :t",
                                         std::tie(owner.token),
                                         [&](long long id, long long epoch) { taken[id] = epoch; });
    }
    for (const auto& r : rows) {
      auto it = taken.find(r.id);
      if (it == taken.end() || it->second != r.epoch + 1) continue;
      StatusChange e = c;
      e.job_id = r.id;
      e.event_stage = r.stage == "onion" ? "onion" : "pdr";  // where the attempt starts
      events->push_back(std::move(e));
      claimed->push_back(ClaimedJob{r.id, r.name, r.params, r.attempts + 1, r.stage == "onion", r.epoch + 1, nullptr,
                                    r.files != 0 || r.epoch > 0});
    }
    return;
  }
  for (const auto& r : rows) {
    if (static_cast<int>(claimed->size()) >= max) break;
    StatusChange c;
    c.job_id = r.id;
    c.expect = JobState::Pending;
    c.next = JobState::Running;
    c.claimant = &owner;
    c.event_stage = r.stage == "onion" ? "onion" : "pdr";  // where the attempt starts
    if (chosen != nullptr) {
      const ChosenJob* want = chosen->at(r.id);
      if (want->predicted_seconds >= 0) {
        c.predicted_seconds = want->predicted_seconds;
        c.prediction_basis = want->basis.substr(0, 255);
        c.note = "predicted " + duration_text(std::llround(want->predicted_seconds)) + " (" + want->basis + ")";
      }
    }
    if (apply_change(sql, c, events)) {
      claimed->push_back(ClaimedJob{r.id, r.name, r.params, r.attempts + 1, r.stage == "onion", r.epoch + 1, nullptr,
                                    r.files != 0 || r.epoch > 0});
    }
  }
}

Result<std::vector<JobRuntime>> SociJobStore::finished_runtimes(long long model_id) {
  std::vector<JobRuntime> out;
  Status st = read("read the run times of finished jobs", [&](Session& sql) {
    out.clear();
    const std::string seconds = dialect_.seconds_between("time_of_start", "time_of_finish");
    // A job whose last run was onion-only (--force-onion) timed only its onion step: not a
    // run time of the model.
    for_each_row<std::string, long long>(
        sql,
        "SELECT model_job_name, " + seconds +
            " FROM pdr_model_jobs WHERE model_name_id = :m AND status = 'finished' AND duplicate_key = 0 AND "
            "time_of_start IS NOT NULL AND time_of_finish IS NOT NULL AND time_of_finish >= time_of_start AND "
            "COALESCE(run_stage, 'all') <> 'onion'",
        std::tie(model_id), [&](const std::string& name, long long s) {
          // The columns hold whole seconds: a run that shows 0 s took under a second, and
          // counting it as 0 would pull its neighbours' predictions down by orders of magnitude.
          out.push_back(JobRuntime{name, std::max(1.0, static_cast<double>(s))});
        });
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<PendingJob>> SociJobStore::pending_jobs(long long model_id) {
  std::vector<PendingJob> out;
  Status st = read("read the pending jobs", [&](Session& sql) {
    out.clear();
    // How long the job's last attempt is known to have run, a floor for its run time:
    // - one that came back unfinished (handed back, reaped, a failure tried again) keeps its
    //   start, and ran at least until its last heartbeat (not until it came back: a reap can
    //   come long after the attempt died);
    // - one that ended (a finish queued again by verify or a lost output, a failure queued
    //   again by retry) keeps its start and end, unless it was an onion-only run; an end written
    //   long after the attempt's last heartbeat (a reap that failed it for good, a replayed
    //   journal) counts until that heartbeat.
    // The predecessor's attempts have no heartbeat: nothing is known of how long they ran
    // unless they ended.
    const std::string heartbeat = "CASE WHEN heartbeat_at >= time_of_start THEN " +
                                  dialect_.seconds_between("time_of_start", "heartbeat_at") + " ELSE -1 END";
    const double silent = 2.0 * policy_.heartbeat_seconds + 1;
    for_each_row<long long, std::string, long long, long long, long long>(
        sql,
        "SELECT id, model_job_name, CASE WHEN time_of_start IS NULL THEN -1 ELSE " + heartbeat +
            " END, CASE WHEN time_of_start IS NOT NULL AND time_of_finish >= time_of_start AND "
            "COALESCE(run_stage, 'all') <> 'onion' THEN " +
            dialect_.seconds_between("time_of_start", "time_of_finish") +
            " WHEN time_of_finish IS NOT NULL THEN -2 ELSE -1 END, CASE WHEN retry_at IS NULL THEN 0 ELSE " +
            dialect_.seconds_since("retry_at") +
            " END FROM pdr_model_jobs WHERE model_name_id = :m AND status = 'pending' AND duplicate_key = 0 "
            "ORDER BY id",
        std::tie(model_id),
        [&](long long id, const std::string& name, long long beat, long long ended, long long since_retry) {
          double last = -1;
          if (ended == -1) {
            last = static_cast<double>(beat);  // came back unfinished (or never ran: -1)
          } else if (ended >= 0) {
            last = beat >= 0 && static_cast<double>(ended - beat) > silent ? static_cast<double>(beat)
                                                                           : static_cast<double>(ended);
          }
          out.push_back(PendingJob{id, name, last, std::max(0.0, -static_cast<double>(since_retry))});
        });
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

// The claimed points' parameter rows, in one query on the claim's session.
void SociJobStore::attach_parameters(Session& sql, std::vector<ClaimedJob>* claimed) {
  std::vector<long long> ids;
  for (const auto& job : *claimed) ids.push_back(job.params_id);
  auto rows = parameter_rows(sql, ids);
  for (auto& job : *claimed) {
    auto row = rows.find(job.params_id);
    if (row != rows.end()) job.params = std::make_shared<const ParameterValues>(row->second);
  }
}

// One change in the caller's transaction; true when it applied.
bool SociJobStore::apply_or_landed(Session& sql, const StatusChange& c, std::vector<StatusChange>* events) {
  bool applied = apply_change(sql, c, events);
  if (!applied && c.next == JobState::Finished && c.expect == JobState::Running && c.epoch > 0) {
    // A replayed finish whose first write landed (its COMMIT answer was lost): only the
    // attempt that held this lease epoch can have finished the job under it.
    applied = job_is(sql, c.job_id, JobState::Finished, "", c.epoch);
    if (applied) return true;  // its events landed with it
  }
  if (!applied) write_rejected(sql, c);
  return applied;
}

Result<bool> SociJobStore::apply_alone(const StatusChange& c) {
  bool applied = false;
  Status st = transaction(
      "set job " + std::to_string(c.job_id) + " to " + to_string(c.next),
      [&](Session& sql) {
        applied = apply_or_landed(sql, c);
        return Status::Ok();
      },
      [&](Session& sql) {
        // The same lease epoch as the write: another attempt's outcome is not ours.
        applied = job_is(sql, c.job_id, c.next, "", c.epoch);
        return applied;
      });
  if (!st.ok()) return st;
  return applied;
}

Result<long long> SociJobStore::release_jobs(const Owner& owner) {
  long long n = 0;
  Status st = transaction("release running jobs", [&](Session& sql) {
    n = 0;
    std::vector<long long> all;
    for_each_row<long long>(sql, "SELECT id FROM pdr_model_jobs WHERE status = 'running' AND token = :t",
                            std::tie(owner.token), [&](long long id) { all.push_back(id); });
    for (long long id : all) {
      StatusChange c;
      c.job_id = id;
      c.expect = JobState::Running;
      c.next = JobState::Pending;
      c.token = owner.token;
      c.error = "interrupted; put back to pending";
      n += apply_change(sql, c) ? 1 : 0;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

// Several finishes in one transaction (one commit for all: the claim loop records the jobs
// that ended together). Only finishes: each locks the same two counter rows as a single finish
// (finished, running), so a batch waits for nothing a single finish would not.
Result<std::vector<RecordedOutcome>> SociJobStore::record_finishes(const std::vector<Outcome>& finishes) {
  auto both = finish_and_claim(finishes, 0, 0, nullptr);
  if (!both.ok()) return both.status();
  return both->recorded;
}

Result<JobStore::FinishesAndClaim> SociJobStore::record_finishes_and_claim(const std::vector<Outcome>& finishes,
                                                                           long long model_id, int max,
                                                                           const Owner& owner) {
  return finish_and_claim(finishes, model_id, max, &owner);
}

// Finishes, then (with an owner) a claim, in one transaction: all of it lands or none.
Result<JobStore::FinishesAndClaim> SociJobStore::finish_and_claim(const std::vector<Outcome>& finishes,
                                                                  long long model_id, int max, const Owner* owner) {
  std::vector<StatusChange> changes;
  for (const auto& o : finishes) {
    if (o.state != JobState::Finished) return Status::Error(ErrorKind::kPermanent, "record_finishes: not a finish");
    changes.push_back(change_of(o));
  }
  FinishesAndClaim out;
  const std::string claim = owner != nullptr && max > 0 ? claim_select(max) : "";
  Status st = transaction(
      (finishes.size() == 1 ? std::string("record the finish of job ") + std::to_string(finishes.front().job_id)
                            : "record " + std::to_string(finishes.size()) + " finished jobs") +
          (claim.empty() ? "" : " and claim jobs"),
      [&](Session& sql) {
        out.recorded.clear();
        out.claimed.clear();
        std::vector<StatusChange> events;
        for (const auto& c : changes) {
          out.recorded.push_back(RecordedOutcome{apply_or_landed(sql, c, &events), c.next, c.error});
        }
        if (!claim.empty()) claim_in(sql, claim, model_id, max, *owner, nullptr, &out.claimed, &events);
        write_events(sql, events);
        if (!out.claimed.empty()) attach_parameters(sql, &out.claimed);
        return Status::Ok();
      },
      [&](Session& sql) {
        // A transaction lands whole: every change it applied is there under its epoch, or none;
        // so are the rows it claimed.
        bool landed = false;
        for (size_t i = 0; i < changes.size(); ++i) {
          out.recorded[i].applied = job_is(sql, changes[i].job_id, JobState::Finished, "", changes[i].epoch);
          landed = landed || out.recorded[i].applied;
        }
        if (!out.claimed.empty()) {
          const bool claim_landed = job_is(sql, out.claimed.front().id, JobState::Running, owner->token);
          if (changes.empty() || !landed) landed = claim_landed;
        }
        return landed;
      });
  if (!st.ok()) return st;
  return out;
}

// The change an attempt's outcome makes to its running job.
StatusChange SociJobStore::change_of(const Outcome& o) {
  StatusChange c;
  c.job_id = o.job_id;
  c.expect = JobState::Running;
  c.token = o.token;
  c.epoch = o.epoch;
  c.next = o.state;
  c.exit_code = o.exit_code;
  c.error = o.error;
  c.stage = o.state == JobState::Failed ? o.stage : Stage::None;
  c.cause = o.cause;
  c.files = o.files;
  c.replayed_from = o.replayed_from;
  c.stage_starts = o.stage_starts;
  c.earlier_files = o.earlier_files;
  return c;
}

Result<RecordedOutcome> SociJobStore::record_outcome(const Outcome& o) {
  StatusChange c = change_of(o);
  if (o.state == JobState::Failed && o.retry) {
    c.retry = true;
    return record_failure(c, "record the failure of job " + std::to_string(o.job_id));
  }
  auto applied = apply_alone(c);
  if (!applied.ok()) return applied.status();
  return RecordedOutcome{applied.value(), c.next, c.error};
}

Result<RecordedOutcome> SociJobStore::revoke_finish(const Outcome& finish) {
  StatusChange c;
  c.job_id = finish.job_id;
  c.expect = JobState::Finished;
  c.next = JobState::Failed;
  c.epoch = finish.epoch;
  c.retry = true;
  c.stage = finish.stage;
  c.cause = finish.cause;
  c.error = finish.error;
  c.files = finish.files;  // its log is recorded, as a failed attempt's
  return record_failure(c, "record job " + std::to_string(finish.job_id) + " as failed after its finish");
}

Result<bool> SociJobStore::requeue_finished(long long job_id, const std::string& reason) {
  StatusChange c;
  c.job_id = job_id;
  c.expect = JobState::Finished;
  c.next = JobState::Pending;
  c.stage = Stage::Verify;
  c.cause = reason;
  c.error = "verify: " + reason;
  c.storing_window = silence_of_an_ended_run();
  return apply_alone(c);
}

Result<RecordedOutcome> SociJobStore::record_failure(StatusChange c, const std::string& what) {
  RecordedOutcome out;
  Status st = transaction(
      what,
      [&](Session& sql) {
        out = RecordedOutcome{};
        int attempts = 0;
        std::string stage, cause;
        soci::indicator stage_ind = soci::i_null, cause_ind = soci::i_null;
        sql << "SELECT attempts, error_stage, error_cause FROM pdr_model_jobs WHERE id = :id", soci::use(c.job_id),
            soci::into(attempts), soci::into(stage, stage_ind), soci::into(cause, cause_ind);
        if (!sql.got_data()) return Status::Ok();
        // The previous failed attempt, as recorded with it (unknown when it was recorded before
        // stages were: it then matches nothing).
        const Failure last{stage_ind == soci::i_ok ? parse_stage(stage) : Stage::None,
                           cause_ind == soci::i_ok ? cause : std::string()};
        // Compared as it will be stored (apply_change repairs cut UTF-8).
        const Decision d = decide_failure(policy_, attempts, last, Failure{c.stage, valid_utf8(c.cause)}, c.error);
        StatusChange w = c;
        w.next = d.next;
        w.error = d.error;
        out.applied = apply_change(sql, w);
        if (!out.applied) write_rejected(sql, w);
        out.state = w.next;
        out.error = w.error;
        if (out.applied && w.next == JobState::Pending) {
          sql << "UPDATE pdr_model_jobs SET last_error = :e, retry_at = " + dialect_.now_plus(d.retry_in_seconds) +
                     " WHERE id = :id",
              soci::use(c.error), soci::use(c.job_id);
        }
        return Status::Ok();
      },
      [&](Session& sql) { return out.applied && job_is(sql, c.job_id, out.state, "", c.epoch); });
  if (!st.ok()) return st;
  return out;
}

Result<long long> SociJobStore::retry_failed(const std::string& model, bool ownerless) {
  long long n = 0;
  Status st = transaction("queue failed jobs again", [&](Session& sql) {
    n = 0;
    std::vector<long long> all;
    std::vector<std::string> all_states;
    // Failed and cancelled jobs, and on request jobs the predecessor left running (it records
    // no owner).
    for_each_row<long long, std::string>(
        sql,
        "SELECT j.id, j.status FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id WHERE m.model_name "
        "= :m AND (" +
            status_sql(JobState::Failed, "j.status") + " OR j.status = 'cancelled'" +
            std::string(ownerless ? " OR (j.status = 'running' AND j.token IS NULL)" : "") +
            ") AND j.duplicate_key = 0",
        std::tie(model), [&](long long id, const std::string& state) {
          all.push_back(id);
          all_states.push_back(state);
        });
    for (size_t i = 0; i < all.size(); ++i) {
      const JobState state = state_of_word(all_states[i]);
      if (state == JobState::Running) {
        soci::statement up =
            (sql.prepare << "UPDATE pdr_model_jobs SET status = 'pending', pending = TRUE, active = FALSE, "
                            "time_updated = CURRENT_TIMESTAMP, error = 'left running without an "
                            "owner; queued again by pdr_run retry' WHERE id = :id AND status = "
                            "'running' AND token IS NULL",
             soci::use(all[i]));
        up.execute(true);
        if (up.get_affected_rows() == 1) {
          ++n;
          StatusChange c;
          c.job_id = all[i];
          c.expect = JobState::Running;
          c.next = JobState::Pending;
          c.note = "left running without an owner; queued again by pdr_run retry";
          write_event(sql, c, "requeued");
        }
        continue;
      }
      StatusChange c;
      c.job_id = all[i];
      c.expect = state;
      c.next = JobState::Pending;
      c.error = "queued again by pdr_run retry";
      n += apply_change(sql, c) ? 1 : 0;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

// Whether the job is in `state` (and, when `token` is given, held by that owner; when `epoch`
// is given, under that lease epoch: the attempt that wrote it).
bool SociJobStore::job_is(Session& sql, long long id, JobState state, const std::string& token, long long epoch) {
  std::string status, owner;
  long long row_epoch = 0;
  soci::indicator ind = soci::i_ok;
  sql << "SELECT status, COALESCE(token, ''), COALESCE(lease_epoch, 0) FROM pdr_model_jobs WHERE id = :id",
      soci::use(id), soci::into(status), soci::into(owner, ind), soci::into(row_epoch);
  return sql.got_data() && state_of_word(status) == state && (token.empty() || owner == token) &&
         (epoch <= 0 || row_epoch == epoch);
}

namespace {

// Failed, cancelled or finished, queued again on request (retry, verify, a registration that
// finds outputs missing, --force-onion): a fresh set of attempts. Not a finish revoked because
// its outputs could not take their names (`retry`): that was a failed attempt of this series.
bool fresh_attempts(const StatusChange& c) {
  return c.next == JobState::Pending && !c.retry &&
         (c.expect == JobState::Failed || c.expect == JobState::Cancelled || c.expect == JobState::Finished);
}

// A finish's output columns, in a fixed order: the path of the file this attempt stored for the
// column, or nullptr (the column is cleared, see state_update_sql). The predecessor's log_file
// is the TEXTOUT when there is one.
std::vector<std::pair<const char*, const std::string*>> finish_columns(const StatusChange& c) {
  static const char* const columns[] = {"output_hdf4_file",      "output_textout_file",  "output_chemchk_file",
                                        "output_mcdrt_zip_file", "output_ctrl_ind_file", "output_hdf5_file",
                                        "input_pdrnew_inp_file", "input_json_file",      "log_file"};
  std::vector<std::pair<const char*, const std::string*>> out;
  for (const char* column : columns) {
    const std::string* path = nullptr;
    for (const auto& f : c.files) {
      if (f.kind == column) path = &f.path;  // the last of a kind, as before
    }
    out.emplace_back(column, path);
  }
  if (out[1].second != nullptr) out.back().second = out[1].second;  // log_file = output_textout_file
  return out;
}

}  // namespace

bool SociJobStore::apply_change(Session& sql, const StatusChange& change, std::vector<StatusChange>* events) {
  // Error text quotes program output: keep it valid UTF-8 (MySQL's utf8mb4 refuses a byte
  // sequence cut in the middle of a character, error 1366).
  StatusChange c = change;
  c.error = valid_utf8(c.error);
  c.cause = valid_utf8(c.cause);
  if (c.next == JobState::Running && c.claimant == nullptr) return false;  // a claim must say who claims
  if (!write_state(sql, c)) return false;
  write_outputs(sql, c);
  if (events != nullptr) {
    c.files.clear();  // not needed for the event
    events->push_back(std::move(c));
  } else {
    write_event(sql, c);
  }
  return true;
}

std::string SociJobStore::state_update_sql(const StatusChange& c, const std::string& ids) const {
  std::string q =
      "UPDATE pdr_model_jobs SET status = :next, pending = :pending, active = :active, "
      "time_updated = CURRENT_TIMESTAMP, exit_code = :exit_code, error = :error";
  // The latest failure's stage and cause, for "failed the same way twice" and for people: kept
  // while the job runs again and after a finish (a finish revoked for its outputs is compared
  // with the failure before it), replaced by the next failure (unknown: NULL, as a journal entry
  // of an earlier version), gone with a fresh set of attempts.
  const bool failure = c.next == JobState::Failed || c.retry;
  if (c.stage != Stage::None) {
    q += ", error_stage = :stage, error_cause = :cause";
  } else if (failure || fresh_attempts(c)) {
    q += ", error_stage = NULL, error_cause = NULL";
  }
  if (is_terminal(c.next)) q += ", time_of_finish = CURRENT_TIMESTAMP";
  if (c.next == JobState::Finished) {
    // The outputs go into the job's columns in the same statement: a column this attempt stored
    // a file for takes its path; the others are cleared (an earlier run's outputs are no longer
    // trusted), except after an onion-only run (run_stage 'onion'), which keeps the pdr outputs
    // recorded before. run_stage is read, never assigned here: on MySQL, SET assigns left to
    // right, and these CASEs must see the row as it was.
    for (const auto& [column, path] : finish_columns(c)) {
      q += std::string(", ") + column + " = " +
           (path != nullptr ? std::string(":") + column
                            : std::string("CASE WHEN run_stage = 'onion' THEN ") + column + " ELSE NULL END");
    }
  }
  if (c.next == JobState::Running) {
    q += ", attempts = attempts + 1, host = :host, pid = :pid, token = :new_token, "
         "time_of_start = CURRENT_TIMESTAMP, time_of_finish = NULL, lease_epoch = lease_epoch + 1, "
         "lease_expires_at = " +
         dialect_.now_plus(policy_.lease_seconds) + ", heartbeat_at = " + dialect_.now() + ", retry_at = NULL";
    if (c.predicted_seconds >= 0) q += ", predicted_seconds = :predicted, prediction_basis = :basis";
    // The program that runs this attempt (its outputs' hdf_files row copies it), not the one the
    // job was registered with; an onion-only run keeps the pdr outputs' program.
    if (executable_id_ > 0) {
      q += ", kosmatau_executable_id = CASE WHEN run_stage = 'onion' THEN kosmatau_executable_id ELSE " +
           std::to_string(executable_id_) + " END";
    }
  } else {
    q += ", token = NULL, lease_expires_at = NULL";
  }
  if (fresh_attempts(c)) q += ", attempts = 0, last_error = NULL, retry_at = NULL";
  if (c.expect == JobState::Running && c.next == JobState::Pending && !c.token.empty() && !c.retry) {
    // Handed back by its owner (an interrupt, a stop, a host failure): the attempt does not
    // count. A failure queued again (retry) and a lease that expired (no token) do.
    q += ", attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END";
  }
  q += (ids.empty() ? std::string(" WHERE id = :id AND ") : " WHERE id IN (" + ids + ") AND ") + status_sql(c.expect);
  if (c.storing_window > 0) {
    const std::string since = dialect_.now_plus(-c.storing_window);
    q += " AND (time_of_finish IS NULL OR time_of_finish <= " + since +
         " OR NOT EXISTS (SELECT 1 FROM pdr_job_events e JOIN pdr_runs r ON r.token = e.token WHERE e.job_id = "
         "pdr_model_jobs.id AND e.event IN ('finished', 'replayed') AND e.lease_epoch = pdr_model_jobs.lease_epoch AND "
         "r.state IN ('running', 'lost') AND r.updated_at > " +
         since + "))";
  }
  if (!c.token.empty()) q += " AND token = :token";
  if (c.epoch > 0) q += " AND lease_epoch = :epoch";
  return q;
}

bool SociJobStore::write_state(Session& sql, const StatusChange& c) { return write_states(sql, c, {}) == 1; }

long long SociJobStore::write_states(Session& sql, const StatusChange& c, const std::vector<long long>& ids) {
  // The rows by placeholders, so that the text is the same for every claim of as many rows (and
  // its compiled statement is kept, see statement_cache.h).
  const std::string q = state_update_sql(c, ids.empty() ? "" : id_placeholders("i", ids.size()));
  std::unique_ptr<ReusableStatement> fresh;
  ReusableStatement& up = reusable_statement(sql, q, fresh);
  const int pending = c.next == JobState::Pending ? 1 : 0;
  const int active = c.next == JobState::Running ? 1 : 0;
  // Bound in the order of the placeholders in state_update_sql.
  up.use(status_word(c.next));
  up.use(pending);
  up.use(active);
  up.use(c.exit_code.value_or(0), c.exit_code ? soci::i_ok : soci::i_null);
  up.use(c.error, c.error.empty() ? soci::i_null : soci::i_ok);
  if (c.stage != Stage::None) {
    up.use(to_string(c.stage));
    up.use(c.cause);
  }
  if (c.next == JobState::Finished) {
    for (const auto& [column, path] : finish_columns(c)) {
      if (path != nullptr) up.use(*path);
    }
  }
  if (c.next == JobState::Running) {
    up.use(c.claimant->host);
    up.use(static_cast<long long>(c.claimant->pid));
    up.use(c.claimant->token);
    if (c.predicted_seconds >= 0) {
      up.use(static_cast<double>(c.predicted_seconds));
      up.use(c.prediction_basis);
    }
  }
  if (ids.empty()) up.use(static_cast<long long>(c.job_id));
  use_ids(up, ids);
  if (!c.token.empty()) up.use(c.token);
  if (c.epoch > 0) up.use(static_cast<long long>(c.epoch));
  run_kept(sql, up, q);
  const long long changed = up.affected_rows();
  // A job this process queued again is claimed in its turn, from the first job.
  if (c.next == JobState::Pending && changed > 0) claim_cursor_ = kFromTheFirstJob;
  return changed;
}

void SociJobStore::write_outputs(Session& sql, const StatusChange& c) {
  const std::string id = std::to_string(c.job_id);
  if (c.onion_only) {
    // Queued for onion only: the pdr outputs stay recorded.
    sql << "UPDATE pdr_model_jobs SET run_stage = 'onion' WHERE id = :id", soci::use(c.job_id);
  } else if (c.next == JobState::Finished && c.earlier_files) {
    // The file rows of an earlier run go (the state UPDATE set the columns): all of them, or
    // after an onion-only run (the job's run_stage, which the UPDATE left as it was) only the
    // onion outputs. One statement on MySQL and PostgreSQL. A job claimed without any (its
    // first attempt) has none: only its owner adds them, and its finish is the next.
    const std::string keeps_pdr = "((SELECT run_stage FROM pdr_model_jobs WHERE id = " + id + ") = 'onion')";
    if (dialect_.mysql) {
      sql << "DELETE jf, hf, js FROM pdr_model_jobs j LEFT JOIN job_files jf ON jf.job_id = j.id AND "
             "(j.run_stage <> 'onion' OR jf.kind IN ('onion', 'onion_log')) LEFT JOIN hdf_files hf ON hf.job_id = "
             "j.id AND j.run_stage <> 'onion' LEFT JOIN json_files js ON js.job_id = j.id AND j.run_stage <> "
             "'onion' WHERE j.id = " +
                 id;
    } else {
      const std::string files = "DELETE FROM job_files WHERE job_id = " + id +
                                " AND (kind IN ('onion', 'onion_log') OR NOT " + keeps_pdr + ")";
      const std::string hdf = "DELETE FROM hdf_files WHERE job_id = " + id + " AND NOT " + keeps_pdr;
      const std::string json = "DELETE FROM json_files WHERE job_id = " + id + " AND NOT " + keeps_pdr;
      if (dialect_.pg) {
        sql << "WITH jf AS (" + files + "), hf AS (" + hdf + ") " + json;
      } else {
        sql << files;
        sql << hdf;
        sql << json;
      }
    }
  } else if (c.expect == JobState::Finished) {
    // Outputs recorded for an earlier run are no longer trusted. On MySQL the three file tables
    // are emptied in one round trip; on PostgreSQL the job's outputs are cleared in the same
    // statement (data-modifying WITH).
    const std::string clear =
        "UPDATE pdr_model_jobs SET run_stage = 'all', output_hdf4_file = NULL, output_textout_file = NULL, "
        "output_chemchk_file = NULL, output_mcdrt_zip_file = NULL, output_ctrl_ind_file = NULL, "
        "output_hdf5_file = NULL, input_pdrnew_inp_file = NULL, input_json_file = NULL, log_file = NULL "
        "WHERE id = ";
    if (dialect_.pg) {
      sql << "WITH jf AS (DELETE FROM job_files WHERE job_id = " + id +
                 "), hf AS (DELETE FROM hdf_files WHERE job_id = " + id +
                 "), js AS (DELETE FROM json_files WHERE job_id = " + id + ") " + clear + id;
    } else if (dialect_.mysql) {
      sql << "DELETE jf, hf, js FROM pdr_model_jobs j LEFT JOIN job_files jf ON jf.job_id = j.id LEFT JOIN "
             "hdf_files hf ON hf.job_id = j.id LEFT JOIN json_files js ON js.job_id = j.id WHERE j.id = :id",
          soci::use(c.job_id);
    } else {
      sql << "DELETE FROM job_files WHERE job_id = :id", soci::use(c.job_id);
      sql << "DELETE FROM hdf_files WHERE job_id = :id", soci::use(c.job_id);
      sql << "DELETE FROM json_files WHERE job_id = :id", soci::use(c.job_id);
    }
    if (!dialect_.pg) sql << clear + id;
  }
  if (c.next == JobState::Finished) {
    record_files(sql, c);
  } else if (c.next == JobState::Failed || c.retry) {
    record_log(sql, c);
  }
}

}  // namespace pdr
