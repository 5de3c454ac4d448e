// The SOCI implementation of JobStore, one class whose methods live in one file per concern:
//   soci_job_store.cpp  helpers, the read-back of `transaction`, row conversions, open_job_store
//   catalog.cpp         what the database has: tables, indexes, triggers, server version
//   schema_upgrade.cpp  creating and upgrading the schema; taking in the predecessor's rows
//   registration.cpp    a grid's model, provenance and the check of its points' physics
//   bulk_insert.cpp     parameter and job rows in batches (multi-row statements on MySQL)
//   reconcile.cpp       what a registration finds: done, to run again, left alone
//   transitions.cpp     the named job state changes (claim, outcome, revoke, requeue, release,
//                       retry) and apply_change, the one conditional UPDATE beneath them
//   history.cpp         the event of each change (pdr_job_events), job_history, prune_history
//   fetch_rows.h        every row of a query, a batch at a time
//   provenance.cpp      the files a finished job recorded (job_files, hdf_files, json_files)
//   leases.cpp          leases, heartbeats, the reaper and what is left to run
//   reports.cpp         counts, status, grid maps, outputs, runs
// Each public method is short transactions on a borrowed session; SOCI exceptions become Status.
// The store looks at nothing but the database: whether outputs exist and owners live is asked
// of the caller (RegisterOptions).
#pragma once

#include <soci/soci.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <unistd.h>

#include "db/db_error.h"
#include "db/dialect.h"
#include "db/fetch_rows.h"
#include "db/schema.h"
#include "db/transactor.h"
#include "pdr/db_manager.h"
#include "pdr/job_store.h"
#include "pdr/sha256.h"
#include "util/text.h"

namespace pdr {

using Session = soci::session;

// The jobs of model :m that the predecessor finished (jobs of pdr_run record job_files rows).
constexpr const char* kFinishedByPredecessor =
    "j.model_name_id = :m AND j.duplicate_key = 0 AND j.status = 'finished' AND NOT EXISTS (SELECT 1 FROM "
    "job_files f WHERE f.job_id = j.id)";

// One conditional change of a job row, as the named transitions apply it: nothing changes unless
// the row is in `expect` (and held by `token`, under `epoch`, when those are set).
struct StatusChange {
  long long job_id = 0;
  JobState expect = JobState::Running;
  JobState next = JobState::Pending;
  std::string token;  // owner that must hold the job (empty: any)
  std::optional<int> exit_code;
  std::string error;          // one line, already free of secrets
  Stage stage = Stage::None;  // with a failure: recorded as error_stage, error_cause
  std::string cause;
  std::vector<StoredFile> files;    // recorded with a transition to finished
  bool onion_only = false;          // finished -> pending for the onion step only
  const Owner* claimant = nullptr;  // the new owner, for a transition to running
  long long epoch = 0;              // lease epoch the row must still have (0: any)
  bool retry = false;               // a failed attempt: its logs are recorded, the attempt counts
  bool earlier_files = true;        // a finish: the job may have file rows to clear (see ClaimedJob)
  // A finish is taken back (its outputs missing) only when its run cannot still be moving them to
  // their final names: the finish is older than this many seconds, or the run that recorded it
  // ended or has said nothing for as long. 0: always.
  int storing_window = 0;
  // For the job's history (pdr_job_events): a change of the reaper, an outcome replayed from a
  // journal (where from), the event's stage when it is not `stage` (a claim: where it starts)
  // and its detail when it is not `error`.
  bool reaped = false;
  std::string reaped_token;  // the token of the owner whose lease the reaper ended
  std::string replayed_from;
  std::string event_stage;
  std::string note;
  // A claim's predicted run time (walltime-aware claiming), recorded on the job.
  double predicted_seconds = -1;
  std::string prediction_basis;
  std::vector<StageStart> stage_starts;  // the attempt's stage starts, written before its outcome
};

struct EventFields;  // history.cpp

// Whether two recorded model paths name the same place.
bool same_location(const std::string& a, const std::string& b);

class SociJobStore : public JobStore {
 public:
  explicit SociJobStore(DbManager* manager)
      : db_(manager), tx_(manager), actor_host_(host_name()), actor_pid_(static_cast<long long>(getpid())) {
    dialect_.mysql = manager->settings().type == "mysql";
    dialect_.pg = manager->settings().type == "postgresql";
  }

