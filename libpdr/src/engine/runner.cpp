#include "pdr/runner.h"

#include <tbb/concurrent_queue.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
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
    arena_.enqueue([this, job] { results_.push(work_(job)); });
  }

  JobResult wait_one() override {
    JobResult r;
    results_.pop(r);
    --outstanding_;
    return r;
  }

 private:
  tbb::global_control control_;
  tbb::task_arena arena_;
  std::function<JobResult(const ClaimedJob&)> work_;
  tbb::concurrent_bounded_queue<JobResult> results_;
  int outstanding_ = 0;  // touched by the loop thread only
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
  const auto start = clock::now();
  RunSummary summary;
  int running = 0;
  bool exhausted = false;
  bool db_down = false;  // outcomes go to the journal until a replay succeeds
  auto next_try = clock::now();
  auto last_reap = clock::now();
  const auto poll = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(options.outage_poll_seconds));
  const auto outage_wait =
      std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(options.outage_wait_seconds));
  std::optional<clock::time_point> idle_since;  // nothing running while the database is unreachable
  auto go_down = [&](const Status& why) {
    if (!db_down) {
      spdlog::warn("database unreachable ({}); running jobs go on and their outcomes are kept in {} until it is back",
                   why.message(), options.journal->path());
    }
    db_down = true;
    next_try = clock::now() + poll;
  };
  Heartbeat heartbeat(store, owner, options);
  for (;;) {
    const bool stopping = stop.requested() || !summary.fatal.ok();
    if (db_down && running == 0 && !stopping) {
      if (!idle_since) idle_since = clock::now();
      if (clock::now() >= next_try) {
        auto replay = options.journal->replay(store, options.settle_outputs);
        if (replay.ok()) {
          spdlog::info("database reachable again: {} journaled outcomes recorded, {} no longer current",
                       replay->applied, replay->rejected);
          summary.replayed += replay->applied;
          summary.lost += replay->rejected;
          db_down = false;
          idle_since.reset();
        } else if (clock::now() - *idle_since >= outage_wait) {
          summary.fatal = replay.status();  // ends the run; the journal stays for the next one
          continue;
        } else {
          next_try = clock::now() + poll;
        }
      }
      if (db_down) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
    }
    if (!stopping && !db_down && !exhausted && running < workers) {
      auto claimed = store.claim_jobs(model_id, workers - running, owner);
      if (!claimed.ok()) {
        if (options.journal != nullptr && running > 0 && claimed.status().kind() == ErrorKind::kTransient) {
          go_down(claimed.status());
        } else {
          summary.fatal = claimed.status();
        }
      } else if (claimed->empty()) {
        // Nothing claimable: done only when nothing is pending. Rows another session holds
        // locked, jobs waiting for a retry and expired leases still count: wait for them.
        auto pending = store.pending_count(model_id);
        if (!pending.ok()) {
          summary.fatal = pending.status();
        } else if (pending.value() == 0) {
          exhausted = true;
        } else if (running == 0) {
          if (clock::now() - last_reap > std::chrono::seconds(1)) {
            (void)store.reap_expired();
            last_reap = clock::now();
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
      } else {
        for (const auto& job : claimed.value()) {
          if (options.active != nullptr) options.active->add(job);
          executor.start(job);
          ++running;
        }
      }
    }
    if (running == 0) break;
    JobResult r = executor.wait_one();
    --running;
    if (options.active != nullptr) options.active->remove(r.job.id);
    auto settle = [&](const StatusChange& c, bool applied) {
      return options.settle_outputs ? options.settle_outputs(c, applied) : Status::Ok();
    };
    if (!summary.fatal.ok()) {
      // The database is gone past its retry deadline: do not wait that long again per job. The
      // job stays `running` in the database and is put back to pending by the next run.
      ++summary.unrecorded;
      StatusChange unrecorded;
      unrecorded.files = r.files;
      (void)settle(unrecorded, false);
      if (observe) observe(r);
      continue;
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
    if (!db_down) {
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
          // Recorded, but its outputs could not take their names: the job is pending again.
          ++summary.retried;
          exhausted = false;
          r.state = JobState::Pending;
          r.error = "storage: " + kept.message() + "; back to pending";
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
      if (options.journal == nullptr || recorded.status().kind() != ErrorKind::kTransient) {
        summary.fatal = recorded.status();
        ++summary.unrecorded;
        (void)settle(change, false);
        if (observe) observe(r);
        continue;
      }
      go_down(recorded.status());
    }
    if (Status st = options.journal->append(change); !st.ok()) {
      summary.fatal = st;
      ++summary.unrecorded;
    } else {
      ++summary.journaled;
    }
    if (observe) observe(r);
  }
  if (stop.requested()) {
    summary.interrupted = true;
    // Anything of ours still marked running (a write that failed above) goes back to pending.
    auto n = store.release_jobs(owner);
    if (n.ok()) summary.released += n.value();
  }
  if (db_down && options.journal != nullptr) summary.unrecorded += static_cast<long long>(options.journal->size());
  summary.seconds = std::chrono::duration<double>(clock::now() - start).count();
  return summary;
}

}  // namespace pdr
