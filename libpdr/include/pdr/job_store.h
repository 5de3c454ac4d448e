// The job database behind one interface. Every row is created by a get-or-create and every job
// state change is a named transition (claim, record an outcome, release, requeue, reap) in its own
// short transaction, conditional on the state (and owner and lease epoch) it expects, so replaying
// one is harmless and a stale writer cannot overwrite a newer attempt. No SOCI type or exception
// crosses this boundary.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pdr/grid.h"
#include "pdr/job_policy.h"
#include "pdr/job_reports.h"
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
  size_t created = 0;             // new job rows
  size_t already_finished = 0;    // finished with outputs present: no work
  size_t requeued = 0;            // failed/cancelled/stale jobs put back to pending
  size_t outputs_missing = 0;     // finished but outputs gone: back to pending
  size_t outputs_storing = 0;     // of already_finished: under a lease ago, outputs not all in place yet
  size_t onion_requeued = 0;      // finished points queued for onion again (--force-onion)
  size_t onion_not_queued = 0;    // of outputs_storing: --force-onion left them (outputs not all in place yet)
  size_t pending = 0;             // pending after registration (this grid)
  size_t other_pending = 0;       // pending jobs of the model outside this grid (earlier runs)
  size_t ownerless_running = 0;   // 'running' with no owner recorded (the predecessor's): left alone
  size_t species_missing = 0;     // of already_finished: ran the onion step without a species asked for now
  std::string species_example;    // the first of them: "O (it ran CO)"
  size_t respelled = 0;           // points the model has under another spelling of their values (the predecessor's)
  std::string respelled_example;  // the first of them: "100_30_0_10_00 for 100_30_00_10_00"
};

struct ClaimedJob {
  long long id = 0;
  std::string name;
  long long params_id = 0;
  int attempt = 0;
  bool onion_only = false;  // --force-onion: rerun onion on the stored pdr outputs
  long long epoch = 0;      // the claim's lease epoch: its outcome is recorded only under it
  // The point's parameter row, read in the claim's transaction (null: read it by params_id),
  // so workers need no database session of their own.
  std::shared_ptr<const ParameterValues> params;
  // Whether the job may have rows in the file tables (an earlier finish's outputs) when it was
  // claimed: its finish replaces them. Without any (a first attempt), it has nothing to clear.
  bool earlier_files = true;
};