  Status open_schema();

  MigrationReport migration() const override { return migration_; }

  // A PostgreSQL time setting as current_setting shows it ("0", "250ms", "10s", "5min") in ms.
  static long long pg_setting_ms(const std::string& text);

  // The names of the job count triggers present in the database.
  std::set<std::string> present_triggers(Session& sql);
  std::string drop_trigger_sql(const std::string& name) const;

  // Whether the counters carry the mark of a count (kCountedMark).
  bool counted(Session& sql);
  bool all_triggers(const std::set<std::string>& present) const;

  bool counters_live() const { return counters_live_; }

  // Creates the job count triggers when check_server found them missing and then counts the
  // rows once. A server that refuses CREATE TRIGGER (no TRIGGER privilege, or binary logging
  // without log_bin_trust_function_creators) leaves pdr_run counting rows for `status` and the
  // progress line: correct, only slower on big grids (doctor says so).
  Status ensure_counters();

  // Rewrites the counters from the rows (after the triggers were created, or to repair them).
  Status recount();

  // Adds a settled model's counter rows (none pending or running) of every session into shard
  // 0 and removes them, so that a grid leaves a row per state, not one per session that worked
  // on it; at the end of a run. Rows a transaction holds are skipped (SKIP LOCKED). Best effort.
  void fold_counts(long long model_id);

  Result<bool> recount_jobs() override;

  // Jobs per state of a model (duplicate_key = 0): from the counters when the triggers keep them,
  // else by counting the rows.
  std::map<std::string, long long> word_counts(Session& sql, long long model_id, bool exact);
  static std::map<std::string, long long> state_totals(const std::map<std::string, long long>& words);
  std::map<std::string, long long> read_counts(Session& sql, long long model_id, bool exact);

  // A model's id by name (the first, should the predecessor have left two rows of one name).
  static std::optional<long long> model_id_of(Session& sql, const std::string& model);
  static Status no_model(const std::string& model);
  // See JobStore::open_registration; in the caller's transaction.
  std::string open_registration_of(Session& sql, long long model_id);

  Result<CountCheck> check_counts(const std::string& model) override;

  // Reads the server's version and limits; on a server without SKIP LOCKED, claims fall back to
  // plain row locks (correct, but claimers of several processes wait for each other).
  Status check_server();

  Result<ServerInfo> server_info() override;
  Result<ServerInfo> server_info_at_open() override;
  Result<std::string> try_writes() override;
  Result<std::vector<std::string>> integrity_problems() override;
  Result<std::vector<std::string>> missing_columns() override;

  static bool supports_skip_locked(const std::string& version);

  Status register_grid(const Provenance& prov, const std::vector<GridPoint>& points, RegisterReport* report,
                       const RegisterOptions& options) override;

  // The json_templates row of the template this process renders (0 when there is none).
  long long json_template_row(Session& sql, const Provenance& prov);
  // The rows a registration refers to.
  struct RegistrationIds {
    long long model = 0, user = 0, exe = 0, chem = 0;
    // Points the model has under another spelling of their values: their name -> the model's.
    std::unordered_map<std::string, std::string> respelled;
  };
  Status register_model(Session& sql, const Provenance& prov, const std::vector<GridPoint>& points,
                        RegistrationIds* ids);
  long long executable_row(Session& sql, const Provenance& prov);
  Status check_points(Session& sql, long long model_id, const std::string& model_name,
                      const std::vector<GridPoint>& points, std::unordered_map<std::string, std::string>* respelled);
  std::unordered_map<std::string, long long> parameter_ids(Session& sql, long long model_id);
  void insert_jobs(Session& sql, const std::vector<GridPoint>& points, size_t begin, size_t end,
                   const std::unordered_map<std::string, long long>& param_ids, const RegistrationIds& ids,
                   const Provenance& prov);

  Status use_json_template(const Provenance& prov) override;

