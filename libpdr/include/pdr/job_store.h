// The job database behind one interface. Every row is created by a get-or-create and every job
// state change goes through update_job_status as its own short transaction, conditional on the
// state (and owner token) it expects, so replaying a change is harmless and a stale writer cannot
// overwrite a newer attempt. No SOCI type or exception crosses this boundary.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pdr/grid.h"
#include "pdr/job_policy.h"
#include "pdr/job_state.h"
#include "pdr/parameters.h"
#include "pdr/pool_stats.h"
#include "pdr/status.h"

namespace pdr {

class DbManager;

// Where the rows of a grid come from: recorded once per registration.
struct Provenance {
  std::string model_name, model_path;
  std::string username, email;
  std::string exe_file_name, exe_dir, exe_sha256, exe_revision, exe_compilation_date;
  std::string chem_file_name, chem_full_path, chem_origin;
  std::string onion_species;                             // space separated
  std::string json_template_path, json_template_sha256;  // the pdr_config.json template in use
};

// Who claims jobs: one token per process run.
struct Owner {
  std::string host;
  long long pid = 0;
  std::string token;
};

struct RegisterReport {
  long long model_id = 0;
  size_t points = 0;
  size_t created = 0;            // new job rows
  size_t already_finished = 0;   // finished with outputs present: no work
  size_t requeued = 0;           // failed/cancelled/stale jobs put back to pending
  size_t outputs_missing = 0;    // finished but outputs gone: back to pending
  size_t onion_requeued = 0;     // finished points queued for onion again (--force-onion)
  size_t pending = 0;            // pending after registration (this grid)
  size_t other_pending = 0;      // pending jobs of the model outside this grid (earlier runs)
  size_t ownerless_running = 0;  // 'running' with no owner recorded (the predecessor's): left alone
};

struct ClaimedJob {
  long long id = 0;
  std::string name;
  long long params_id = 0;
  int attempt = 0;
  bool onion_only = false;  // --force-onion: rerun onion on the stored pdr outputs
  long long epoch = 0;      // the claim's lease epoch: its outcome is recorded only under it
};

// One stored output file of a job.
struct StoredFile {
  std::string kind;  // "TEXTOUT", "pdr.hdf", ... (the job column it fills, if any)
  std::string path;  // absolute storage path
  std::string sha256;
  long long size = 0;
  std::string mtime;        // UTC "YYYY-MM-DD HH:MM:SS"
  std::string staged_path;  // where the copy lies until its outcome is recorded ("" = at path)
};

// A requested state change. `expect` is the state the row must be in, `token` (when set) the
// owner that must hold it; otherwise nothing changes and update_job_status says so.
struct StatusChange {
  long long job_id = 0;
  JobState expect = JobState::Running;
  JobState next = JobState::Pending;
  std::string token;  // owner that must hold the job (empty: any)
  std::optional<int> exit_code;
  std::string error;                // one line, already free of secrets
  std::vector<StoredFile> files;    // recorded with a transition to finished
  bool onion_only = false;          // finished -> pending for the onion step only
  const Owner* claimant = nullptr;  // the new owner, for a transition to running
  long long epoch = 0;              // lease epoch the row must still have (0: any)
  bool retry = false;               // a failure goes back to pending after a delay unless the job
                                    // used up its attempts or failed the same way twice
};

// What record_outcome did.
struct RecordedOutcome {
  bool applied = false;               // false: the row had moved on (lease lost); nothing was written
  JobState state = JobState::Failed;  // the state the job is in now
  std::string error;                  // the error recorded with it
};

struct JobSummary {
  std::string name;
  std::string host;
  long long pid = 0;
  std::string time_of_start;
  std::optional<int> exit_code;
  std::string error;
  int attempts = 0;
  long long age_seconds = -1;        // running: since its start (database clock)
  long long heartbeat_seconds = -1;  // running: since its owner last renewed the lease
};

// The states of a model's jobs over two grid axes (dens, chi, mass, metal), the other axes
// aggregated. Values are in the grid's units (10*log10, percent for metal).
struct GridMap {
  std::string row_axis, column_axis;
  std::vector<std::string> rows, columns;  // sorted by value
  // (row, column) -> state -> count
  std::map<std::pair<std::string, std::string>, std::map<std::string, long long>> cells;
};

// One pdr_run process working on a model, as it last recorded itself.
struct RunRecord {
  std::string host, state, started_at, updated_at;  // state: running, finished, failed, interrupted, error
  long long pid = 0, workers = 0;
  PoolStats pool;
};

struct StatusReport {
  std::string model;
  long long total = 0;
  std::map<std::string, long long> by_status;  // every state, zero included
  std::vector<JobSummary> running, failed;
  std::vector<RunRecord> runs;  // the latest runs of the model, newest first
};

// What opening a database created by the predecessor (no schema_version) changed. Nothing is
// deleted: duplicates are kept and marked, unusable unique keys are reported.
struct MigrationReport {
  bool from_predecessor = false;
  int columns_added = 0;
  int columns_widened = 0;  // FLOAT -> DOUBLE
  long long duplicate_parameters = 0;
  long long duplicate_jobs = 0;  // kept as they are, marked with duplicate_key (never claimed or counted)
  std::vector<std::string> unique_keys_skipped;  // duplicates prevent them; listed here
};

// What the database server is and can do (for doctor and the start of a run).
struct ServerInfo {
  std::string version;                              // "10.11.6-MariaDB-0+deb12u1", "8.0.36", "SQLite 3.40.1"
  bool skip_locked = true;                          // SELECT ... FOR UPDATE SKIP LOCKED (MariaDB >= 10.6, MySQL >= 8.0)
  long long max_connections = 0, wait_timeout = 0;  // MySQL only (0 on SQLite)
  int schema_version = 0;
  bool job_counters = false;  // the triggers that keep pdr_job_counts exist
};

// The jobs per state of a model as the counters say and as the rows say (doctor).
struct CountCheck {
  bool kept_by_triggers = false;
  std::string note;  // why the triggers could not be created, if this process tried
  std::map<std::string, long long> counters, rows;
};

// What is left of a model when a claim came back empty: a process ends only when nothing is
// pending and no running job may still come back to pending.
struct Backlog {
  long long pending = 0;   // pending rows: locked by another claimer, waiting for a retry, or free
  long long unproven = 0;  // running jobs whose owner did not renew within a heartbeat (it may be
                           // dead: they go back to pending when the lease expires)
  long long running = 0;   // running jobs of every owner, this process's included
};

struct RegisterOptions {
  bool force_onion = false;
  // Whether a recorded output still exists in storage; a local stat() when not given.
  std::function<bool(const std::string& stored_path)> output_exists;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Creates or finds the model, user, executable, chemistry and one parameter row and one job
  // per point; finished points whose outputs are gone, failed, cancelled and abandoned running
  // jobs go back to pending. With `force_onion`, finished points go back to pending for their
  // onion step only (their pdr outputs stay recorded).
  virtual Status register_grid(const Provenance& prov, const std::vector<GridPoint>& points, RegisterReport* report,
                               const RegisterOptions& options = {}) = 0;
  // Moves up to `max` pending jobs of the model to running for `owner`.
  virtual Result<std::vector<ClaimedJob>> claim_jobs(long long model_id, int max, const Owner& owner) = 0;
  // What is left of the model that a process may have to run: pending jobs, locked or not (a
  // claim may skip rows another claimer holds), and running jobs whose owner may be gone (see
  // Backlog). A process ends only when nothing of it is left.
  virtual Result<Backlog> backlog(long long model_id) = 0;
  virtual Result<ParameterValues> load_parameters(long long params_id) = 0;
  // Applies one conditional state change; returns false when the row was not in the expected
  // state (nothing changed).
  virtual Result<bool> update_job_status(const StatusChange& change) = 0;
  // Every running job of `owner` back to pending (interrupted run).
  virtual Result<long long> release_jobs(const Owner& owner) = 0;
  // Records the outcome of an attempt: update_job_status, except that a failure with `retry`
  // set may become pending again (see JobPolicy).
  virtual Result<RecordedOutcome> record_outcome(const StatusChange& change) {
    auto applied = update_job_status(change);
    if (!applied.ok()) return applied.status();
    return RecordedOutcome{applied.value(), change.next, change.error};
  }
  virtual void set_policy(const JobPolicy& policy) { (void)policy; }
  // Records the pdr_config.json template this process renders with, so the jobs it finishes
  // point at it (json_files.template_id) whichever process registered the grid.
  virtual Status use_json_template(const Provenance& prov) {
    (void)prov;
    return Status::Ok();
  }
  // Renews the lease of every running job of `owner` (one statement) and returns the jobs the
  // owner still holds: job id -> lease epoch.
  virtual Result<std::map<long long, long long>> renew_leases(const Owner& owner) {
    (void)owner;
    return std::map<long long, long long>{};
  }
  // Renews one job's lease if `owner` still holds it under `epoch`.
  virtual Result<bool> renew_lease(long long job_id, long long epoch, const Owner& owner) {
    (void)job_id, (void)epoch, (void)owner;
    return true;
  }
  // Running jobs whose lease expired go back to pending (or fail after their last attempt).
  virtual Result<long long> reap_expired() { return 0LL; }
  // Failed and cancelled jobs of the model back to pending with fresh attempts; with
  // `ownerless` also jobs left running with no owner recorded (by the Python pdr_run, which
  // records none: only the user knows that no such run is alive).
  virtual Result<long long> retry_failed(const std::string& model, bool ownerless = false) {
    (void)model;
    (void)ownerless;
    return 0LL;
  }
  // The id of a registered model, if any.
  virtual Result<std::optional<long long>> find_model(const std::string& model) {
    (void)model;
    return std::optional<long long>{};
  }
  virtual Result<StatusReport> status_report(const std::string& model) = 0;
  virtual Result<std::vector<std::string>> model_names() = 0;
  // The recorded outputs of every finished job of the model (job id -> files).
  virtual Result<std::map<long long, std::vector<StoredFile>>> finished_outputs(const std::string& model) {
    (void)model;
    return std::map<long long, std::vector<StoredFile>>{};
  }
  // Records (creates or updates) this process's run of a model: its state and pool counters.
  virtual Status record_run(long long model_id, const Owner& owner, int workers, const std::string& state,
                            const PoolStats& pool) {
    (void)model_id, (void)owner, (void)workers, (void)state, (void)pool;
    return Status::Ok();
  }
  virtual Result<ServerInfo> server_info() { return ServerInfo{}; }
  // Jobs of the model per state (for the progress line).
  virtual Result<std::map<std::string, long long>> state_counts(long long model_id) {
    (void)model_id;
    return std::map<std::string, long long>{};
  }
  virtual Result<GridMap> grid_map(const std::string& model, const std::string& row_axis,
                                   const std::string& column_axis) {
    (void)model;
    return GridMap{row_axis, column_axis, {}, {}, {}};
  }
  // What was migrated when the store was opened (empty for a database of this version).
  virtual MigrationReport migration() const { return {}; }
  // Compares the kept job counters with the rows; rewrites them from the rows (status --recount).
  virtual Result<CountCheck> check_counts(const std::string& model) {
    (void)model;
    return CountCheck{};
  }
  // False when no triggers keep counters (status counts the rows then).
  virtual Result<bool> recount_jobs() { return false; }
};

// Opens the store on the manager's database, creating or migrating the schema (once per
// process: workers share the returned store and never run this again). With `create_schema`
// false nothing is created or changed (for `pdr_run doctor`): only server_info is meaningful.
Result<std::unique_ptr<JobStore>> open_job_store(DbManager& manager, bool create_schema = true);

}  // namespace pdr
