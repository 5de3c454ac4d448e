#include "pdr/runner.h"

#include <tbb/concurrent_queue.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <thread>

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

RunSummary run_jobs(JobStore& store, JobExecutor& executor, long long model_id, int workers, const Owner& owner,
                    const StopSignal& stop, const ResultObserver& observe) {
  const auto start = std::chrono::steady_clock::now();
  RunSummary summary;
  int running = 0;
  bool exhausted = false;
  for (;;) {
    const bool stopping = stop.requested() || !summary.fatal.ok();
    if (!stopping && !exhausted && running < workers) {
      auto claimed = store.claim_jobs(model_id, workers - running, owner);
      if (!claimed.ok()) {
        summary.fatal = claimed.status();
      } else if (claimed->empty()) {
        // Nothing claimable: done only when nothing is pending. Rows another session holds
        // locked are skipped by a claim but still pending: wait for them.
        auto pending = store.pending_count(model_id);
        if (!pending.ok()) {
          summary.fatal = pending.status();
        } else if (pending.value() == 0) {
          exhausted = true;
        } else if (running == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
      } else {
        for (const auto& job : claimed.value()) {
          executor.start(job);
          ++running;
        }
      }
    }
    if (running == 0) break;
    JobResult r = executor.wait_one();
    --running;
    if (!summary.fatal.ok()) {
      // The database is gone past its retry deadline: do not wait that long again per job. The
      // job stays `running` in the database and is put back to pending by the next run.
      ++summary.unrecorded;
      if (observe) observe(r);
      continue;
    }
    StatusChange change;
    change.job_id = r.job.id;
    change.expect = JobState::Running;
    change.token = owner.token;
    change.next = r.state;
    change.exit_code = r.exit_code;
    change.error = r.error;
    if (r.state == JobState::Finished) change.files = std::move(r.files);
    auto applied = store.update_job_status(change);
    if (!applied.ok()) {
      if (summary.fatal.ok()) summary.fatal = applied.status();
    } else if (r.state == JobState::Finished) {
      ++summary.finished;
    } else if (r.state == JobState::Failed) {
      ++summary.failed;
    } else {
      ++summary.released;
    }
    if (observe) observe(r);
  }
  if (stop.requested()) {
    summary.interrupted = true;
    // Anything of ours still marked running (a write that failed above) goes back to pending.
    auto n = store.release_jobs(owner);
    if (n.ok()) summary.released += n.value();
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace pdr