  Result<std::vector<ClaimedJob>> claim_jobs(long long model_id, int max, const Owner& owner) override;
  Result<std::vector<JobRuntime>> finished_runtimes(long long model_id) override;
  Result<std::vector<PendingJob>> pending_jobs(long long model_id) override;
  Result<std::vector<ClaimedJob>> claim_chosen(long long model_id, const std::vector<ChosenJob>& chosen, int max,
                                               const Owner& owner) override;

  Result<Backlog> backlog(long long model_id) override;
  Result<long long> end_leases_of_gone_owners(
      long long model_id, const std::string& own_token,
      const std::function<bool(const std::string& host, long long pid)>& gone) override;

  Result<ParameterValues> load_parameters(long long params_id) override;

  Result<long long> release_jobs(const Owner& owner) override;

  void set_policy(const JobPolicy& policy) override {
    policy_ = policy;
    db_->set_trouble_window(policy.lease_seconds);
  }

  Result<RecordedOutcome> record_outcome(const Outcome& outcome) override;
  Result<std::vector<RecordedOutcome>> record_finishes(const std::vector<Outcome>& finishes) override;
  Result<FinishesAndClaim> record_finishes_and_claim(const std::vector<Outcome>& finishes, long long model_id, int max,
                                                     const Owner& owner) override;

  Result<RecordedOutcome> revoke_finish(const Outcome& finish) override;

  Result<bool> requeue_finished(long long job_id, const std::string& reason) override;

  Result<std::map<long long, long long>> renew_leases(const Owner& owner,
                                                      const std::vector<StageStart>& starts) override;

  Result<long long> reap_expired() override;
  // expect_before_writing's look (nothing is changed).
  Status look_before_writing(const Expectation& expect);

  Result<long long> retry_failed(const std::string& model, bool ownerless) override;

  Result<std::map<std::string, long long>> state_counts(long long model_id) override;
  Result<long long> ownerless_running(long long model_id) override;
  Result<long long> unclassified_rows(long long model_id) override;

  Result<GridMap> grid_map(const std::string& model, const std::string& row_axis,
                           const std::string& column_axis) override;

  static double as_double(const soci::row& row, std::size_t i);

  // A physical value in the grid's units: 10*log10 for dens, chi and mass, percent for metal.
  static std::string grid_unit_text(const std::string& axis, double v);
  static double grid_unit_value(const std::string& axis, double v);

  Result<std::optional<long long>> find_model(const std::string& model) override;
  Result<std::string> open_registration(long long model_id) override;

  Result<StatusReport> status_report(const std::string& model) override;
  Result<ReportData> report_data(const std::string& model) override;

  Result<std::map<long long, std::vector<StoredFile>>> finished_outputs(const std::string& model) override;

  Status record_run(long long model_id, const Owner& owner, int workers, const std::string& state,
                    const PoolStats& pool) override;
  Result<bool> knows_owner(const std::string& token) override;
  Result<UnsettledFinishes> unsettled_finishes(
      long long model_id, const std::function<bool(const std::string& host, long long pid)>& gone) override;
  Status mark_runs_gone(const std::vector<std::string>& tokens) override;
  Result<bool> still_finished(long long job_id, long long epoch) override;
  std::string silent_runs_sql() const;
  // Seconds of silence after which a run of any host has ended (run_ended's bound without
  // knowing whether its process is gone): a finish is taken back no sooner (storing_window).
  int silence_of_an_ended_run() const;
  Result<bool> run_may_be_alive(const std::string& token_prefix,
                                const std::function<bool(const std::string& host, long long pid)>& gone) override;
  Result<std::optional<JobAttempt>> job_attempt(long long model_id, const std::string& name) override;
  Result<std::string> stored_elsewhere(const std::string& model, const std::string& model_path) override;

  Result<std::vector<std::string>> model_names() override;

  Result<std::vector<JobEvent>> job_history(const HistoryQuery& query) override;
  Result<long long> prune_history(long long older_than_seconds, const std::string& model = "") override;

 private:
  using LandedCheck = Transactor::LandedCheck;
  // The job of the point `name` stands for, under another spelling of its values (0: none).
  static long long job_of_spelling(Session& sql, long long model_id, const std::string& name);

