#include "pdr/runner.h"

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>

#include "pdr/journal.h"
#include "pdr/stop_signal.h"

namespace pdr {
namespace {

class TbbExecutor : public JobExecutor {
 public:
  TbbExecutor(int workers, std::function<JobResult(const ClaimedJob&)> work)
      : control_(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(workers) + 1),
        arena_(workers, 0),
        work_(std::move(work)) {}

  ~TbbExecutor() override {
    // Every started job must have been waited for; wait for stragglers defensively.
    while (outstanding_ > 0) wait_one();
  }

  void start(const ClaimedJob& job) override {
    ++outstanding_;
    arena_.enqueue([this, job] {
      JobResult r = work_(job);
      std::lock_guard<std::mutex> lock(mutex_);  // notified under the lock: the loop may destroy us next
      results_.push_back(std::move(r));
      ready_.notify_one();
    });
  }

  JobResult wait_one() override {
    JobResult r;
    wait_for(-1, &r);
    return r;
  }

  bool wait_for(double seconds, JobResult* result) override {
    std::unique_lock<std::mutex> lock(mutex_);
    auto has_result = [this] { return !results_.empty(); };
    if (seconds < 0) {
      ready_.wait(lock, has_result);
    } else if (!ready_.wait_for(lock, std::chrono::duration<double>(seconds), has_result)) {
      return false;
    }
    *result = std::move(results_.front());
    results_.pop_front();
    --outstanding_;
    return true;
  }

 private:
  tbb::global_control control_;
  tbb::task_arena arena_;
  std::function<JobResult(const ClaimedJob&)> work_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<JobResult> results_;  // GUARDED_BY(mutex_)
  int outstanding_ = 0;            // touched by the loop thread only
};

}  // namespace

std::unique_ptr<JobExecutor> make_tbb_executor(int workers, std::function<JobResult(const ClaimedJob&)> work) {
  return std::make_unique<TbbExecutor>(workers, std::move(work));
}

std::shared_ptr<StopSignal> ActiveJobs::add(const ClaimedJob& job) {
  auto cancel = std::make_shared<StopSignal>();
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_[job.id] = Entry{job.epoch, cancel};
  return cancel;
}

void ActiveJobs::remove(long long job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_.erase(job_id);
}

std::shared_ptr<StopSignal> ActiveJobs::cancel_signal(long long job_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : it->second.cancel;
}

std::map<long long, long long> ActiveJobs::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<long long, long long> out;
  for (const auto& [id, e] : jobs_) out[id] = e.epoch;
  return out;
}

std::vector<long long> ActiveJobs::fence(const std::map<long long, long long>& before,
                                         const std::map<long long, long long>& held) {
  std::vector<long long> lost;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [id, epoch] : before) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.epoch != epoch) continue;  // finished meanwhile
    auto h = held.find(id);
    if (h != held.end() && h->second == epoch) continue;
    it->second.cancel->request();
    lost.push_back(id);
  }
  return lost;
}

void ActiveJobs::cancel_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, e] : jobs_) e.cancel->request();
}

namespace {

// Renews this process's leases every heartbeat, stops jobs whose lease was taken over, and
// returns expired jobs of dead owners to the queue. Runs beside the loop on its own thread.
class Heartbeat {
 public:
  Heartbeat(JobStore& store, const Owner& owner, const RunOptions& options)
      : store_(store), owner_(owner), options_(options) {
    if (options_.heartbeat_seconds > 0) thread_ = std::thread([this] { loop(); });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    bool failing = false;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::seconds(options_.heartbeat_seconds), [this] { return done_; })) {
      lock.unlock();
      beat(&failing);
      lock.lock();
    }
  }

  void beat(bool* failing) {
    const auto before = options_.active != nullptr ? options_.active->snapshot() : std::map<long long, long long>{};
    auto held = store_.renew_leases(owner_);
    if (!held.ok()) {
      // Jobs keep running through an outage; their outcomes go to the journal.
      if (!*failing) spdlog::warn("could not renew leases (jobs keep running): {}", held.status().message());
      *failing = true;
      return;
    }
    if (*failing) spdlog::info("leases renewed again");
    *failing = false;
    if (options_.active != nullptr) {
      for (long long id : options_.active->fence(before, held.value())) {
        spdlog::warn("[job {}] lease lost (another process took the job over): stopping its programs; "
                     "its outcome will not be recorded", id);
      }
    }
    auto reaped = store_.reap_expired();
    if (reaped.ok() && reaped.value() > 0) {
      spdlog::warn("{} running jobs of other processes had expired leases: back to pending", reaped.value());
    }
  }

  JobStore& store_;
  const Owner& owner_;
  const RunOptions& options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

