// The runner loop against a fake store and a fake executor: claiming, recording, stopping.
#include "pdr/runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include "pdr/journal.h"
#include "pdr/stop_signal.h"
#include "support/null_job_store.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

class FakeStore : public test::NullJobStore {
 public:
  explicit FakeStore(int jobs) {
    for (int i = 1; i <= jobs; ++i) state[i] = JobState::Pending;
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
        out.push_back(ClaimedJob{kv.first, "job" + std::to_string(kv.first), kv.first, 1, false, 1, nullptr});
      }
    }
    return out;
  }
  Result<Backlog> backlog(long long) override {
    if (fail_claims) return Status::Error(ErrorKind::kTransient, "database gone");
    long long n = 0;
    for (const auto& kv : state) n += kv.second == JobState::Pending;
    return Backlog{n + hidden_pending, 0, 0};
  }
  Result<RecordedOutcome> record_outcome(const Outcome& o) override {
    if (failing_writes > 0) {
      --failing_writes;
      return Status::Error(ErrorKind::kTransient, "database unusable: gave up");
    }
    if (state[o.job_id] != JobState::Running || token[o.job_id] != o.token) {
      return RecordedOutcome{false, state[o.job_id], o.error};
    }
    state[o.job_id] = o.state;
    ++changes;
    return RecordedOutcome{true, o.state, o.error};
  }
  Result<std::vector<RecordedOutcome>> record_finishes(const std::vector<Outcome>& finishes) override {
    batch_sizes.push_back(static_cast<int>(finishes.size()));
    if (refuse_batches) return Status::Error(ErrorKind::kPermanent, "Duplicate entry for key 'uq_x'");
    return NullJobStore::record_finishes(finishes);
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

  std::map<long long, JobState> state;
  std::map<long long, std::string> token;
  int max_claim_seen = 0;
  int changes = 0;
  bool fail_claims = false;
  long long hidden_pending = 0;  // pending rows another session holds locked
  int failing_writes = 0;        // the next N outcome writes fail as in an outage
  bool refuse_batches = false;   // record_finishes fails as a refused write
  std::vector<int> batch_sizes;
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
    if (r.state == JobState::Failed) {
      r.stage = Stage::Pdr;
      r.cause = "exit code 3";
      r.error = "pdr: exit code 3";
    }
    StoredFile f;
    f.kind = "output_textout_file";
    f.path = "/store/TEXTOUT" + r.job.name;
    f.staged_path = "/store/.TEXTOUT" + r.job.name + ".staged";
    r.files.push_back(f);
    return r;
  }
  // With `batches`, the jobs started are all there to take at once.
  bool try_take(JobResult* result) override {
    if (!batches || queue.empty()) return false;
    *result = wait_one();
    return true;
  }
  bool batches = false;
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

// `pdr_run retry` (or verify) may queue a job again while the run goes on, and the run ends it
// again: the closing line counts each job once, by how it ended last.
TEST(RunnerTest, AJobQueuedAgainDuringTheRunIsCountedOnceByItsLastEnd) {
  class RequeuingStore : public FakeStore {
   public:
    using FakeStore::FakeStore;
    Result<RecordedOutcome> record_outcome(const Outcome& o) override {
      auto rec = FakeStore::record_outcome(o);
      if (rec.ok() && rec->applied && rec->state == JobState::Failed && requeues[o.job_id]-- > 0) {
        state[o.job_id] = JobState::Pending;  // as `pdr_run retry` does
      }
      return rec;
    }
    std::map<long long, int> requeues;
  };
  RequeuingStore store(3);
  store.requeues = {{2, 2}, {3, 1}};
  FakeExecutor exec;
  exec.failing = {2, 3};
  int starts_of_3 = 0;
  exec.on_start = [&](const ClaimedJob& job) {
    if (job.id == 3 && ++starts_of_3 == 2) exec.failing.erase(3);  // fails, then finishes
  };
  StopSignal stop;
  RunSummary s = run_jobs(store, exec, 1, 1, kOwner, stop, [](const JobResult&) {});
  EXPECT_TRUE(s.fatal.ok());
  EXPECT_EQ(exec.started.size(), 6u);  // 1, 2 three times, 3 twice
  EXPECT_EQ(s.finished, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(store.state[2], JobState::Failed);
  EXPECT_EQ(store.state[3], JobState::Finished);
  // The closing line's list names the job that failed for good, once; not the one that finished.
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].id, 2);
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

