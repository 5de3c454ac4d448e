// The claim loop of one process (run_jobs): claims while workers are free, starts the jobs on
// the executor, records each result (or keeps it in the outage journal while the database is
// unreachable), and ends when nothing is left that this process may have to run, on a stop, or
// on a database failure. The loop runs on the caller's thread; the heartbeat runs beside it.
#include "pdr/runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "engine/heartbeat.h"
#include "pdr/journal.h"
#include "pdr/process.h"
#include "pdr/runtime_prediction.h"
#include "pdr/stop_signal.h"
#include "util/text.h"

namespace pdr {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration span(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Errors the journal can ride out: the database may answer later. An outcome whose write may or
// may not have landed is among them: its replay is conditional and idempotent.
bool recoverable(const Status& st) {
  return st.kind() == ErrorKind::kTransient || st.kind() == ErrorKind::kOutcomeUnknown ||
         st.kind() == ErrorKind::kInterrupted;
}

class ClaimLoop {
 public:
  ClaimLoop(JobStore& store, JobExecutor& executor, long long model_id, int workers, const Owner& owner,
            const StopSignal& stop, const ResultObserver& observe, const RunOptions& options)
      : store_(store),
        executor_(executor),
        model_id_(model_id),
        workers_(workers),
        owner_(owner),
        stop_(stop),
        observe_(observe),
        options_(options),
        poll_(span(options.outage_poll_seconds)),
        outage_wait_(span(options.outage_wait_seconds)),
        // A peer that died a moment ago has not missed a heartbeat yet: its jobs still look
        // owned. Before it ends beside other processes' running jobs, a process looks again one
        // heartbeat later, so every owner that is dead now shows as such (see Backlog::unproven).
        // The database's clock counts whole seconds: one more than the heartbeat and the two
        // seconds Backlog::unproven allows, so a heartbeat in the second of the first look is
        // old enough at the second.
        proof_window_(span(options.heartbeat_seconds > 0 ? options.heartbeat_seconds + 3.0 : 0.0)) {}

  RunSummary run();

 private:
  bool stop_claiming() const { return stop_.requested() || !summary_.fatal.ok(); }
  void stop_programs_after_failure();
  void try_replay();
  void wait_out_outage();
  bool claim();  // false: nothing to do until something changes (the loop starts its next turn)
  Result<std::vector<ClaimedJob>> claim_in_time(int free);
  Status plan_claims();
  void wait_for_backlog();
  void start(const std::vector<ClaimedJob>& jobs);
  void record_together(std::vector<JobResult> done);
  Outcome outcome_of(JobResult& r);
  bool write_outcome(JobResult& r, const Outcome& outcome);
  void write_refused(const Status& why);
  void recorded(JobResult& r, const Outcome& outcome, const RecordedOutcome& rec);
  void count_end(const JobResult& r, JobState state, const std::string& error = {});
  void keep_in_journal(JobResult& r, const Outcome& outcome);
  Settled settle(const Outcome& o, bool applied) const {
    return options_.settle_outputs ? options_.settle_outputs(o, applied) : Settled();
  }
  void go_down(const Status& why);
  void database_error(const Status& st);
  void finish();

  JobStore& store_;
  JobExecutor& executor_;
  const long long model_id_;
  const int workers_;
  const Owner& owner_;
  const StopSignal& stop_;
  const ResultObserver& observe_;
  const RunOptions& options_;
  const Clock::duration poll_, outage_wait_, proof_window_;

  RunSummary summary_;
  // The jobs that ended (finished or failed for good) in this run, by how they ended last: a job
  // queued again meanwhile (`pdr_run retry`, verify) and ended again is counted once.
  std::unordered_map<long long, JobState> ended_;
  int running_ = 0;
  bool stopping_ = false;         // this turn: stopped, or a fatal error (claim nothing more)
  bool waiting_ = false;          // this turn: something may become claimable without a job of ours ending
  bool exhausted_ = false;        // nothing left that this process may have to run
  bool db_down_ = false;          // outcomes go to the journal until a replay succeeds
  bool db_gone_ = false;          // the database stayed unreachable past its deadline: nothing more is written
  bool database_failed_ = false;  // the stop came from the database
  bool cancelled_ = false;        // after a database failure, the jobs' programs were stopped
  Status outage_;                 // why the database is unreachable
  Clock::time_point next_try_ = Clock::now();
  Clock::time_point last_reap_ = Clock::now();
  std::optional<Clock::time_point> idle_since_;   // nothing running while the database is unreachable
  std::optional<Clock::time_point> quiet_since_;  // nothing claimable, only other processes' jobs running
  // Walltime-aware claiming: the pending jobs with their predictions, longest first.
  std::vector<ChosenJob> plan_;
  std::optional<Clock::time_point> planned_at_;
  long long planned_after_ = -1;  // jobs finished by this process when the plan was made
  size_t plan_samples_ = 0;       // finished jobs it was predicted from
};

RunSummary ClaimLoop::run() {
  const auto start = Clock::now();
  Heartbeat heartbeat(store_, owner_, options_);
  for (;;) {
    stop_programs_after_failure();
    stopping_ = stop_claiming();
    if (db_down_ && !stopping_ && Clock::now() >= next_try_) try_replay();
    if (db_down_ && running_ == 0 && !stopping_) {
      wait_out_outage();
      continue;
    }
    waiting_ = false;
    if (!stopping_ && !db_down_ && !exhausted_ && running_ < workers_ && !claim()) continue;
    if (running_ == 0) {
      if (stopping_ || exhausted_ || db_gone_) break;
      continue;
    }
    double wait_seconds = -1;  // until a job ends
    if (db_down_) {
      wait_seconds = std::max(0.05, std::chrono::duration<double>(next_try_ - Clock::now()).count());
    } else if (waiting_) {
      wait_seconds = 1;
    }
    JobResult r;
    if (executor_.wait_for(wait_seconds, &r)) {
      // The jobs that ended meanwhile too: their finishes share one transaction.
      std::vector<JobResult> done;
      done.push_back(std::move(r));
      while (static_cast<int>(done.size()) < running_ && executor_.try_take(&r)) done.push_back(std::move(r));
      record_together(std::move(done));
    }
  }
  finish();
  summary_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary_;
}

// Nothing more will be recorded as usual: stop the programs of the running jobs now rather than
// leave them to finish for nobody; they come back here as stopped and are handed back.
void ClaimLoop::stop_programs_after_failure() {
  if (!database_failed_ || cancelled_) return;
  cancelled_ = true;
  if (options_.active != nullptr) options_.active->cancel_all();
}

void ClaimLoop::count_end(const JobResult& r, JobState state, const std::string& error) {
  const long long id = r.job.id;
  auto [it, first] = ended_.try_emplace(id, state);
  if (!first) {
    --(it->second == JobState::Finished ? summary_.finished : summary_.failed);
    if (it->second == JobState::Failed) {
      auto& f = summary_.failures;
      f.erase(std::remove_if(f.begin(), f.end(), [id](const FailedJob& j) { return j.id == id; }), f.end());
    }
    it->second = state;
  }
  ++(state == JobState::Finished ? summary_.finished : summary_.failed);
  if (state == JobState::Failed) summary_.failures.push_back({id, r.job.name, error});
}

// Tries the database again every poll, also while jobs still run: outcomes are recorded and
// claiming resumes as soon as it answers.
void ClaimLoop::try_replay() {
  ReplayReport got;  // what was handled, also when the database stopped it again
  auto replay = options_.journal->replay(store_, options_.settle_outputs, &got);
  summary_.replayed += got.applied;
  summary_.lost += got.rejected;
  // A replayed finish whose outputs could not take their names: counted by the state it was
  // recorded in instead.
  summary_.retried += got.retried;
  summary_.failed += got.failed;
  summary_.finished += got.unstored;
  summary_.unstored += got.unstored;
  if (!replay.ok()) {
    outage_ = replay.status();
    next_try_ = Clock::now() + poll_;
    return;
  }
  spdlog::info("database reachable again: {} journaled outcomes recorded, {} no longer current{}", got.applied,
               got.rejected,
               got.retried + got.failed + got.unstored == 0
                   ? std::string()
                   : fmt::format(", {} finishes that could not keep their outputs ({} queued again, {} failed for "
                                 "good, {} left recorded finished without them)",
                                 got.retried + got.failed + got.unstored, got.retried, got.failed, got.unstored));
  db_down_ = false;
  exhausted_ = false;  // a replayed failure may be pending again
  idle_since_.reset();
}

// Nothing runs and the database does not answer: wait for it up to run.outage_wait, then end the
// run (the journal stays for the next one).
void ClaimLoop::wait_out_outage() {
  if (!idle_since_) idle_since_ = Clock::now();
  if (Clock::now() - *idle_since_ >= outage_wait_) {
    summary_.fatal = outage_;
    database_failed_ = db_gone_ = true;
    return;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

bool ClaimLoop::claim() {
  const int free = workers_ - running_;
  auto claimed = options_.deadline ? claim_in_time(free) : store_.claim_jobs(model_id_, free, owner_);
  if (!claimed.ok()) {
    database_error(claimed.status());
    return true;
  }
  if (!claimed->empty()) {
    quiet_since_.reset();
    start(claimed.value());
    return true;
  }
  if (summary_.out_of_time) {
    // Nothing left fits before the end: the running jobs finish, nothing more starts.
    exhausted_ = true;
    return true;
  }
  wait_for_backlog();
  if (waiting_ && running_ == 0) {
    if (Clock::now() - last_reap_ > std::chrono::seconds(1)) {
      // An owner of this host that is gone and silent renews nothing: its jobs come back now,
      // not when the rest of their lease has run out.
      (void)store_.end_leases_of_gone_owners(model_id_, owner_.token, process_gone);
      (void)store_.reap_expired();
      last_reap_ = Clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    return false;
  }
  return true;
}

// The pending jobs with their predicted run times, longest first, from the run times of the
// model's finished jobs. Made again every half minute, when this process finished a job while
// the model had few run times to predict from, and when it has no job left that fits.
Status ClaimLoop::plan_claims() {
  size_t samples = 0;
  auto plan = predict_pending(store_, model_id_, options_.expected_job_seconds, &samples);
  if (!plan.ok()) return plan.status();
  plan_ = std::move(plan.value());
  planned_at_ = Clock::now();
  planned_after_ = summary_.finished;
  plan_samples_ = samples;
  return Status::Ok();
}

Result<std::vector<ClaimedJob>> ClaimLoop::claim_in_time(int free) {
  const auto now = Clock::now();
  const bool stale = !planned_at_ || now - *planned_at_ > std::chrono::seconds(30) ||
                     (plan_samples_ < RuntimePredictor::kMinSamples * 4 && summary_.finished != planned_after_);
  bool fresh = false;
  for (;;) {
    if (!fresh && (stale || plan_.empty())) {
      if (Status st = plan_claims(); !st.ok()) return st;
      fresh = true;
    }
    const double left =
        std::chrono::duration<double>(*options_.deadline - Clock::now()).count() - options_.end_margin_seconds;
    const double planned_ago = std::chrono::duration<double>(Clock::now() - *planned_at_).count();
    std::vector<ChosenJob> want;
    long long unfit = 0;
    double shortest = -1, shortest_wait = 0;  // the unfit job that would end first, and its retry wait
    bool unknown = false, later = false;
    for (const auto& c : plan_) {
      // A failure waiting for its retry delay can start only after it: that counts against the time.
      const double wait = std::max(0.0, c.retry_in_seconds - planned_ago);
      if (c.predicted_seconds < 0 && left - wait > 0) {
        unknown = true;  // nothing to predict from: it may fit
      } else if (c.predicted_seconds < 0 || wait + c.predicted_seconds > left) {
        ++unfit;  // no time left at all fits nothing, predicted or not
        if (c.predicted_seconds >= 0 && (shortest < 0 || wait + c.predicted_seconds < shortest_wait + shortest)) {
          shortest = c.predicted_seconds;
          shortest_wait = wait;
        }
        continue;
      }
      if (wait > 0) {
        later = true;  // fits, once its retry delay is over: wait for it
        continue;
      }
      if (want.size() < static_cast<size_t>(free) * 3) want.push_back(c);
    }
    if (unknown && !summary_.unpredicted) {
      summary_.unpredicted = true;
      spdlog::warn(
          "no job of this model has finished yet and run.expected_job_seconds is not set: jobs are claimed "
          "without a predicted run time until one finishes");
    }
    if (!want.empty()) {
      auto claimed = store_.claim_chosen(model_id_, want, free, owner_);
      if (!claimed.ok()) return claimed;
      // Tried: claimed, or held by another claimer or waiting for a retry (a later plan has them
      // again if they are still pending).
      std::set<long long> tried;
      for (const auto& w : want) tried.insert(w.id);
      plan_.erase(std::remove_if(plan_.begin(), plan_.end(), [&](const ChosenJob& c) { return tried.count(c.id) > 0; }),
                  plan_.end());
      return claimed;
    }
    if (unfit == 0 || later) return std::vector<ClaimedJob>{};  // nothing pending (the usual end), or not yet
    if (!fresh) {
      plan_.clear();  // an old plan: look again before giving up
      continue;
    }
    summary_.out_of_time = true;
    summary_.did_not_fit = unfit;
    summary_.shortest_unfit = shortest;
    summary_.shortest_wait = shortest_wait;
    summary_.no_time_left = left <= 0;
    return std::vector<ClaimedJob>{};
  }
}

// Nothing claimable: done only when nothing is pending and no running job may come back. Rows
// another session holds locked, jobs waiting for a retry and jobs of owners that stopped
// renewing still count: wait for them (and reap them when they expire).
void ClaimLoop::wait_for_backlog() {
  auto left = store_.backlog(model_id_);
  if (!left.ok()) {
    database_error(left.status());
  } else if (left->pending + left->unproven > 0) {
    quiet_since_.reset();
    waiting_ = true;
  } else if (left->running > running_ && proof_window_.count() > 0) {
    if (!quiet_since_) quiet_since_ = Clock::now();
    exhausted_ = Clock::now() - *quiet_since_ >= proof_window_;
    waiting_ = !exhausted_;
  } else {
    exhausted_ = true;
  }
  if (exhausted_) quiet_since_.reset();  // a later look proves its own window
}

void ClaimLoop::start(const std::vector<ClaimedJob>& jobs) {
  for (const auto& job : jobs) {
    if (options_.active != nullptr) options_.active->add(job);
    executor_.start(job);
    ++running_;
  }
}

// Jobs that ended (one, or several together): their finishes in one transaction (one commit
// instead of one each), with the claim of the jobs that replace them when this turn would claim
// anyway (one commit for a worker's step from one job to the next); the rest one by one. A batch
// the database refuses (not an outage) is written one by one, so that one job's refused write
// does not take the others' results with it; the claim then comes in the next turn as usual.
void ClaimLoop::record_together(std::vector<JobResult> done) {
  std::vector<Outcome> outcomes;
  for (auto& r : done) outcomes.push_back(outcome_of(r));
  std::vector<bool> written(done.size(), false);
  std::vector<size_t> finishes;
  for (size_t i = 0; i < done.size(); ++i) {
    if (outcomes[i].state == JobState::Finished) finishes.push_back(i);
  }
  // Walltime-aware claiming plans its claims itself (claim_in_time).
  const bool claim_along =
      !finishes.empty() && !stop_claiming() && !database_failed_ && !options_.deadline && running_ < workers_;
  std::vector<ClaimedJob> claimed;
  bool refused = false;
  if (!db_down_ && !db_gone_ && (finishes.size() > 1 || claim_along)) {
    std::vector<Outcome> batch;
    for (size_t i : finishes) batch.push_back(outcomes[i]);
    Result<std::vector<RecordedOutcome>> recorded_all = std::vector<RecordedOutcome>{};
    if (claim_along) {
      auto both = store_.record_finishes_and_claim(batch, model_id_, workers_ - running_, owner_);
      if (both.ok()) {
        recorded_all = std::move(both->recorded);
        claimed = std::move(both->claimed);
      } else {
        recorded_all = both.status();
      }
    } else {
      recorded_all = store_.record_finishes(batch);
    }
    if (recorded_all.ok()) {
      for (size_t k = 0; k < finishes.size(); ++k) {
        recorded(done[finishes[k]], outcomes[finishes[k]], recorded_all->at(k));
        written[finishes[k]] = true;
      }
    } else if (recoverable(recorded_all.status())) {
      // Not taking writes: trying each alone would only wait as long again.
      write_refused(recorded_all.status());
      refused = true;
    }
  }
  for (size_t i = 0; i < done.size(); ++i) {
    if (written[i]) continue;
    if (!refused && !db_down_ && !db_gone_ && write_outcome(done[i], outcomes[i])) continue;
    keep_in_journal(done[i], outcomes[i]);
  }
  if (!claimed.empty()) {
    quiet_since_.reset();
    start(claimed);
  }
}

// The bookkeeping of an ended job before its outcome is written.
Outcome ClaimLoop::outcome_of(JobResult& r) {
  --running_;
  // Look again before ending: while this job ran, a peer may have died and its jobs been reaped
  // back to pending (by this process's own heartbeat, too).
  exhausted_ = false;
  std::vector<StageStart> starts;
  if (options_.active != nullptr) starts = options_.active->remove(r.job.id);
  if (cancelled_ && r.state == JobState::Pending) r.error = "stopped: the run ends (" + summary_.fatal.message() + ")";
  if (r.host_failure && !stop_.requested() && summary_.fatal.ok()) {
    // Every job here would fail the same way: claim nothing more (the running jobs finish and
    // are recorded). The job itself is recorded as a failed attempt like any other: should it
    // be the cause (outputs larger than the disk), it cannot stop the nodes one by one.
    summary_.fatal = Status::Io(r.error + " — every job on this host would fail the same way; stopping");
  }
  Outcome outcome;
  outcome.job_id = r.job.id;
  outcome.token = owner_.token;
  outcome.epoch = r.job.epoch;
  outcome.state = r.state;
  outcome.stage = r.stage;
  outcome.cause = r.cause;
  outcome.exit_code = r.exit_code;
  outcome.error = r.error;
  outcome.retry = options_.retry_failures && r.state == JobState::Failed;
  outcome.files = r.files;  // recorded with a finish only; settled (promoted) with any outcome
  outcome.stage_starts = std::move(starts);
  outcome.earlier_files = r.job.earlier_files;
  return outcome;
}

// Writes the outcome; false when the database cannot take it now (the journal keeps it).
bool ClaimLoop::write_outcome(JobResult& r, const Outcome& outcome) {
  auto rec = store_.record_outcome(outcome);
  if (!rec.ok()) {
    write_refused(rec.status());
    return false;
  }
  recorded(r, outcome, rec.value());
  return true;
}

void ClaimLoop::write_refused(const Status& why) {
  if (options_.journal == nullptr || !recoverable(why)) {
    // A write the database refuses (a constraint, a missing table): keep the outcome in the
    // journal and end the run; the other results are still recorded where they can be.
    if (summary_.fatal.ok()) summary_.fatal = why;
    database_failed_ = true;
  } else {
    go_down(why);
  }
}

// The outcome is in the database (or was rejected there: its lease was lost).
void ClaimLoop::recorded(JobResult& r, const Outcome& outcome, const RecordedOutcome& rec) {
  const Settled kept = settle(outcome, rec.applied);
  if (!rec.applied) {
    ++summary_.lost;
    spdlog::warn("[job {} {}] outcome not recorded: the job's lease was taken over by another process", r.job.id,
                 r.job.name);
    return;
  }
  if (!kept.status.ok() && rec.state == JobState::Finished && kept.state == JobState::Failed) {
    // Its outputs could not take their names, on its last attempt: failed for good.
    r.state = JobState::Failed;
    r.error = "storage: " + kept.status.message();
    count_end(r, JobState::Failed, r.error);
  } else if (!kept.status.ok() && rec.state == JobState::Finished && kept.state != JobState::Finished) {
    // Recorded as a failed attempt instead (it counts against max_attempts like any failure;
    // see settle_outputs).
    ++summary_.retried;
    exhausted_ = false;
    r.state = JobState::Pending;
    r.error = "storage: " + kept.status.message();
  } else if (rec.state == JobState::Finished) {
    count_end(r, JobState::Finished);
    if (!kept.status.ok()) ++summary_.unstored;  // still recorded finished, without its outputs
  } else if (rec.state == JobState::Failed) {
    r.error = rec.error;
    count_end(r, JobState::Failed, r.error);
  } else if (r.state == JobState::Failed) {
    ++summary_.retried;
    exhausted_ = false;  // it is pending again: wait for its retry
    r.state = JobState::Pending;
    r.error = rec.error;
  } else {
    ++summary_.released;
  }
  if (observe_) observe_(r);
}

// The database cannot take it now: keep it in the journal (the next replay, or the next run on
// this host, records it), or count it as unrecorded when there is no journal.
void ClaimLoop::keep_in_journal(JobResult& r, const Outcome& outcome) {
  r.journaled = true;
  if (options_.journal == nullptr) {
    ++summary_.unrecorded;
    (void)settle(outcome, false);
  } else if (Status st = options_.journal->append(outcome); !st.ok()) {
    if (summary_.fatal.ok()) summary_.fatal = st;
    ++summary_.unrecorded;
    (void)settle(outcome, false);
  } else {
    ++summary_.journaled;
  }
  if (observe_) observe_(r);
}

void ClaimLoop::go_down(const Status& why) {
  if (!db_down_ && stop_.requested()) {
    spdlog::warn("database not taking writes ({}); the stopped jobs' outcomes are kept in {}", why.message(),
                 options_.journal->path());
  } else if (!db_down_) {
    spdlog::warn(
        "database not taking writes ({}); running jobs go on and their outcomes are kept in {} until it is back",
        why.message(), options_.journal->path());
  }
  db_down_ = true;
  outage_ = why;
  next_try_ = Clock::now() + poll_;
}

// A database error: an outage to ride out in the journal while jobs run, or the end of the run.
void ClaimLoop::database_error(const Status& st) {
  if (options_.journal != nullptr && running_ > 0 && recoverable(st)) {
    go_down(st);
  } else if (summary_.fatal.ok()) {
    summary_.fatal = st;
    database_failed_ = true;
    db_gone_ = recoverable(st);
  }
}

void ClaimLoop::finish() {
  summary_.interrupted = stop_.requested();
  if (!db_down_ && !db_gone_) {
    // Anything of ours still marked running goes back to pending: a write that failed above, or
    // a claim whose answer was lost although it landed (those jobs never started here).
    auto n = store_.release_jobs(owner_);
    if (n.ok()) summary_.released += n.value();
    auto states = store_.state_counts(model_id_);
    if (states.ok()) summary_.model_states = states.value();
    // Rows the Python pdr_run inserted meanwhile (the registration took in those before).
    auto unclassified = store_.unclassified_rows(model_id_);
    if (unclassified.ok()) summary_.unclassified = unclassified.value();
    if (states.ok() && states->count("running") > 0 && states->at("running") > 0) {
      auto ownerless = store_.ownerless_running(model_id_);
      if (ownerless.ok()) summary_.ownerless_running = ownerless.value();
    }
  }
  // Outcomes still in the journal (an outage, or an error no retry mends, such as a privilege
  // taken away): the closing lines name it, whatever ended the run.
  if (options_.journal != nullptr) summary_.unrecorded += static_cast<long long>(options_.journal->size());
}

}  // namespace

Result<std::vector<ChosenJob>> predict_pending(JobStore& store, long long model_id, std::optional<double> expected,
                                               size_t* samples_used) {
  auto runtimes = store.finished_runtimes(model_id);
  if (!runtimes.ok()) return runtimes.status();
  auto pending = store.pending_jobs(model_id);
  if (!pending.ok()) return pending.status();
  std::vector<RuntimeSample> samples;
  for (const auto& r : runtimes.value()) {
    if (auto p = job_point(r.name)) samples.push_back(RuntimeSample{*p, r.seconds});
  }
  std::vector<std::optional<std::vector<double>>> points;
  std::vector<std::vector<double>> known;
  for (const auto& j : pending.value()) {
    points.push_back(job_point(j.name));
    if (points.back()) known.push_back(*points.back());
  }
  const RuntimePredictor predictor(std::move(samples), known, expected);
  std::vector<ChosenJob> plan;
  plan.reserve(pending->size());
  for (size_t i = 0; i < pending->size(); ++i) {
    Prediction p = points[i] ? predictor.predict(*points[i]) : predictor.unplaced();
    // Its own last attempt ran this long: it takes at least that.
    const double floor = pending->at(i).last_attempt_seconds;
    if (floor > 0 && floor > p.seconds) {
      p.basis = p.known() ? p.basis + "; at least its last attempt's " + duration_text(std::llround(floor))
                          : "its last attempt ran " + duration_text(std::llround(floor));
      p.seconds = floor;
    }
    plan.push_back(ChosenJob{pending->at(i).id, p.seconds, p.basis, pending->at(i).retry_in_seconds});
  }
  std::stable_sort(plan.begin(), plan.end(),
                   [](const ChosenJob& a, const ChosenJob& b) { return a.predicted_seconds > b.predicted_seconds; });
  if (samples_used != nullptr) *samples_used = predictor.samples();
  return plan;
}

RunSummary run_jobs(JobStore& store, JobExecutor& executor, long long model_id, int workers, const Owner& owner,
                    const StopSignal& stop, const ResultObserver& observe, const RunOptions& options) {
  return ClaimLoop(store, executor, model_id, workers, owner, stop, observe, options).run();
}

}  // namespace pdr