  // One write transaction (see Transactor::run).
  template <class Body>
  Status transaction(const std::string& what, Body&& body, const LandedCheck& landed = nullptr) {
    return tx_.run(what, std::forward<Body>(body), landed);
  }
  // One read-only transaction: on SQLite it takes no write lock.
  template <class Body>
  Status read(const std::string& what, Body&& body) {
    return tx_.run(what, std::forward<Body>(body), nullptr, Transactor::Access::kRead);
  }

  // PostgreSQL: a usage error when the session may not create tables in its schema.
  Status may_create_tables();
  bool table_exists(Session& sql, const std::string& table);
  // A usage error naming the first table of pdr_run's names that is someone else's.
  Status foreign_tables(Session& sql);
  bool shaped_like(Session& sql, const TableDef& table);
  // A schema_version table that is pdr_run's.
  bool has_version_table(Session& sql);
  std::vector<std::string> table_names(Session& sql);

  bool view_exists(Session& sql, const std::string& view);

  struct ColumnInfo {
    std::string type;  // lower case
    bool not_null = false;
  };
  // Lower-case column name -> its data type and nullability.
  std::map<std::string, ColumnInfo> column_info(Session& sql, const std::string& table);

  // Gives columns their current definition where an earlier one had NOT NULL. MySQL changes
  // the column in place. SQLite cannot; dropping NOT NULL and changing a default do not touch
  // the stored rows, and SQLite documents editing the table's definition text for exactly that
  // (PRAGMA writable_schema, then a new schema_version): no row is copied, and the table keeps
  // its foreign keys, indexes, triggers and the views that name it.
  void relax_columns(Session& sql, const std::string& table, const std::vector<ColumnDef>& columns);

  void drop_index(Session& sql, const IndexDef& index);

  void add_column(Session& sql, const std::string& table, const ColumnDef& c);

  bool index_exists(Session& sql, const IndexDef& index);

  // Every table, index and view of this version is there (a skipped unique key is not, so its
  // warning comes again at every start).
  bool schema_complete(Session& sql);
  // This version's columns the existing tables of pdr_run's lack ("table.column"), in one look.
  std::vector<std::string> absent_columns(Session& sql);

  void create_index(Session& sql, const IndexDef& index);

  static std::string not_null(const std::string& columns);

  // The values of parameter rows by id.
  static std::map<long long, ParameterValues> parameter_rows(Session& sql, const std::vector<long long>& ids);

  // The first parameter whose stored value is not the point's ("alpha: 0.5 in the database, 0.6
  // now"), or "". Real values agree to 1e-5 relative: a FLOAT column of the predecessor keeps
  // about seven digits, and its rtot (derived from rounded values) differs by 1.3e-6.
  // `grid`: the values of the grid point (xnsur, mass, ...) too, not only the model's constants.
  static std::string first_difference(const ParameterValues& stored, const GridPoint& point, bool grid = true);

  // Takes in rows the predecessor wrote (of one model, or of all with `model` 0): a parameter
  // row without an identity hash gets one (a repeat of a row the model has is kept and marked),
  // and a job without duplicate_key is classified: of the rows of one (model, job name) the
  // finished one (then skipped, then any; the newest first) is the job, the others are kept
  // duplicates. A job of pdr_run that is not finished and not running gives way to a finished
  // row of the predecessor (it finished the point meanwhile). Nothing else of those rows changes.
  void adopt_rows(Session& sql, long long model);
  // status_report's parts.
  std::vector<JobSummary> job_summaries(Session& sql, long long model_id, JobState state,
                                        const std::map<std::string, long long>* words);
  std::vector<RunRecord> run_records(Session& sql, long long model_id);
  PredictionCheck prediction_check(Session& sql, long long model_id);
  bool alter_mysql_table(Session& sql, const TableDef& table);
  void upgrade_tables(Session& sql);
  void replace_old_triggers(Session& sql, int stored);
  void create_views(Session& sql, bool changed);
  void attach_parameters(Session& sql, std::vector<ClaimedJob>* claimed);
  // Claims the pending rows `select` returns (columns id, model_job_name, kosmatau_parameters_id,
  // attempts, run_stage, lease_epoch), in `order` when given (job id -> rank), at most `max`.
  Result<std::vector<ClaimedJob>> claim_rows(const std::string& select, long long model_id, int max, const Owner& owner,
                                             const std::map<long long, const ChosenJob*>* chosen);
  // The WHERE ... ORDER BY ... LIMIT ... (lock) of a claim of up to `max` pending jobs; on MySQL
  // from the job after id :h on (see claim_from).
  std::string claim_select(int max) const;
  // Where a claim's scan of the model's pending jobs starts (the id before), and what it found.
  long long claim_from();
  void claimed_up_to(long long last_id, bool full_scan);
  void claim_in(Session& sql, const std::string& select, long long model_id, int max, const Owner& owner,
                const std::map<long long, const ChosenJob*>* chosen, std::vector<ClaimedJob>* claimed,
                std::vector<StatusChange>* events);
  Result<FinishesAndClaim> finish_and_claim(const std::vector<Outcome>& finishes, long long model_id, int max,
                                            const Owner* owner);
  void replace_view(Session& sql, const ViewDef& view);
  void replace_progress_view(Session& sql, bool counted);
  void adopt_parameter_rows(Session& sql, const std::string& of_model);

