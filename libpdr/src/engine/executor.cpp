// The executor seam (a TBB arena running claimed jobs) and the set of jobs a process runs.
#include "pdr/runner.h"

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <condition_variable>
#include <deque>

#include "pdr/stop_signal.h"

namespace pdr {
namespace {

// One long-lived task per worker in the arena, each taking the queued jobs one at a time and
// sleeping on a condition variable in between. A task per job made the arena's thread that
// ended it spin (sched_yield, ~90 times per job) looking for the next before it slept.
class TbbExecutor : public JobExecutor {
 public:
  TbbExecutor(int workers, std::function<JobResult(const ClaimedJob&)> work)
      : control_(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(workers) + 1),
        arena_(workers, 0),
        work_(std::move(work)) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      loops_ = workers;
    }
    for (int i = 0; i < workers; ++i) arena_.enqueue([this] { take_jobs(); });
  }

  ~TbbExecutor() override {
    // Every started job must have been waited for; wait for stragglers defensively.
    while (outstanding_ > 0) wait_one();
    std::unique_lock<std::mutex> lock(mutex_);
    closing_ = true;
    queued_ready_.notify_all();
    loops_ended_.wait(lock, [this] { return loops_ == 0; });  // the tasks use this object
  }

  void start(const ClaimedJob& job) override {
    ++outstanding_;
    std::lock_guard<std::mutex> lock(mutex_);
    queued_.push_back(job);
    queued_ready_.notify_one();
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

  bool try_take(JobResult* result) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (results_.empty()) return false;
    *result = std::move(results_.front());
    results_.pop_front();
    --outstanding_;
    return true;
  }

 private:
  // A job's work; what escapes it fails the job (its result must come, or the loop waits for
  // it forever), with the job handed back like any failure.
  JobResult run_one(const ClaimedJob& job) {
    std::string why;
    try {
      return work_(job);
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
      why = "an unknown exception";
    }
    JobResult r;
    r.job = job;
    r.state = JobState::Failed;
    r.stage = Stage::Setup;
    r.cause = "internal error: " + why;
    r.error = "setup: " + r.cause;
    return r;
  }

  // One worker's task: the queued jobs, one at a time, until the executor closes.
  void take_jobs() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      queued_ready_.wait(lock, [this] { return closing_ || !queued_.empty(); });
      if (queued_.empty()) break;  // closing, nothing left
      ClaimedJob next = std::move(queued_.front());
      queued_.pop_front();
      lock.unlock();
      JobResult r = run_one(next);
      lock.lock();
      results_.push_back(std::move(r));
      ready_.notify_one();
    }
    --loops_;
    loops_ended_.notify_all();  // under the lock: the destructor may run as soon as it sees 0
  }

  tbb::global_control control_;
  tbb::task_arena arena_;
  std::function<JobResult(const ClaimedJob&)> work_;
  std::mutex mutex_;
  std::condition_variable ready_;         // a result came
  std::condition_variable queued_ready_;  // a job was queued, or the executor closes
  std::condition_variable loops_ended_;   // a worker's task ended
  std::deque<ClaimedJob> queued_;         // GUARDED_BY(mutex_): started, not yet taken by a task
  std::deque<JobResult> results_;         // GUARDED_BY(mutex_)
  int loops_ = 0;                         // GUARDED_BY(mutex_): worker tasks not ended
  bool closing_ = false;                  // GUARDED_BY(mutex_)
  int outstanding_ = 0;                   // touched by the loop thread only
};

}  // namespace

std::unique_ptr<JobExecutor> make_tbb_executor(int workers, std::function<JobResult(const ClaimedJob&)> work) {
  return std::make_unique<TbbExecutor>(workers, std::move(work));
}

std::shared_ptr<StopSignal> ActiveJobs::add(const ClaimedJob& job) {
  auto cancel = std::make_shared<StopSignal>();
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_[job.id] = Entry{job.epoch, cancel, {}, 0};
  return cancel;
}

std::vector<StageStart> ActiveJobs::remove(long long job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return {};
  // Those not known to be written (a beat may be writing some now: a start already written is
  // not written again).
  std::vector<StageStart> starts(it->second.starts.begin() + static_cast<std::ptrdiff_t>(it->second.written),
                                 it->second.starts.end());
  jobs_.erase(it);
  return starts;
}

void ActiveJobs::stage_started(long long job_id, Stage stage, const std::string& detail) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  it->second.starts.push_back(StageStart{job_id, it->second.epoch, stage, detail, now});
}

std::vector<StageStart> ActiveJobs::take_stage_starts() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StageStart> out;
  for (auto& [id, e] : jobs_)
    out.insert(out.end(), e.starts.begin() + static_cast<std::ptrdiff_t>(e.written), e.starts.end());
  return out;
}

void ActiveJobs::stage_starts_written(const std::vector<StageStart>& starts) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& w : starts) {
    auto it = jobs_.find(w.job_id);
    if (it == jobs_.end() || it->second.epoch != w.epoch) continue;
    Entry& e = it->second;
    while (e.written < e.starts.size() && e.starts[e.written].at <= w.at) ++e.written;
  }
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

}  // namespace pdr