// A finished job's run time (claim to finish, database clock).
struct JobRuntime {
  std::string name;
  double seconds = 0;
};
struct PendingJob {
  long long id = 0;
  std::string name;
  // How long its last attempt is known to have run (until its last heartbeat when it came back
  // unfinished; start to end when it ended and was queued again): a floor for its run time.
  // -1: never attempted, or not known.
  double last_attempt_seconds = -1;
  // Seconds until it may be tried again (a failure's retry delay); 0: now.
  double retry_in_seconds = 0;
};
// A job a process wants to claim, with its predicted run time and what that rests on.
struct ChosenJob {
  long long id = 0;
  double predicted_seconds = -1;  // negative: none
  std::string basis;
  double retry_in_seconds = 0;  // when the plan was made: seconds until it may be claimed
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

// The outcome of one attempt, as the owner that claimed it records it: finished (with its
// stored files), failed (where and how), or handed back to pending (stopped). It is recorded only
// while `token` still holds the job under lease `epoch`, so a replay is harmless and a stale
// owner cannot overwrite a newer attempt.
// A running attempt entered a stage (pdr, each onion species, storage): a "started" event in the
// job's history, written by the next heartbeat or with the attempt's outcome, whichever comes
// first, dated by when it happened.
struct StageStart {
  long long job_id = 0;
  long long epoch = 0;  // the attempt's lease epoch
  Stage stage = Stage::None;
  std::string detail;  // the onion step's species
  std::chrono::steady_clock::time_point at;
};

struct Outcome {
  long long job_id = 0;
  long long epoch = 0;                // the claim's lease epoch
  std::string token;                  // the owner that claimed it
  JobState state = JobState::Failed;  // Finished, Failed, or Pending (handed back)
  Stage stage = Stage::None;          // a failure: where it happened
  std::string cause;                  // ... and what happened there (see Failure)
  std::optional<int> exit_code;
  std::string error;                     // one line for people, already free of secrets
  std::vector<StoredFile> files;         // recorded with a finish; staged until then
  bool retry = false;                    // a failure goes back to pending after a delay unless the job used up its
                                         // attempts or failed the same way twice (see JobPolicy)
  std::string replayed_from;             // set when it comes from an outage journal: which (for the job's history)
  std::vector<StageStart> stage_starts;  // not yet in the history (not kept in an outage journal)
  bool earlier_files = true;             // see ClaimedJob (not kept in an outage journal: true there)
};

// What record_outcome did.
struct RecordedOutcome {
  bool applied = false;               // false: the row had moved on (lease lost); nothing was written
  JobState state = JobState::Failed;  // the state the job is in now
  std::string error;                  // the error recorded with it
};

// What is left of a model when a claim came back empty: a process ends only when nothing is
// pending and no running job may still come back to pending.
struct Backlog {
  long long pending = 0;   // pending rows: locked by another claimer, waiting for a retry, or free
  long long unproven = 0;  // running jobs whose owner did not renew within a heartbeat (it may be
                           // dead: they go back to pending when the lease expires)
  long long running = 0;   // running jobs of every owner, this process's included
};

// A finish recorded by a run that ended without a word, with the outputs it recorded (final
// paths); the copies of that attempt were staged under the tag of `token` and `epoch`.
struct UnsettledFinish {
  long long job_id = 0;
  std::string token;
  long long epoch = 0;
  std::vector<StoredFile> files;
};
// Where a job stands: for judging its staged copies.
struct JobAttempt {
  long long id = 0;
  long long epoch = 0;
  std::string status;  // the status column as stored
};

struct UnsettledFinishes {
  std::vector<std::string> runs;  // the tokens of the runs looked at
  std::vector<UnsettledFinish> finishes;
};

// What a registration asks of the world outside the database (both required: the store itself
// looks at nothing but its tables).
struct RegisterOptions {
  bool force_onion = false;
  // Whether a recorded output still exists in storage.
  std::function<bool(const std::string& stored_path)> output_exists;
  // Whether the owner of a running job is known to be gone (a process of this host that no
  // longer exists; see process_gone): its lease ends now.
  std::function<bool(const std::string& host, long long pid)> owner_gone;
  // Asked between batches: when it answers true (a signal arrived) the registration stops there
  // with ErrorKind::kInterrupted. What it wrote stays and is consistent; registering the grid
  // again completes it. Unset: never stops.
  std::function<bool()> stop_requested;
};

// Every method is one or a few short transactions; an implementation never throws. Tests that
// need a store without a database derive from test::NullJobStore (tests/support).
class JobStore {
 public:
  virtual ~JobStore() = default;

  // --- a grid and its jobs ---

  // Creates or finds the model, user, executable, chemistry and one parameter row and one job
  // per point; finished points whose outputs are gone, failed, cancelled and abandoned running
  // jobs go back to pending. With `force_onion`, finished points go back to pending for their
  // onion step only (their pdr outputs stay recorded).
  virtual Status register_grid(const Provenance& prov, const std::vector<GridPoint>& points, RegisterReport* report,
                               const RegisterOptions& options) = 0;
  // Records the pdr_config.json template this process renders with and the program it runs, so
  // the jobs it claims and finishes point at them (json_files.template_id, the job's and its
  // hdf_files row's executable) whichever process registered the grid.
  virtual Status use_json_template(const Provenance& prov) = 0;
  virtual Result<ParameterValues> load_parameters(long long params_id) = 0;
  // The id of a registered model, if any.
  virtual Result<std::optional<long long>> find_model(const std::string& model) = 0;
  // Where a registered model stores its outputs (model_names.model_path) when that is not
  // `model_path` (the same place written another way is the same), else "".
  virtual Result<std::string> stored_elsewhere(const std::string& model, const std::string& model_path) {
    (void)model;
    (void)model_path;
    return std::string();
  }
  // Whether the model's last registration began and did not end (interrupted, killed, or still
  // going): what is known of it, or "" (see StatusReport::open_registration).
  virtual Result<std::string> open_registration(long long model_id) = 0;

  // --- transitions (see Outcome) ---

