// The runner loop: claim up to free capacity -> start on the executor -> wait for one result ->
// record it -> repeat. The loop itself does no I/O: the store and the executor are its seams.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "pdr/job.h"
#include "pdr/job_store.h"

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
};

// Runs `work` for each started job on a TBB arena of `workers` threads (more than the number
// of cores is fine: the threads mostly wait for child processes).
std::unique_ptr<JobExecutor> make_tbb_executor(int workers, std::function<JobResult(const ClaimedJob&)> work);

struct RunSummary {
  long long finished = 0, failed = 0, released = 0;
  long long unrecorded = 0;  // results that could not be written (database unusable)
  bool interrupted = false;
  Status fatal;  // a database failure that stopped the loop
  double seconds = 0;
};

// Called after each recorded result (for logging and progress).
using ResultObserver = std::function<void(const JobResult&)>;

RunSummary run_jobs(JobStore& store, JobExecutor& executor, long long model_id, int workers, const Owner& owner,
                    const StopSignal& stop, const ResultObserver& observe);

}  // namespace pdr