RunSummary run_jobs(JobStore& store, JobExecutor& executor, long long model_id, int workers, const Owner& owner,
                    const StopSignal& stop, const ResultObserver& observe, const RunOptions& options) {
  using clock = std::chrono::steady_clock;
  auto span = [](double seconds) {
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  };
  const auto start = clock::now();
  RunSummary summary;
  int running = 0;
  bool exhausted = false;    // nothing left that this process may have to run
  bool db_down = false;      // outcomes go to the journal until a replay succeeds
  bool db_gone = false;
  bool database_failed = false;  // the stop came from the database      // the database stayed unreachable past its deadline: nothing more is written
  bool cancelled = false;    // after a database failure, the jobs' programs were stopped
  Status outage;             // why the database is unreachable
  auto next_try = clock::now();
  auto last_reap = clock::now();
  const auto poll = span(options.outage_poll_seconds);
  const auto outage_wait = span(options.outage_wait_seconds);
  // A peer that died a moment ago has not missed a heartbeat yet: its jobs still look owned.
  // Before it ends beside other processes' running jobs, a process looks again one heartbeat
  // later, so every owner that is dead now shows as such (see Backlog::unproven).
  const auto proof_window = span(options.heartbeat_seconds > 0 ? options.heartbeat_seconds + 2.0 : 0.0);
  std::optional<clock::time_point> idle_since;   // nothing running while the database is unreachable
  std::optional<clock::time_point> quiet_since;  // nothing claimable, only other processes' jobs running
  auto go_down = [&](const Status& why) {
    if (!db_down) {
      spdlog::warn("database unreachable ({}); running jobs go on and their outcomes are kept in {} until it is back",
                   why.message(), options.journal->path());
    }
    db_down = true;
    outage = why;
    next_try = clock::now() + poll;
  };
  // A database error: an outage to ride out in the journal while jobs run, or the end of the run.
  // Errors the journal can ride out: the database may answer later. An outcome whose write
  // may or may not have landed is among them: its replay is conditional and idempotent.
  auto recoverable = [](const Status& st) {
    return st.kind() == ErrorKind::kTransient || st.kind() == ErrorKind::kOutcomeUnknown;
  };
  auto database_error = [&](const Status& st) {
    if (options.journal != nullptr && running > 0 && recoverable(st)) {
      go_down(st);
    } else if (summary.fatal.ok()) {
      summary.fatal = st;
      database_failed = true;
      db_gone = recoverable(st);
    }
  };
  Heartbeat heartbeat(store, owner, options);
  for (;;) {
    if (database_failed && !cancelled) {
      // Nothing more will be recorded as usual: stop the programs of the running jobs now rather
      // than leave them to finish for nobody; they come back here as stopped and are handed back.
      cancelled = true;
      if (options.active != nullptr) options.active->cancel_all();
    }
    const bool stopping = stop.requested() || !summary.fatal.ok();
    if (db_down && !stopping && clock::now() >= next_try) {
      // Try the database again every poll, also while jobs still run: outcomes are recorded
      // and claiming resumes as soon as it answers.
      auto replay = options.journal->replay(store, options.settle_outputs);
      if (replay.ok()) {
        spdlog::info("database reachable again: {} journaled outcomes recorded, {} no longer current",
                     replay->applied, replay->rejected);
        summary.replayed += replay->applied;
        summary.lost += replay->rejected;
        db_down = false;
        exhausted = false;  // a replayed failure may be pending again
        idle_since.reset();
      } else {
        outage = replay.status();
        next_try = clock::now() + poll;
      }
    }
    if (db_down && running == 0 && !stopping) {
      if (!idle_since) idle_since = clock::now();
      if (clock::now() - *idle_since >= outage_wait) {
        summary.fatal = outage;  // ends the run; the journal stays for the next one
        database_failed = db_gone = true;
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    bool waiting = false;  // something may become claimable without a job of ours ending
    if (!stopping && !db_down && !exhausted && running < workers) {
      auto claimed = store.claim_jobs(model_id, workers - running, owner);
      if (!claimed.ok()) {
        database_error(claimed.status());
      } else if (claimed->empty()) {
        // Nothing claimable: done only when nothing is pending and no running job may come
        // back. Rows another session holds locked, jobs waiting for a retry and jobs of owners
        // that stopped renewing still count: wait for them (and reap them when they expire).
        auto left = store.backlog(model_id);
        if (!left.ok()) {
          database_error(left.status());
        } else if (left->pending + left->unproven > 0) {
          quiet_since.reset();
          waiting = true;
        } else if (left->running > running && proof_window.count() > 0) {
          if (!quiet_since) quiet_since = clock::now();
          exhausted = clock::now() - *quiet_since >= proof_window;
          waiting = !exhausted;
        } else {
          exhausted = true;
        }
        if (exhausted) quiet_since.reset();  // a later look proves its own window
        if (waiting && running == 0) {
          if (clock::now() - last_reap > std::chrono::seconds(1)) {
            (void)store.reap_expired();
            last_reap = clock::now();
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(250));
          continue;
        }
      } else {
        quiet_since.reset();
        for (const auto& job : claimed.value()) {
          if (options.active != nullptr) options.active->add(job);
          executor.start(job);
          ++running;
        }
      }
    }
    if (running == 0) {
      if (stopping || exhausted || db_gone) break;
      continue;
    }
    double wait_seconds = -1;  // until a job ends
    if (db_down) {
      wait_seconds = std::max(0.05, std::chrono::duration<double>(next_try - clock::now()).count());
    } else if (waiting) {
      wait_seconds = 1;
    }
    JobResult r;
    if (!executor.wait_for(wait_seconds, &r)) continue;
    --running;
    // Look again before ending: while this job ran, a peer may have died and its jobs been
    // reaped back to pending (by this process's own heartbeat, too).
    exhausted = false;
    if (options.active != nullptr) options.active->remove(r.job.id);
    auto settle = [&](const StatusChange& c, bool applied) {
      return options.settle_outputs ? options.settle_outputs(c, applied) : Status::Ok();
    };
    if (cancelled && r.state == JobState::Pending) r.error = "stopped: the run ends (" + summary.fatal.message() + ")";
    if (r.host_failure && !stop.requested() && summary.fatal.ok()) {
      // Every job here would fail the same way: claim nothing more (the running jobs finish and
      // are recorded). The job itself is recorded as a failed attempt like any other: should
      // it be the cause (outputs larger than the disk), it cannot stop the nodes one by one.
      summary.fatal = Status::Io(r.error + " — every job on this host would fail the same way; stopping");
    }
    StatusChange change;
    change.job_id = r.job.id;
    change.expect = JobState::Running;
    change.token = owner.token;
    change.epoch = r.job.epoch;
    change.next = r.state;
    change.exit_code = r.exit_code;
    change.error = r.error;
    change.retry = options.retry_failures && r.state == JobState::Failed;
    change.files = r.files;  // recorded with a finish only; settled (promoted) with any outcome
    if (!db_down && !db_gone) {
      auto recorded = store.record_outcome(change);
      if (recorded.ok()) {
        Status kept = settle(change, recorded->applied);
        if (!recorded->applied) {
          ++summary.lost;
          spdlog::warn("[job {} {}] outcome not recorded: the job's lease was taken over by another process",
                       r.job.id, r.job.name);
          continue;
        }
        if (!kept.ok() && recorded->state == JobState::Finished) {
          // Its outputs could not take their names: recorded as a failed attempt instead (it
          // counts against max_attempts like any failure; see settle_outputs).
          ++summary.retried;
          exhausted = false;
          r.state = JobState::Pending;
          r.error = "storage: " + kept.message();
        } else if (recorded->state == JobState::Finished) {
          ++summary.finished;
        } else if (recorded->state == JobState::Failed) {
          ++summary.failed;
          r.error = recorded->error;
        } else if (r.state == JobState::Failed) {
          ++summary.retried;
          exhausted = false;  // it is pending again: wait for its retry
          r.state = JobState::Pending;
          r.error = recorded->error;
        } else {
          ++summary.released;
        }
        if (observe) observe(r);
        continue;
      }
      if (options.journal == nullptr || !recoverable(recorded.status())) {
        // A write the database refuses (a constraint, a missing table): keep the outcome in the
        // journal and end the run; the other results are still recorded where they can be.
        if (summary.fatal.ok()) summary.fatal = recorded.status();
        database_failed = true;
      } else {
        go_down(recorded.status());
      }
    }
    // The database cannot take it now: keep it in the journal (the next replay, or the next
    // run on this host, records it), or count it as unrecorded when there is no journal.
    r.journaled = true;
    if (options.journal == nullptr) {
      ++summary.unrecorded;
      (void)settle(change, false);
    } else if (Status st = options.journal->append(change); !st.ok()) {
      if (summary.fatal.ok()) summary.fatal = st;
      ++summary.unrecorded;
      (void)settle(change, false);
    } else {
      ++summary.journaled;
    }
    if (observe) observe(r);
  }
  summary.interrupted = stop.requested();
  if (!db_down && !db_gone) {
    // Anything of ours still marked running goes back to pending: a write that failed above,
    // or a claim whose answer was lost although it landed (those jobs never started here).
    auto n = store.release_jobs(owner);
    if (n.ok()) summary.released += n.value();
  }
  if (!db_down && !db_gone) {
    auto states = store.state_counts(model_id);
    if (states.ok()) summary.model_states = states.value();
  }
  if ((db_down || db_gone) && options.journal != nullptr) {
    summary.unrecorded += static_cast<long long>(options.journal->size());
  }
  summary.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return summary;
}

}  // namespace pdr
