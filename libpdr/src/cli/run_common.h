// What `run`, `worker` and `submit` share: a grid prepared from the flags, and the closing
// lines of a run.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "pdr/cli.h"
#include "pdr/config.h"
#include "pdr/grid.h"
#include "pdr/grid_run.h"

namespace pdr {

// A grid ready to run: its configuration (for the dry run's listing and origins), its planned
// points and the run that will register and work on them.
struct PreparedGrid {
  Config config;
  GridPlan plan;
  std::unique_ptr<GridRun> run;
};

// Loads and checks everything the grid needs; nothing is written. A problem is a usage error.
// Without `keep_points` the points are only counted (a dry run lists them again).
Result<PreparedGrid> prepare_grid(const CliOptions& options, const EnvLookup& env, bool keep_points = true);

// Logs the notes of the configuration, the settings and the plan.
void log_notes(const PreparedGrid& g);

// Logs `st` as one error line; returns the usage exit code.
int usage_error(const Status& st);
// A step before the jobs run (open, register, join) that failed: a signal that stopped it
// (exit 130, saying that the same command completes it), or any other error (exit 2).
int setup_error(const Status& st, const std::string& model);
// A signal while the grid was planned, before anything was written: says so, exit 130.
int interrupted_while_planning(const std::string& model);

// The end of a run or worker: its counts and wall time (the line before is the caller's), the
// jobs that failed, the model's states in the database, and the exit code.
int finish_summary(const RunSummary& summary, std::ostream& out, const std::string& model, const CliOptions& options);

}  // namespace pdr
