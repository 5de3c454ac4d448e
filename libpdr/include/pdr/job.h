// One KOSMA-tau job: a fresh working directory, rendered inputs, the executable chain (pdr, then
// onion per species) and the outputs stored under <storage>/<model>/pdrgrid and oniongrid.
// prepare_job_plan checks everything a job needs once, before anything is written.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pdr/job_state.h"
#include "pdr/job_store.h"
#include "pdr/settings.h"
#include "pdr/status.h"

namespace pdr {

class WorkArea;

class StopSignal;
class Storage;

struct JobPlan {
  Settings settings;
  std::string model_path;       // <storage>/<model>
  std::string pdrnew_template;  // empty: no PDRNEW.INP template (JSON-only)
  std::string pdrnew_template_path;
  std::string json_template;
  std::string json_template_path;
  Provenance provenance;
  std::vector<std::string> child_env;  // environment of every executable, secrets removed
};

// Validates the PDR base directory (executables, chemistry file, onion inputs, templates) and,
// when `probe_executable`, reads the pdr executable's --version and checksum for provenance;
// a problem is a usage error naming the path.
Result<JobPlan> prepare_job_plan(const Settings& settings, bool probe_executable = true);

struct JobResult {
  ClaimedJob job;
  JobState state = JobState::Failed;  // Finished, Failed, or Pending when stopped
  std::optional<int> exit_code;
  std::string error;              // "<stage>: <what happened>" for people
  Stage stage = Stage::None;      // where it failed
  std::string cause;              // what happened there, without the program's output (see Failure)
  std::vector<StoredFile> files;  // staged (see JobControl::stage_tag): settled after recording
  double seconds = 0;
  std::string kept_dir;  // working directory left in place (--keep-tmp)
  // A failure of this host rather than of the job (no space or no permission for the working
  // directory or the stored outputs): every job would hit it, so the run stops claiming.
  bool host_failure = false;
  bool journaled = false;  // set by the runner: kept in the outage journal, not yet recorded
};

// What ties a running job to its lease.
struct JobControl {
  // Raised (by the heartbeat) when the lease was lost: stop the programs, store nothing more.
  // Outputs stored before are staged (see stage_tag), so a late store is harmless anyway.
  const StopSignal* cancel = nullptr;
  // Names this attempt's staged outputs (see Storage); "" stores them under their final names.
  std::string stage_tag;
  // The process's work area: job directories go there unless kept (--keep-tmp), and a job that
  // finished hands its directory back for the next; nullptr = directly in run.scratch_dir.
  WorkArea* area = nullptr;
  // Told when the attempt enters a stage (pdr, each onion species, storage): its history.
  std::function<void(Stage stage, const std::string& detail)> stage_started;
};

// The environment entry that marks every program of one attempt: PDR_JOB_ATTEMPT=<job id>-<pid
// of the running pdr_run>-<serial>, unique on the host while that process lives.
std::string job_attempt_entry(long long job_id, long long run_pid, long long serial);

// Whether an environment entry marks an attempt of the pdr_run process `run_pid`.
bool is_attempt_of_run(std::string_view entry, long long run_pid);

// Runs one claimed job; never throws. Thread-safe: jobs share only the read-only plan. `stop`
// ends every job (an interrupt).
JobResult execute_job(const JobPlan& plan, Storage& storage, const ClaimedJob& job, const ParameterValues& params,
                      const StopSignal* stop, const JobControl* control = nullptr);

}  // namespace pdr