  virtual void set_policy(const JobPolicy& policy) = 0;
  // Moves up to `max` pending jobs of the model to running for `owner`.
  virtual Result<std::vector<ClaimedJob>> claim_jobs(long long model_id, int max, const Owner& owner) = 0;
  // Walltime-aware claiming (a process that must end by a deadline): the run times of the
  // model's finished jobs, its pending jobs, and a claim of chosen jobs, most wanted first, each
  // recording its predicted run time. The defaults say the store cannot.
  virtual Result<std::vector<JobRuntime>> finished_runtimes(long long model_id) {
    (void)model_id;
    return Status::Error(ErrorKind::kPermanent, "this job store keeps no run times");
  }
  virtual Result<std::vector<PendingJob>> pending_jobs(long long model_id) {
    (void)model_id;
    return Status::Error(ErrorKind::kPermanent, "this job store cannot list pending jobs");
  }
  virtual Result<std::vector<ClaimedJob>> claim_chosen(long long model_id, const std::vector<ChosenJob>& chosen,
                                                       int max, const Owner& owner) {
    (void)chosen;
    return claim_jobs(model_id, max, owner);
  }
  // Records the outcome of an attempt while its owner still holds the job under the claim's
  // lease epoch (applied false otherwise: nothing written). A failure with `retry` set may go
  // back to pending (see JobPolicy).
  virtual Result<RecordedOutcome> record_outcome(const Outcome& outcome) = 0;
  // Finishes (state Finished) of several attempts in one transaction: all recorded or none, each
  // as record_outcome would (applied false for one whose lease was lost). The default records
  // them one by one.
  virtual Result<std::vector<RecordedOutcome>> record_finishes(const std::vector<Outcome>& finishes) {
    std::vector<RecordedOutcome> out;
    for (const auto& f : finishes) {
      auto r = record_outcome(f);
      if (!r.ok()) return r.status();
      out.push_back(r.value());
    }
    return out;
  }
  // Finishes (as record_finishes) and then a claim of up to `max` jobs (as claim_jobs) in one
  // transaction: one commit for a worker's step from one job to the next. The claim finds what
  // it finds; the finishes land with it or not at all. The default does one after the other.
  struct FinishesAndClaim {
    std::vector<RecordedOutcome> recorded;  // one per finish, in order
    std::vector<ClaimedJob> claimed;
  };
  virtual Result<FinishesAndClaim> record_finishes_and_claim(const std::vector<Outcome>& finishes, long long model_id,
                                                             int max, const Owner& owner) {
    auto recorded = record_finishes(finishes);
    if (!recorded.ok()) return recorded.status();
    auto claimed = claim_jobs(model_id, max, owner);
    if (!claimed.ok()) return claimed.status();
    return FinishesAndClaim{recorded.value(), claimed.value()};
  }
  // A recorded finish (under `finish.epoch`) whose outputs could not take their names becomes a
  // failed attempt of `finish.stage`, retried like any failure.
  virtual Result<RecordedOutcome> revoke_finish(const Outcome& finish) = 0;
  // A finished job whose outputs are missing or changed (`reason`) back to pending; false when it
  // was not finished.
  virtual Result<bool> requeue_finished(long long job_id, const std::string& reason) = 0;
  // Every running job of `owner` back to pending (interrupted run); the attempts do not count.
  virtual Result<long long> release_jobs(const Owner& owner) = 0;
  // Failed and cancelled jobs of the model back to pending with fresh attempts; with
  // `ownerless` also jobs left running with no owner recorded (by the Python pdr_run, which
  // records none: only the user knows that no such run is alive).
  virtual Result<long long> retry_failed(const std::string& model, bool ownerless = false) = 0;

  // --- leases ---

