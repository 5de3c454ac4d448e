// One process's part of a grid, from open to the end of its claim loop. `pdr_run` (register,
// then work) and `pdr_run worker` (join, then work) both go through it; cli/ only parses, calls
// and prints.
//
//   GridRun run(settings, job_plan);
//   run.check_locations(true);       // nothing written yet
//   run.open(stop);                  // database, job store, storage; journals of this host replayed
//   run.register_points(points, stop);  // or run.join(stop) for a registered model
//   RunSummary s = run.work(stop);   // claim, run, settle outputs, record the run
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pdr/grid.h"
#include "pdr/job.h"
#include "pdr/job_store.h"
#include "pdr/journal.h"
#include "pdr/runner.h"
#include "pdr/settings.h"
#include "pdr/status.h"
#include "pdr/stop_signal.h"

namespace pdr {

class DbManager;
class Storage;
class WorkArea;

// Outputs that runs which ended without a word left staged after recording their finish
// take their final names (checked against their record, and only while the job is still
// finished under that attempt); the runs are marked gone (see below). Every run and worker does it when it
// opens and ends, verify before it checks. Returns the jobs mended.
// The recorded outputs of finishes it could not settle because the storage could not tell
// (their jobs must not be queued again for outputs missing) go into `untold` when given, each
// with why (check()'s kStorageUnreachable or kOutputUnreadable answer); their runs are not
// marked gone.
long long settle_unsettled_finishes(JobStore& store, Storage& storage, long long model_id,
                                    std::map<std::string, std::string>* untold = nullptr);

class GridRun {
 public:
  GridRun(Settings settings, JobPlan job_plan);
  ~GridRun();
  GridRun(const GridRun&) = delete;
  GridRun& operator=(const GridRun&) = delete;

  const Settings& settings() const { return settings_; }
  const JobPlan& job_plan() const { return job_plan_; }

  // Every local path the run writes can be created; `registering` adds the SQLite file and the
  // local storage directory (a worker only writes scratch and log files). Nothing is written.
  [[nodiscard]] Status check_locations(bool registering) const;

  // Opens the database and the job store, then storage (nothing is created before the
  // database answered), sets the job policy and records what journals of ended processes on
  // this host kept. Once `stop` is raised, a wait for the database (a lock, a retry) ends with
  // ErrorKind::kInterrupted.
  [[nodiscard]] Status open(const StopSignal& stop);

  // Registers the points (idempotent) and logs what the registration found. Once `stop` is
  // raised it stops at the next batch with ErrorKind::kInterrupted (what it wrote stays, and
  // registering again completes the grid).
  [[nodiscard]] Status register_points(const std::vector<GridPoint>& points, const StopSignal& stop);
  const RegisterReport& registered() const { return report_; }
  // The command a registration names for checking outputs later (with the run's --config).
  void set_verify_command(std::string line) { verify_command_ = std::move(line); }
  // A worker: the model must be registered already; open() then changes nothing in a database
  // that does not hold it (a typo in --model-name, a file that is not pdr_run's).
  void expect_registered() { expect_registered_ = true; }

  // Joins the registered model of settings().pdr.model_name (a worker); a model that is not
  // registered is a usage error. `stop` as for open().
  [[nodiscard]] Status join(const StopSignal& stop);

  // Claims and runs the model's jobs until none is pending or `stop` is raised: each in its own
  // working directory of this process's work area, outputs settled, the run and its pool
  // counters recorded for `status`. `starting` runs first, before any other thread, and only
  // when the model has jobs this process may run (pending, or running and maybe taken over):
  // a run with nothing to do leaves no log file.
  RunSummary work(StopSignal& stop, const std::function<void()>& starting = {});

  // Replaces what a claimed job does once its parameters are loaded (set before work()): the
  // runner, store, pool, heartbeat and journal stay the same. For measuring the database path
  // alone (pdr_dbpath_bench); pdr_run itself never sets it.
  void replace_job_work(std::function<JobResult(const ClaimedJob&)> work) { job_work_ = std::move(work); }

  // How many pending jobs are predicted to finish within `seconds` (less the margin): for
  // submit's --time. `line` says it for people.
  Status predict_fit(double seconds, std::string* line);

 private:
  std::optional<double> time_left(const RunSettings& r, std::string* source) const;
  const std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
  Result<std::unique_ptr<WorkArea>> open_work_area(const Owner& owner) const;
  void record_run(const Owner& owner, const std::string& state);
  void settle_unsettled_finishes(long long model_id);
  std::string verify_command_;
  bool expect_registered_ = false;
  std::map<std::string, std::string> untold_outputs_;  // of finishes the start's settle could not tell about
  std::unique_ptr<JobExecutor> executor(const Owner& owner, WorkArea& area, ActiveJobs& active, StopSignal& stop);
  void log_end(const RunSummary& summary, const Journal& journal) const;

  Settings settings_;
  JobPlan job_plan_;
  std::unique_ptr<Storage> storage_;
  DbManager* db_ = nullptr;
  std::unique_ptr<JobStore> store_;
  RegisterReport report_;
  long long model_id_ = 0;
  std::function<JobResult(const ClaimedJob&)> job_work_;
};

// Checks, before anything is written, that `path` can be created: its nearest existing ancestor
// is a writable directory, and `path` itself, if it exists, has the expected kind. `what` names
// the setting in the message.
[[nodiscard]] Status check_creatable(const std::string& path, bool is_dir, const std::string& what);

// How a grid's job ends once its outcome is (or is not) recorded: staged outputs of a recorded
// finish take their final names, the rest are removed (a failure keeps its logs).
SettleOutputs settle_outputs(Storage& storage, JobStore& job_store);

}  // namespace pdr
