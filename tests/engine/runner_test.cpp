// The runner loop against a fake store and a fake executor: claiming, recording, stopping.
#include "pdr/runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <thread>
#include <map>
#include <set>

#include "pdr/stop_signal.h"

namespace pdr {
namespace {

class FakeStore : public JobStore {
 public:
  explicit FakeStore(int jobs) {
    for (int i = 1; i <= jobs; ++i) state[i] = JobState::Pending;
  }
  Status register_grid(const Provenance&, const std::vector<GridPoint>&, RegisterReport*,
                       const RegisterOptions&) override {
    return Status::Ok();
  }
  Result<std::vector<ClaimedJob>> claim_jobs(long long, int max, const Owner& owner) override {
    max_claim_seen = std::max(max_claim_seen, max);
    if (fail_claims) return Status::Error(ErrorKind::kTransient, "database gone");
    std::vector<ClaimedJob> out;
    for (auto& kv : state) {
      if (static_cast<int>(out.size()) == max) break;
      if (kv.second == JobState::Pending) {
        kv.second = JobState::Running;
        token[kv.first] = owner.token;
        out.push_back(ClaimedJob{kv.first, "job" + std::to_string(kv.first), kv.first, 1});
      }
    }
    return out;
  }
  Result<ParameterValues> load_parameters(long long) override { return ParameterValues{}; }
  Result<long long> pending_count(long long) override {
    if (fail_claims) return Status::Error(ErrorKind::kTransient, "database gone");
    long long n = 0;
    for (const auto& kv : state) n += kv.second == JobState::Pending;
    return n + hidden_pending;
  }
  Result<bool> update_job_status(const StatusChange& c) override {
    if (state[c.job_id] != c.expect || token[c.job_id] != c.token) return false;
    state[c.job_id] = c.next;
    ++changes;
    return true;
  }
  Result<long long> release_jobs(const Owner&) override {
    long long n = 0;
    for (auto& kv : state) {
      if (kv.second == JobState::Running) {
        kv.second = JobState::Pending;
        ++n;
      }
    }
    return n;
  }
  Result<StatusReport> status_report(const std::string&) override { return StatusReport{}; }
  Result<std::vector<std::string>> model_names() override { return std::vector<std::string>{}; }

  std::map<long long, JobState> state;
  std::map<long long, std::string> token;
  int max_claim_seen = 0;
  int changes = 0;
  bool fail_claims = false;
  long long hidden_pending = 0;  // pending rows another session holds locked
};

// Completes jobs in start order; jobs named in `failing` fail. Tracks concurrency.
class FakeExecutor : public JobExecutor {
 public:
  void start(const ClaimedJob& job) override {
    started.push_back(job);
    queue.push_back(job);
    max_running = std::max(max_running, static_cast<int>(queue.size()));
    if (on_start) on_start(job);
  }
  JobResult wait_one() override {
    JobResult r;
    r.job = queue.front();
    queue.pop_front();
    if (stop_all) {
      r.state = JobState::Pending;
    } else {
      r.state = failing.count(r.job.id) ? JobState::Failed : JobState::Finished;
    }
    if (r.state == JobState::Failed) r.error = "pdr: exit code 3";
    return r;
  }
  std::deque<ClaimedJob> queue;
  std::vector<ClaimedJob> started;
  std::set<long long> failing;
  int max_running = 0;
  bool stop_all = false;
  std::function<void(const ClaimedJob&)> on_start;
};

const Owner kOwner{"host", 1, "tok"};

TEST(RunnerTest, RunsEveryJobOnceWithinCapacity) {
  FakeStore store(10);
  FakeExecutor exec;
  exec.failing = {3, 7};
  StopSignal stop;
  int observed = 0;
  RunSummary s = run_jobs(store, exec, 1, 4, kOwner, stop, [&](const JobResult&) { ++observed; });
  EXPECT_TRUE(s.fatal.ok());
  EXPECT_EQ(s.finished, 8);
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(observed, 10);
  EXPECT_EQ(exec.started.size(), 10u);
  EXPECT_EQ(exec.max_running, 4);
  EXPECT_LE(store.max_claim_seen, 4);
  EXPECT_EQ(store.state[3], JobState::Failed);
  EXPECT_EQ(store.state[4], JobState::Finished);
  EXPECT_FALSE(s.interrupted);
}

TEST(RunnerTest, EmptyClaimWithLockedPendingRowsWaitsInsteadOfFinishing) {
  FakeStore store(0);
  store.hidden_pending = 1;
  FakeExecutor exec;
  StopSignal stop;
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.request();  // the locked rows never come free here: only stop ends the wait
  });
  RunSummary s = run_jobs(store, exec, 1, 2, kOwner, stop, nullptr);
  release.join();
  EXPECT_TRUE(s.interrupted) << "the runner must not call a grid done while rows are pending";
}

TEST(RunnerTest, StopEndsClaimingAndReturnsRunningJobsToPending) {
  FakeStore store(10);
  FakeExecutor exec;
  StopSignal stop;
  exec.on_start = [&](const ClaimedJob& job) {
    if (job.id == 2) {
      stop.request();
      exec.stop_all = true;
    }
  };
  RunSummary s = run_jobs(store, exec, 1, 2, kOwner, stop, nullptr);
  EXPECT_TRUE(s.interrupted);
  EXPECT_EQ(exec.started.size(), 2u);
  for (const auto& kv : store.state) EXPECT_EQ(kv.second, JobState::Pending) << kv.first;
}

TEST(RunnerTest, DatabaseFailureStopsClaimingAndIsReported) {
  FakeStore store(5);
  store.fail_claims = true;
  FakeExecutor exec;
  StopSignal stop;
  RunSummary s = run_jobs(store, exec, 1, 2, kOwner, stop, nullptr);
  EXPECT_FALSE(s.fatal.ok());
  EXPECT_EQ(s.fatal.message(), "database gone");
  EXPECT_TRUE(exec.started.empty());
}

}  // namespace
}  // namespace pdr