  // Renews the lease of every running job of `owner` (one statement) and returns the jobs the
  // owner still holds: job id -> lease epoch. The stage starts of jobs it still holds go into
  // their histories in the same transaction (each once, also when written before).
  virtual Result<std::map<long long, long long>> renew_leases(const Owner& owner,
                                                              const std::vector<StageStart>& starts) = 0;
  // Running jobs whose lease expired go back to pending (or fail after their last attempt).
  virtual Result<long long> reap_expired() = 0;
  // What is left of the model that a process may have to run: pending jobs, locked or not (a
  // claim may skip rows another claimer holds), and running jobs whose owner may be gone (see
  // Backlog). A process ends only when nothing of it is left.
  virtual Result<Backlog> backlog(long long model_id) = 0;
  // Running jobs of the model held by another owner that is known to be gone, `gone` (a process
  // of this host that no longer exists; see process_gone), and silent for a heartbeat and two
  // seconds: their leases end now, so the reaper returns them without waiting for the rest of
  // the lease. How many.
  virtual Result<long long> end_leases_of_gone_owners(
      long long model_id, const std::string& own_token,
      const std::function<bool(const std::string& host, long long pid)>& gone) {
    (void)model_id;
    (void)own_token;
    (void)gone;
    return 0;
  }
  // Records (creates or updates) this process's run of a model: its state and pool counters.
  virtual Status record_run(long long model_id, const Owner& owner, int workers, const std::string& state,
                            const PoolStats& pool) = 0;
  // Whether the process with this owner token ever worked on this database (its run, a job it
  // holds or an event it wrote is here). An outage journal of a process that worked on another
  // database is not this database's to replay.
  virtual Result<bool> knows_owner(const std::string& token) {
    (void)token;
    return true;
  }
  // Finishes that runs of the model which ended without a word (silent for twice the lease and
  // at least two minutes, or a process of this host that is gone, `gone` (see process_gone), and
  // silent for two heartbeats) recorded around their last heartbeat, still finished under that
  // lease: only a finish being stored when its run ended can have outputs left staged. With the
  // runs looked at, for mark_runs_gone.
  virtual Result<UnsettledFinishes> unsettled_finishes(
      long long model_id, const std::function<bool(const std::string& host, long long pid)>& gone) {
    (void)model_id;
    (void)gone;
    return UnsettledFinishes{};
  }
  // Whether job `job_id` is still finished under lease epoch `epoch` (nothing queued or ran it
  // again since): read right before a settle renames outputs, so a newer attempt's are never
  // replaced by an older one's.
  virtual Result<bool> still_finished(long long job_id, long long epoch) {
    (void)job_id;
    (void)epoch;
    return true;
  }
  // The model's job `name` as it is now (its id, lease epoch: each claim gives a job a new one,
  // and status), or none when the model has no such job.
  virtual Result<std::optional<JobAttempt>> job_attempt(long long model_id, const std::string& name) {
    (void)model_id;
    (void)name;
    return std::optional<JobAttempt>();
  }
  // Whether the run whose token begins with `token_prefix` may still be at work (recorded as
  // running or lost and not silent as unsettled_finishes counts an ended run): it may still
  // rename the outputs it staged. False for a run that ended, or that no row records.
  virtual Result<bool> run_may_be_alive(const std::string& token_prefix,
                                        const std::function<bool(const std::string& host, long long pid)>& gone) {
    (void)token_prefix;
    (void)gone;
    return true;
  }
  // Runs whose last finishes were looked at (unsettled_finishes) are marked `gone`, so they are
  // not looked at again, unless one renewed meanwhile (it says `running` again then).
  virtual Status mark_runs_gone(const std::vector<std::string>& tokens) {
    (void)tokens;
    return Status::Ok();
  }

  // --- reports (read-only) ---