// Jobs that ended together have their finishes written in one transaction, their failures one
// by one; a batch the database refuses is written one by one (one job's refused write must not
// take the others' results with it).
// Counts claims made alone and those made with the finishes before them.
class MergingStore : public FakeStore {
 public:
  using FakeStore::FakeStore;
  Result<std::vector<ClaimedJob>> claim_jobs(long long model, int max, const Owner& owner) override {
    ++claims_alone;
    return FakeStore::claim_jobs(model, max, owner);
  }
  Result<FinishesAndClaim> record_finishes_and_claim(const std::vector<Outcome>& finishes, long long model, int max,
                                                     const Owner& owner) override {
    ++merged;
    auto recorded = record_finishes(finishes);
    if (!recorded.ok()) return recorded.status();
    auto claimed = FakeStore::claim_jobs(model, max, owner);
    if (!claimed.ok()) return claimed.status();
    return FinishesAndClaim{recorded.value(), claimed.value()};
  }
  int claims_alone = 0, merged = 0;
};

TEST(RunnerTest, AFinishAndTheNextClaimShareOneWrite) {
  MergingStore store(6);
  FakeExecutor exec;
  StopSignal stop;
  RunSummary s = run_jobs(store, exec, 1, 2, kOwner, stop, nullptr);
  EXPECT_TRUE(s.fatal.ok()) << s.fatal.message();
  EXPECT_EQ(s.finished, 6);
  EXPECT_EQ(exec.started.size(), 6u) << "every job once";
  EXPECT_EQ(store.merged, 6) << "each finish carried the next claim";
  // The first claim, and those that found nothing left at the end.
  EXPECT_LE(store.claims_alone, 3);
  for (const auto& kv : store.state) EXPECT_EQ(kv.second, JobState::Finished);

  // A failure is recorded alone; the claim after it comes in the next turn as before.
  MergingStore failing(3);
  FakeExecutor exec2;
  exec2.failing = {1, 2, 3};
  RunSummary f = run_jobs(failing, exec2, 1, 1, kOwner, stop, nullptr);
  EXPECT_EQ(f.failed, 3);
  EXPECT_EQ(failing.merged, 0);
}

TEST(RunnerTest, FinishesOfJobsThatEndedTogetherShareOneWrite) {
  for (bool refuse : {false, true}) {
    FakeStore store(12);
    store.refuse_batches = refuse;
    FakeExecutor exec;
    exec.batches = true;
    exec.failing = {2};
    StopSignal stop;
    RunSummary s = run_jobs(store, exec, 1, 4, kOwner, stop, nullptr);
    EXPECT_TRUE(s.fatal.ok()) << s.fatal.message();
    EXPECT_EQ(s.finished, 11) << refuse;
    EXPECT_EQ(s.failed, 1);
    EXPECT_EQ(exec.started.size(), 12u);
    ASSERT_FALSE(store.batch_sizes.empty());
    EXPECT_EQ(store.batch_sizes.front(), 3) << "four ended together, one of them failed";
    for (const auto& kv : store.state) EXPECT_EQ(kv.second, kv.first == 2 ? JobState::Failed : JobState::Finished);
  }
}

