// The runner loop: claim up to free capacity -> start on the executor -> wait for one result ->
// record it -> repeat. The loop itself does no I/O: the store and the executor are its seams.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pdr/job.h"
#include "pdr/job_store.h"
#include "pdr/journal.h"

namespace pdr {

class StopSignal;

// Starts jobs and hands back their results one at a time. Implementations: a TBB worker pool
// running real jobs, and fakes in tests.
class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  virtual void start(const ClaimedJob& job) = 0;
  // Blocks until some started job has a result.
  virtual JobResult wait_one() = 0;
  // Waits at most `seconds` for a result; false when none came (the loop has other work: an
  // outage to replay, a retry that fell due). Executors that cannot wait with a limit block.
  virtual bool wait_for(double seconds, JobResult* result) {
    (void)seconds;
    *result = wait_one();
    return true;
  }
  // A result that is already there, without waiting; false when none is (or the executor
  // cannot tell).
  virtual bool try_take(JobResult* result) {
    (void)result;
    return false;
  }
};

// Runs `work` for each started job on a TBB arena of `workers` threads (more than the number
// of cores is fine: the threads mostly wait for child processes).
std::unique_ptr<JobExecutor> make_tbb_executor(int workers, std::function<JobResult(const ClaimedJob&)> work);

// The jobs this process is running, with their lease epochs and a cancel signal each: a job
// whose lease was found lost has its signal raised, which stops its programs.
class ActiveJobs {
 public:
  std::shared_ptr<StopSignal> add(const ClaimedJob& job);
  // The job ended: its stage starts not known to be in its history (written with its outcome).
  std::vector<StageStart> remove(long long job_id);
  // A running job entered a stage (called from its worker thread).
  void stage_started(long long job_id, Stage stage, const std::string& detail);
  // For the heartbeat: the stage starts not known to be written (each is written once anyway).
  std::vector<StageStart> take_stage_starts();
  // The heartbeat's transaction with these starts committed: they need not be written again.
  void stage_starts_written(const std::vector<StageStart>& starts);
  std::shared_ptr<StopSignal> cancel_signal(long long job_id) const;  // null when not active
  std::map<long long, long long> snapshot() const;                    // job id -> epoch
  // Raises the cancel signal of every job of `before` (a snapshot taken before the lease
  // renewal) that is still active but not held under its epoch; returns their ids.
  std::vector<long long> fence(const std::map<long long, long long>& before,
                               const std::map<long long, long long>& held);
  // Raises every active job's cancel signal (the run ends: its programs are stopped).
  void cancel_all();

 private:
  struct Entry {
    long long epoch;
    std::shared_ptr<StopSignal> cancel;
    std::vector<StageStart> starts;  // of this attempt, in order; the first `written` are in its history
    size_t written = 0;
  };
  mutable std::mutex mutex_;
  std::map<long long, Entry> jobs_;
};

struct RunOptions {
  int heartbeat_seconds = 0;         // 0: no heartbeat thread (tests with fakes)
  bool retry_failures = false;       // failed attempts may go back to pending (JobPolicy)
  ActiveJobs* active = nullptr;      // where claimed jobs are tracked for fencing
  Journal* journal = nullptr;        // where outcomes go while the database is unreachable
  double outage_poll_seconds = 2;    // how often an unreachable database is tried again
  double outage_wait_seconds = 600;  // with nothing left running, how long to wait for it
  // Promotes or discards a result's staged outputs once its outcome was written or turned
  // down (also for journaled outcomes, at replay); unset: outputs are not staged.
  SettleOutputs settle_outputs;
  // Walltime-aware claiming: the process must end by `deadline`; it claims only jobs predicted
  // to finish `end_margin_seconds` before it, the longest first, and stops claiming when none
  // fits. Unset: no limit.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  double end_margin_seconds = 0;
  std::optional<double> expected_job_seconds;  // assumed while no job of the model has finished
};

// A job that failed in this process: its name and the error it was recorded with.
struct FailedJob {
  long long id = 0;
  std::string name;
  std::string error;
};

struct RunSummary {
  long long finished = 0, failed = 0, released = 0;
  long long retried = 0;     // failed attempts queued again
  long long lost = 0;        // outcomes rejected: the lease had been taken over
  long long journaled = 0;   // outcomes written to the journal during an outage
  long long replayed = 0;    // journal entries recorded once the database was back
  long long unrecorded = 0;  // results that could not be written (database unusable)
  // Of `finished`: recorded finished, but their outputs could not take their names and the
  // failed attempt could not be recorded instead (verify and the next registration run them again).
  long long unstored = 0;
  // The jobs of `failed`, in the order they failed for good; a job queued again and ended
  // again in this run is named once, by its last end.
  std::vector<FailedJob> failures;
  bool interrupted = false;
  Status fatal;  // a database failure, or a setup/storage failure every job would hit, that stopped the loop
  double seconds = 0;
  // The model's jobs per state as the database has them once the loop ended (empty when it
  // could not be read): the exit code and the closing line come from these, not from the
  // tally above, which misses what the journal, the reaper and other processes did.
  std::map<std::string, long long> model_states;
  // Of model_states' running jobs, those with no owner recorded (the Python pdr_run's, left to it).
  long long ownerless_running = 0;
  // Rows the Python pdr_run inserted while the loop ran: in none of the counts above.
  long long unclassified = 0;
  // With a deadline: jobs left because none fitted the time left, and the shortest prediction
  // among them; and whether claiming went on without predictions (nothing to predict from).
  bool out_of_time = false;
  long long did_not_fit = 0;
  double shortest_unfit = -1;  // its predicted run time, after...
  double shortest_wait = 0;    // ...this wait for its retry delay
  bool no_time_left = false;   // nothing can start: the time left is under the end margin
  bool unpredicted = false;
};

// Called after each recorded result (for logging and progress).
using ResultObserver = std::function<void(const JobResult&)>;

// The model's pending jobs with their predicted run times, longest first (unknown ones last),
// from the run times of its finished jobs (see RuntimePredictor); `samples_used` is how many.
Result<std::vector<ChosenJob>> predict_pending(JobStore& store, long long model_id, std::optional<double> expected,
                                               size_t* samples_used = nullptr);

RunSummary run_jobs(JobStore& store, JobExecutor& executor, long long model_id, int workers, const Owner& owner,
                    const StopSignal& stop, const ResultObserver& observe, const RunOptions& options = {});

}  // namespace pdr
