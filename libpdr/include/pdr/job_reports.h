// What the job store reports for people: status, grid maps, runs, the server, what a migration
// did. Plain values, filled by JobStore's read-only methods.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pdr/job_policy.h"
#include "pdr/pool_stats.h"

namespace pdr {

// One line of a job's history (pdr_job_events): a change of its state, written in the same
// transaction as the change.
struct JobEvent {
  long long id = 0;
  long long job_id = 0;  // 0: an event of the grid (registered)
  std::string job_name;
  std::string at;     // database time, UTC, to the millisecond
  std::string event;  // registered, claimed, started, finished, failed, retry, reaped, released, rejected, requeued,
                      // replayed
  std::string state;  // the job's state after it ("" for a rejected outcome, which changed nothing)
  std::string host;   // who made the change
  long long pid = 0;
  std::string token;  // the attempt's run token
  long long attempt = 0, lease_epoch = 0;
  std::string stage;  // a failure's stage; a claim's first stage (pdr, or onion when only onion runs)
  std::optional<int> exit_code;
  std::string detail;
};

struct JobSummary {
  std::string name;
  std::string host;
  long long pid = 0;
  std::string time_of_start;
  std::optional<int> exit_code;
  std::string error;
  std::string stage;  // failed: where its latest attempt failed ("" when not recorded)
  long long id = 0;
  std::vector<JobEvent> last_events;  // failed: its last three events, oldest first
  int attempts = 0;
  long long age_seconds = -1;        // running: since its start (database clock)
  long long heartbeat_seconds = -1;  // running: since its owner last renewed the lease
  bool owned = true;                 // running: an owner is recorded (the Python pdr_run records none)
};

// The states of a model's jobs over two grid axes (dens, chi, mass, metal), the other axes
// aggregated. Values are in the grid's units (10*log10, percent for metal).
struct GridMap {
  std::string row_axis, column_axis;
  std::vector<std::string> rows, columns;  // sorted by value
  // (row, column) -> state -> count
  std::map<std::pair<std::string, std::string>, std::map<std::string, long long>> cells;
  // (row, column) -> the summed run time of its finished jobs (seconds) and how many they are
  std::map<std::pair<std::string, std::string>, std::pair<double, long long>> runtimes;
};

// One pdr_run process working on a model, as it last recorded itself.
struct RunRecord {
  std::string host, state, started_at, updated_at;  // state: running, finished, failed, interrupted, error
  long long pid = 0, workers = 0;
  long long silent_seconds = -1;  // since the run last said it runs (updated_at); -1: unknown
  // Set by judge_run: "gone", "silent" or the state; the state to show people.
  std::string seen_as, shown;
  PoolStats pool;
};

// How a run whose row says it runs is seen (fills seen_as and shown). It renews the row every
// heartbeat: of this host, one whose process is gone (a zombie too) after two heartbeats of this
// configuration (and 25 s) of silence is "gone"; any other after as long as a run of other
// settings may be silent (twice the lease and two minutes, as for taking its leases back) is
// "silent". A killed run's row says "running" until the next run starts.
void judge_run(RunRecord& run, const JobPolicy& policy);

// Predicted against actual run times of finished jobs that were claimed with a prediction
// (walltime-aware claiming): how good the predictions were.
struct PredictionCheck {
  long long jobs = 0;            // finished jobs with a prediction (the latest 10,000)
  double median_ratio = 0;       // actual / predicted, the median
  double within_factor_two = 0;  // the share of jobs whose actual time is within 2x of it
  double mean_actual_seconds = 0;
};

struct StatusReport {
  std::string model;
  PredictionCheck predictions;
  long long total = 0;
  std::map<std::string, long long> by_status;  // every state, zero included
  std::vector<JobSummary> running, failed;
  std::vector<RunRecord> runs;  // the latest runs of the model, newest first
  // The model's last registration began and did not end (interrupted, killed, or still going):
  // what is known of it; "" when none is open.
  std::string open_registration;
};

// One job as `pdr_run report` draws it. Grid values in the grid's units (10*log10 for dens, chi
// and mass, percent for metal); times as seconds before `ReportData::now`, the database's clock.
struct ReportJob {
  long long id = 0;
  std::string name;
  double dens = 0, chi = 0, mass = 0, metal = 0;
  std::string state;  // pending, running, finished, failed
  std::string host;
  long long started_ago = -1, finished_ago = -1;  // its latest attempt; -1: none
  double predicted = -1;                          // seconds predicted at its claim; -1: none
  std::string stage, cause;                       // a failure: where, and what happened
  std::optional<int> exit_code;
  int attempts = 0;
  std::string error;  // the first line of the latest error, shortened
};

// Everything a report is made of, read in one transaction.
struct ReportData {
  std::string model;
  std::string now;  // the database's clock, UTC "YYYY-MM-DD HH:MM:SS"
  std::vector<ReportJob> jobs;
  std::vector<RunRecord> runs;  // the latest runs, newest first
};

// Which events `pdr_run history` prints.
struct HistoryQuery {
  std::string model;
  std::string job;    // a job name or id; "" for every job of the model
  std::string since;  // "YYYY-MM-DD HH:MM:SS" UTC; "" for all
  std::string event;  // one event word; "" for all
  size_t last = 0;    // only the newest `last` events (0: all)
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
  std::vector<std::string> columns_restored;     // of a current schema, dropped by hand ("table.column")
};

// The schema version this pdr_run creates and understands (ServerInfo::schema_version is the
// database's). 1: tables and indexes; 2: leases, retries and the monitoring views (schema_views);
// 3: pdr_job_counts, the jobs per model and state kept by triggers (schema_triggers);
// 4: the predecessor keeps working beside pdr_run: parameter_hash and duplicate_key nullable
//    (filled by pdr_run), jobs unique by (model, job name), no unique key it could trip over;
// 5: error_stage and error_cause of a job's latest failure (in pdr_jobs_v and pdr_failures_v);
//    MySQL's count triggers add with INSERT ... VALUES (no table-level AUTO-INC lock);
// 6: pdr_progress_v sums pdr_job_counts where the triggers keep it; idx_jobs_start and
//    idx_jobs_finish give a model's first start and last finish without reading its rows;
// 7: MySQL's pdr_progress_v reads those through a loose index scan; idx_jobs_model_status is
//    dropped (idx_jobs_claim begins with the same columns).
// 8: pdr_job_events, every job's history (and the view pdr_job_events_v); a job's predicted run
//    time (predicted_seconds, prediction_basis) for walltime-aware claiming.
// 9: the count triggers of MySQL and PostgreSQL add to a shard of their session's own (its
//    connection id or backend pid, no longer modulo 16): no two sessions share a counter row.
// Any change to tables, columns, indexes or views needs a new version: a database at the current
// version with every table, index and view present is opened without being checked further.
constexpr int kSchemaVersion = 9;

// What the database server is and can do (for doctor and the start of a run).
struct ServerInfo {
  std::string version;                              // "10.11.6-MariaDB-0+deb12u1", "8.0.36", "SQLite 3.40.1"
  bool skip_locked = true;                          // SELECT ... FOR UPDATE SKIP LOCKED (MariaDB >= 10.6, MySQL >= 8.0)
  long long max_connections = 0, wait_timeout = 0;  // servers (0 on SQLite); wait_timeout MySQL only
  // PostgreSQL: server_version_num (150018) and its idle timeouts in ms (0: off or unknown).
  long long version_number = 0, idle_session_timeout_ms = 0, idle_in_transaction_timeout_ms = 0;
  int schema_version = 0;
  bool job_counters = false;  // the triggers that keep pdr_job_counts exist
};

// The jobs per state of a model as the counters say and as the rows say (doctor).
struct CountCheck {
  bool kept_by_triggers = false;
  std::string note;  // why the triggers could not be created, if this process tried
  std::map<std::string, long long> counters, rows;
};

}  // namespace pdr