TEST(RunnerTest, OutcomesDuringAnOutageGoToTheJournalAndAreReplayedOnce) {
  test::TempDir dir;
  FakeStore store(4);
  store.failing_writes = 3;  // the first two outcomes and the first replay attempt
  FakeExecutor exec;
  StopSignal stop;
  Journal journal(dir / "journal", kOwner.token);
  RunOptions options;
  options.journal = &journal;
  options.outage_poll_seconds = 0.05;
  std::map<long long, std::string> promoted;  // job -> staged path, once its outcome is written
  options.settle_outputs = [&](const Outcome& c, bool applied) {
    if (applied && !c.files.empty()) promoted[c.job_id] = c.files[0].staged_path;
    return Status::Ok();
  };
  RunSummary s = run_jobs(store, exec, 1, 2, kOwner, stop, nullptr, options);
  EXPECT_TRUE(s.fatal.ok()) << s.fatal.message();
  ASSERT_EQ(promoted.size(), 4u) << "journaled outcomes are settled when they are replayed";
  EXPECT_EQ(promoted[1], "/store/.TEXTOUTjob1.staged") << "the staged path survives the journal";
  EXPECT_EQ(s.journaled, 2);
  EXPECT_EQ(s.replayed, 2);
  EXPECT_EQ(s.finished, 2);  // the two claimed after the database came back
  EXPECT_EQ(s.unrecorded, 0);
  EXPECT_EQ(exec.started.size(), 4u) << "no job ran twice";
  for (const auto& kv : store.state) EXPECT_EQ(kv.second, JobState::Finished) << kv.first;
  EXPECT_EQ(journal.size(), 0u);
  // Replaying what was already recorded changes nothing.
  Outcome c;
  c.job_id = 1;
  c.state = JobState::Finished;
  c.token = kOwner.token;
  c.epoch = 1;
  Journal again(dir / "journal2", "x");
  ASSERT_TRUE(again.append(c).ok());
  auto replay = again.replay(store);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->applied, 0);
  EXPECT_EQ(replay->rejected, 1);
}

TEST(RunnerTest, StagedOutputsAreSettledOnlyAfterTheirOutcomeIsWritten) {
  FakeStore store(5);
  FakeExecutor exec;
  exec.failing = {4};
  // Job 2 is taken over by another process while it runs: its outcome is turned down.
  exec.on_start = [&](const ClaimedJob& job) {
    if (job.id == 2) store.token[2] = "other";
  };
  std::map<long long, std::pair<bool, size_t>> settled;  // job -> applied, files
  RunOptions options;
  options.settle_outputs = [&](const Outcome& c, bool applied) {
    EXPECT_EQ(settled.count(c.job_id), 0u) << "settled once";
    settled[c.job_id] = {applied, c.files.size()};
    // Job 3's outputs cannot take their names (recorded as a failed attempt instead); nor can
    // job 5's, whose failed attempt could not be recorded either (it stays finished).
    if (c.job_id == 5) return Settled(Status::Io("rename failed"), JobState::Finished);
    return c.job_id == 3 ? Settled(Status::Io("rename failed")) : Settled();
  };
  StopSignal stop;
  RunSummary s = run_jobs(store, exec, 1, 4, kOwner, stop, nullptr, options);
  ASSERT_EQ(settled.size(), 5u);
  EXPECT_EQ(settled[1], std::make_pair(true, size_t{1}));
  EXPECT_EQ(settled[2], std::make_pair(false, size_t{1})) << "a turned-down outcome's outputs are discarded";
  EXPECT_EQ(settled[4], std::make_pair(true, size_t{1})) << "a failure's log is kept too";
  EXPECT_EQ(s.lost, 1);
  EXPECT_EQ(s.finished, 2) << "job 3 was recorded, but is not finished without its outputs";
  EXPECT_EQ(s.unstored, 1) << "job 5 is recorded finished, without its outputs";
  EXPECT_EQ(s.retried, 1);
  EXPECT_EQ(s.failed, 1);
}

TEST(RunnerTest, WithoutAJournalAnOutageStopsTheRun) {
  FakeStore store(4);
  store.failing_writes = 100;
  FakeExecutor exec;
  StopSignal stop;
  RunSummary s = run_jobs(store, exec, 1, 2, kOwner, stop, nullptr);
  EXPECT_FALSE(s.fatal.ok());
  EXPECT_EQ(exec.started.size(), 2u) << "no new claims after the database is gone";
}