 public:
  // A job row the predecessor wrote, not yet classified (adopt_rows).
  struct AdoptedJob {
    long long id;
    std::string status;
    bool owned;
  };

 private:
  // What adopt_rows writes: jobs that give way to a finished row, the rows kept as the job, duplicates.
  struct AdoptedIds {
    std::vector<long long> gave_way, kept, duplicates;
  };
  void classify_jobs(long long model, const std::vector<AdoptedJob>& jobs, const AdoptedJob* current, AdoptedIds& ids);

  // Groups of one (model, job name) with more than one job: their jobs are classified again.
  void unmark_name_clashes(Session& sql);

  // SELECT by the unique key; INSERT OR IGNORE when missing; return the id.
  long long get_or_create(Session& sql, const std::string& table, const std::vector<std::string>& key_cols,
                          const std::vector<std::string>& key_vals,
                          const std::vector<std::pair<std::string, std::string>>& extra);

  // MySQL runs a bulk statement once per row (a round trip each); registration sends rows in
  // multi-row statements instead. Only numbers, hex hashes and job names (checked to hold grid
  // characters only) are written as literals; anything else is bound.
  static constexpr size_t kAnalyzeAfter = 10000;  // new jobs of a registration that refresh statistics
  void refresh_statistics();
  static constexpr size_t kRowsPerStatement = 400;  // under SQLite's 500-term compound limit too

  static std::string number_literal(const std::string& text);

  static bool plain_name(const std::string& v);

  static bool plain_names(const std::vector<GridPoint>& points, size_t begin, size_t end);

  // kRowsPerStatement rows a statement (MySQL, SQLite: a bound row each costs SQLite ~15 us of
  // statement setup). On MySQL the insert trigger costs ~18 us a row (a million points: 18 s
  // more): the batch turns it off for its own session (@pdr_bulk_insert) and adds the rows it
  // inserted to the counters itself, in the same transaction.
  void insert_jobs_multirow(Session& sql, const std::vector<GridPoint>& points, size_t begin, size_t end,
                            const std::unordered_map<std::string, long long>& param_ids, long long model_id,
                            long long user_id, long long exe_id, long long chem_id, const Provenance& prov);

  // PostgreSQL: SOCI sends a bound vector there one row per round trip; a VALUES list of
  // kRowsPerStatement rows is one. The insert trigger counts the rows it inserts.
  void insert_jobs_values(Session& sql, const std::vector<GridPoint>& points, size_t begin, size_t end,
                          const std::unordered_map<std::string, long long>& param_ids, long long model_id,
                          long long user_id, long long exe_id, long long chem_id, const Provenance& prov);

  // The grid's points share one base row: it is written once into a one-row temporary table and
  // each point binds only its own values (a million points bind 7 values each instead of ~100).
  // `points`: the batch's points in the order their rows are inserted (by hash, see register_grid).
  bool insert_parameters_shared(Session& sql, long long model_id, const std::vector<const GridPoint*>& points,
                                size_t begin, size_t end);