  virtual Result<StatusReport> status_report(const std::string& model) = 0;
  // The events of a model's jobs, oldest first (see HistoryQuery).
  virtual Result<std::vector<JobEvent>> job_history(const HistoryQuery& query) {
    (void)query;
    return Status::Error(ErrorKind::kPermanent, "this job store keeps no history");
  }
  // Deletes the events older than `older_than_seconds` of models with no pending or running job
  // (of `model` alone when not empty); returns how many.
  virtual Result<long long> prune_history(long long older_than_seconds, const std::string& model = "") {
    (void)older_than_seconds;
    (void)model;
    return Status::Error(ErrorKind::kPermanent, "this job store keeps no history");
  }
  // Every job of the model with its point, state, times and failure, for `pdr_run report`.
  virtual Result<ReportData> report_data(const std::string& model) {
    (void)model;
    return Status::Error(ErrorKind::kPermanent, "this job store cannot report");
  }
  virtual Result<std::vector<std::string>> model_names() = 0;
  // Jobs of the model per state (for the progress line).
  virtual Result<std::map<std::string, long long>> state_counts(long long model_id) = 0;
  // Job rows of the model (0: of every model) not classified yet: rows the Python pdr_run
  // inserted since the model's last registration (duplicate_key NULL), which no count includes
  // until the next registration takes them in.
  virtual Result<long long> unclassified_rows(long long model_id) {
    (void)model_id;
    return 0LL;
  }
  // Running jobs of the model with no owner recorded (the Python pdr_run records none).
  virtual Result<long long> ownerless_running(long long model_id) {
    (void)model_id;
    return 0LL;
  }
  virtual Result<GridMap> grid_map(const std::string& model, const std::string& row_axis,
                                   const std::string& column_axis) = 0;
  // The recorded outputs of every finished job of the model (job id -> files). A file without a
  // sha256 (an output of a job the predecessor finished, which it did not hash) is checked for
  // existence only.
  virtual Result<std::map<long long, std::vector<StoredFile>>> finished_outputs(const std::string& model) = 0;
  virtual Result<ServerInfo> server_info() = 0;
  // What the server said when the store was opened, without asking again (a command that only
  // looks opens and checks once: on PostgreSQL each catalog look of a new session costs ms).
  virtual Result<ServerInfo> server_info_at_open() { return server_info(); }
  // Tries the writes a run makes, rolled back at once (doctor): an INSERT of no row into each
  // table of pdr_run's (schema_version only at upgrades), an UPDATE of no row of the four a run
  // updates and a DELETE of none from the four it deletes from (on PostgreSQL also whether the
  // id sequences may be used), or, before the first run, whether the session may write at all.
  // An error names what a run would meet at its first write: a read-only server or transaction,
  // a missing privilege, a lock held for more than 5 s. A doubt (no CREATE privilege that the
  // server shows, a read_only server an account may be allowed to write to) is the value; ""
  // on SQLite (the file is checked) and when nothing is in doubt.
  virtual Result<std::string> try_writes() { return std::string(); }
  // What SQLite's PRAGMA quick_check finds wrong with the database file (every page read);
  // empty when it is sound, and on a server (which checks its own pages).
  virtual Result<std::vector<std::string>> integrity_problems() = 0;
  // Columns of this version's tables that the database lacks ("pdr_model_jobs.token"), of the
  // tables it has (a column dropped by hand: a run adds it back, empty).
  virtual Result<std::vector<std::string>> missing_columns() { return std::vector<std::string>{}; }
  // What was migrated when the store was opened (empty for a database of this version).
  virtual MigrationReport migration() const = 0;
  // Compares the kept job counters with the rows; rewrites them from the rows (status --recount).
  virtual Result<CountCheck> check_counts(const std::string& model) = 0;
  // False when no triggers keep counters (status counts the rows then).
  virtual Result<bool> recount_jobs() = 0;
};

// Opens the store on the manager's database, creating or migrating the schema (once per
// process: workers share the returned store and never run this again). With `create_schema`
// false nothing is created or changed (for `pdr_run doctor`): only server_info is meaningful.
Result<std::unique_ptr<JobStore>> open_job_store(DbManager& manager, bool create_schema = true);

// What a command that may write has to find in a database before it writes anything there.
enum class Expect {
  kNotSomeoneElses,  // no table of pdr_run's names that is someone else's (a registration, doctor)
  kPdrRunTables,     // that, and pdr_run's or the Python pdr_run's tables (retry, verify, ...)
  kModel,            // that, and the model named (a worker; the commands given --model-name)
};

// What a command that may write has to find, in full.
struct Expectation {
  Expect what = Expect::kNotSomeoneElses;
  std::string model;
  std::string register_hint;  // added to the line of a missing table or model
  std::string model_path;     // when set: refused if the model stores its outputs elsewhere
  std::string species;        // a worker's, space separated: refused if the model's jobs waiting
                              // to run were registered for other species
};

// A look, changing nothing, before the schema is created or migrated: one line (a usage error)
// when the database is not what `expect` says. Call it after reach(): a connect changes nothing
// in a file (SQLite's write-ahead logging is switched on where the schema is opened).
Status expect_before_writing(DbManager& manager, const Expectation& expect);

}  // namespace pdr