// Stage starts go to the heartbeat until a beat wrote them; a job's end takes the rest.
TEST(ActiveJobsTest, StageStartsAreOfferedUntilABeatWroteThem) {
  ActiveJobs active;
  ClaimedJob job;
  job.id = 7;
  job.epoch = 2;
  active.add(job);
  active.stage_started(7, Stage::Pdr, "");
  active.stage_started(99, Stage::Pdr, "");  // not active: nothing
  auto first = active.take_stage_starts();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].job_id, 7);
  EXPECT_EQ(first[0].epoch, 2);
  EXPECT_EQ(active.take_stage_starts().size(), 1u) << "a beat that failed: offered again";
  active.stage_starts_written(first);
  EXPECT_TRUE(active.take_stage_starts().empty());
  active.stage_started(7, Stage::Onion, "CO");
  auto second = active.take_stage_starts();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].detail, "CO");
  // The job ends before that beat is written: its outcome takes the start (written once anyway).
  auto rest = active.remove(7);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].stage, Stage::Onion);
  active.stage_starts_written(second);  // the job is gone: nothing to mark
  EXPECT_TRUE(active.take_stage_starts().empty());
}

TEST(ActiveJobsTest, FenceStopsOnlyJobsWhoseLeaseIsGone) {
  ActiveJobs active;
  ClaimedJob a{1, "a", 1, 1, false, 1, nullptr}, b{2, "b", 2, 1, false, 1, nullptr}, c{3, "c", 3, 1, false, 4, nullptr};
  auto ca = active.add(a), cb = active.add(b), cc = active.add(c);
  const auto before = active.snapshot();
  active.remove(3);  // finished between the snapshot and the renewal
  const auto lost = active.fence(before, {{1, 1}, {2, 2}});
  EXPECT_EQ(lost, std::vector<long long>{2}) << "job 2 is held under another epoch";
  EXPECT_FALSE(ca->requested());
  EXPECT_TRUE(cb->requested());
  EXPECT_FALSE(cc->requested());
}

// The TBB executor: each worker's task takes queued jobs one at a time; a job whose work throws
// comes back failed (not a hang); it can go with jobs never started or none at all.
TEST(TbbExecutorTest, RunsQueuedJobsReportsWhatThrowsAndClosesAtAnyPoint) {
  const auto result_of = [](const ClaimedJob& job) {
    JobResult r;
    r.job = job;
    return r;
  };
  { auto idle = make_tbb_executor(3, result_of); }
  std::atomic<int> ran{0};
  auto ex = make_tbb_executor(2, [&ran](const ClaimedJob& job) {
    ++ran;
    if (job.id == 3) throw std::runtime_error("bad parameters");
    if (job.id == 4) throw 42;
    JobResult r;
    r.job = job;
    r.state = JobState::Finished;
    return r;
  });
  for (long long id = 1; id <= 6; ++id) ex->start(ClaimedJob{id, "job" + std::to_string(id), id, 1, false, 1, nullptr});
  std::map<long long, JobResult> results;
  for (int i = 0; i < 6; ++i) {
    JobResult r;
    ASSERT_TRUE(ex->wait_for(30, &r)) << "result " << i << " did not come";
    results[r.job.id] = r;
  }
  EXPECT_EQ(ran.load(), 6);
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[1].state, JobState::Finished);
  EXPECT_EQ(results[3].state, JobState::Failed);
  EXPECT_EQ(results[3].error, "setup: internal error: bad parameters");
  EXPECT_EQ(results[4].state, JobState::Failed);
  EXPECT_EQ(results[4].error, "setup: internal error: an unknown exception");
  JobResult none;
  EXPECT_FALSE(ex->try_take(&none));
  ex.reset();  // closes its idle workers
  // Gone while jobs wait: they are run and waited for first.
  std::atomic<int> slow_ran{0};
  auto slow = make_tbb_executor(1, [&slow_ran, &result_of](const ClaimedJob& job) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ++slow_ran;
    return result_of(job);
  });
  for (long long id = 1; id <= 3; ++id) slow->start(ClaimedJob{id, "s", id, 1, false, 1, nullptr});
  slow.reset();
  EXPECT_EQ(slow_ran.load(), 3);
}

}  // namespace
}  // namespace pdr