  void insert_parameters(Session& sql, long long model_id, const std::vector<const GridPoint*>& points, size_t begin,
                         size_t end);

  Status count_jobs(long long model_id, size_t* out);

  // The outputs a job the predecessor finished must still have, from what it recorded: the
  // hdf_files paths (else pdrstruct<job>.hdf5, its own test of "done"), the output columns it
  // sets only for a file it stored, and by its naming each onion species' TEXTOUT<job>_<species>.
  Status predecessor_outputs(long long model_id, std::unordered_map<long long, std::vector<std::string>>* files);

  // Puts what cannot be trusted back to pending and counts what is already done.
  // A job row as reconcile() reads it, and the recorded outputs of finished jobs.
  struct JobRow {
    long long id, pid, params;
    std::string name, status, host;
    bool owned;
    std::string species;  // the onion species it was registered (or last run) for
  };
  using JobOutputs = std::unordered_map<long long, std::vector<std::string>>;
  Status read_jobs(Session& sql, long long model_id, std::vector<JobRow>* rows, JobOutputs* files);
  Status give_exact_parameters(long long job_id, long long exact_params);
  Status reconcile_job(const JobRow& r, long long exact_params, const JobOutputs& files, const RegisterOptions& options,
                       const std::string& species, RegisterReport* report, bool* reap_now);
  static std::string missing_output(const JobOutputs& files, long long job_id, const RegisterOptions& options);
  Status end_dead_lease(const JobRow& r, const RegisterOptions& options, RegisterReport* report, bool* reap_now);
  // `had_jobs`: the model had job rows before this registration; without any, every row is one
  // it just added (or a concurrent registration did), and only the pending ones are counted.
  Status reconcile(long long model_id, const std::vector<GridPoint>& points,
                   const std::unordered_map<std::string, long long>& param_ids, RegisterReport* report,
                   const RegisterOptions& options, bool had_jobs, const std::string& species);
  // The model's pending jobs, less those of other grids (report->other_pending).
  Status count_pending(long long model_id, RegisterReport* report);

  // Whether the job is in `state` (and, when `token` is given, held by that owner; when `epoch`
  // is given, under that lease epoch: the attempt that wrote it).
  static bool job_is(Session& sql, long long id, JobState state, const std::string& token, long long epoch = 0);

  // Applies one conditional change: the row's state (write_state, with the UPDATE of
  // state_update_sql) and, when it applied, what goes with it (write_outputs: recorded outputs
  // dropped or replaced, a finish's files, a failure's log). False when the row was not as
  // expected: nothing changed.
  // `events`: where the change's history event goes to be written with the others of the
  // transaction (write_events); null: written at once.
  bool apply_change(Session& sql, const StatusChange& change, std::vector<StatusChange>* events = nullptr);
  // With `ids`, the same change of every row listed (c.job_id unused): how many rows it applied to.
  std::string state_update_sql(const StatusChange& c, const std::string& ids = "") const;
  bool write_state(Session& sql, const StatusChange& c);
  long long write_states(Session& sql, const StatusChange& c, const std::vector<long long>& ids);
  void write_outputs(Session& sql, const StatusChange& c);
  // The history line of a change that applied (history.cpp): one INSERT ... SELECT of the job
  // row as the change left it, in the change's transaction. `event` "" names it from the change.
  void write_event(Session& sql, const StatusChange& c, const std::string& event = "");
  // The events of several changes that applied, one INSERT ... SELECT per group of events that
  // differ only in their job (a claim of several jobs, finishes recorded together).
  void write_events(Session& sql, const std::vector<StatusChange>& changes);
  void write_event_rows(Session& sql, const EventFields& f, const std::vector<long long>& ids);
  // An attempt's outcome that found the job moved on (its lease lost): recorded with no state (it
  // changed none).
  void write_rejected(Session& sql, const StatusChange& c);
  // "started" events of a running attempt, each once (a retried write finds it there). `fenced`:
  // only while `token` holds the job under the start's epoch (else the caller holds the row);
  // `undone` is 1 when the change just gave the attempt back.
  void write_stage_starts(Session& sql, const std::vector<StageStart>& starts, const std::string& token, int undone,
                          bool fenced);
  // A grid's event (registered), of no job.
  void write_grid_event(Session& sql, long long model_id, const std::string& event, const std::string& detail);
  static constexpr size_t kFailedWithHistory = 20;  // failed jobs status shows with their last events
  // The last `n` events of each job (status shows them with a failed job).
  std::map<long long, std::vector<JobEvent>> last_events(Session& sql, const std::vector<long long>& job_ids, size_t n);
  // Applies `c` in its own transaction; false when the row was not as expected.
  Result<bool> apply_alone(const StatusChange& c);
  bool apply_or_landed(Session& sql, const StatusChange& c, std::vector<StatusChange>* events = nullptr);
  static StatusChange change_of(const Outcome& o);
  // A failed attempt (`c.next` Failed, `c.retry`) recorded as the policy decides: failed for
  // good, or pending again after the retry delay.
  Result<RecordedOutcome> record_failure(StatusChange c, const std::string& what);

  // A failed attempt's TEXTOUT, kept in storage, is where the predecessor's columns point.
  void record_log(Session& sql, const StatusChange& c);

  // Runs `write` inside a savepoint: an error other than a lost connection or a lock (which
  // retry the whole transaction) undoes only what `write` did and is logged (unless `quiet`);
  // false then. For the predecessor's provenance rows: a key or constraint of its tables must
  // not cost the job's result.
  template <class Write>
  bool best_effort(Session& sql, const std::string& what, Write&& write, bool quiet = false) {
    sql << "SAVEPOINT pdr_provenance";
    try {
      write();
      sql << "RELEASE SAVEPOINT pdr_provenance";
      return true;
    } catch (const soci::soci_error& e) {
      Status st = db_error_status(e, what + " not recorded");
      if (st.kind() == ErrorKind::kTransient || is_connection_lost(st.code())) throw;
      sql << "ROLLBACK TO SAVEPOINT pdr_provenance";
      sql << "RELEASE SAVEPOINT pdr_provenance";
      if (!quiet) spdlog::warn("{}", st.message());
      return false;
    }
  }

  void record_files(Session& sql, const StatusChange& c);
  void record_job_files(Session& sql, long long job_id, const std::vector<StoredFile>& files);
  void record_hdf_files(Session& sql, long long job_id, const StoredFile& hdf4, const StoredFile& structure,
                        const StoredFile& chemistry);
  void record_json_file(Session& sql, long long job_id, const StoredFile& f);

  static long long as_integer(const soci::row& row, std::size_t i);

  static std::string field_text(const soci::row& row, std::size_t i, ParamType type);

  static std::string real_text(double v, ParamType type);

  DbManager* db_;
  long long json_template_id_ = 0;  // json_templates row of the template registered by this process
  long long executable_id_ = 0;     // kosmatau_executables row of this process's program (0: unknown)
  MigrationReport migration_;
  // Other applications' tables in a database where pdr_run's were just created (a warning).
  std::vector<std::string> created_beside_;
  bool counters_live_ = false;              // the triggers keep pdr_job_counts (read at open)
  std::optional<ServerInfo> info_at_open_;  // check_server's reading
  std::string counters_note_;               // why they could not be created, if so
  Transactor tx_;
  JobPolicy policy_;
  Dialect dialect_;
  std::string actor_host_;  // this process, as the history names who made a change
  long long actor_pid_ = 0;
  // Running jobs whose owner this process found gone (its process of this host, silent): their
  // leases were ended, and the reaper takes them back even while it lets other leases be
  // renewed after an outage.
  struct GoneOwner {
    long long id;
    std::string host;
    long long pid;
    bool operator<(const GoneOwner& o) const { return std::tie(id, host, pid) < std::tie(o.id, o.host, o.pid); }
  };
  std::mutex gone_mu_;
  std::set<GoneOwner> proven_gone_;
  bool settle_logged_ = false;  // the grace after the latest trouble was logged
  // A claim on MySQL goes on after the last job this process claimed (see claim_from).
  std::atomic<long long> claim_cursor_{std::numeric_limits<long long>::min()};
  std::atomic<long long> next_full_scan_{0};  // steady clock, ns
};

}  // namespace pdr
