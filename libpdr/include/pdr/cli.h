// The subcommands of the pdr_run executable. main() parses flags into CliOptions (CLI11) and
// calls one of these; each returns the process exit code (see exit_code.h) and never throws.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "pdr/config.h"

namespace pdr {

struct CliOptions {
  std::string config_file;
  bool dry_run = false;
  std::optional<std::string> model_name;
  bool single = false;
  bool grid = false;
  bool parallel = false;
  std::optional<int> workers;
  std::optional<int> cpus;  // --cpus: the predecessor's flag, accepted and without effect
  std::optional<std::vector<std::string>> metal, dens, mass, chi, species;
  bool keep_tmp = false;
  std::string json_template;  // --json-template FILE
  std::string time_left;      // --time-left DURATION
  bool force_onion = false;   // --force-onion
  bool random = false;        // --random
  std::optional<int> random_count;
  std::optional<std::string> seed;
  bool register_only = false;  // --register-only: register the grid, run nothing
  bool json = false;           // status --json
  bool watch = false;          // status --watch
  double interval = 2;         // status --interval SECONDS
  std::string grid_axes;       // status --grid dens,chi
  std::string show;            // status --grid ... --show states|runtime
  bool recount = false;        // status --recount: rewrite the job counters from the rows first
  bool ownerless = false;      // retry --ownerless: also jobs the Python pdr_run left running
  // history
  std::string job;         // --job NAME|ID
  std::string since;       // --since DURATION|"YYYY-MM-DD[ HH:MM[:SS]]"
  std::string reason;      // --reason EVENT
  bool prune = false;      // --prune
  std::string older_than;  // --older-than DURATION
  // report
  std::string out_file;         // --out FILE ("-": standard output)
  std::string axes;             // --axes X,Y
  std::optional<double> every;  // --watch SECONDS
  // submit
  std::string scheduler;
  std::optional<int> nodes;
  std::optional<std::string> partition, time_limit, account;
  std::vector<std::string> sbatch_lines;
};

// Runs (or with dry_run only plans) the grid described by defaults, config file, environment and
// flags. Results go to `out`, log lines to stderr.
int run_grid_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Joins a registered grid: claims and runs its pending jobs until none is left (a node of a
// multi-node run; `pdr_run submit` starts one per Slurm array task).
int worker_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Registers the grid once and submits one `pdr_run worker` per node as a Slurm array job (with
// --dry-run: prints the script, writes and submits nothing).
int submit_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Checks a setup, one line per check (OK/WARN/FAIL): configuration, database reachability,
// schema version, server capabilities and limits, storage, executables, templates, scratch and
// log directories. Exit 0 when nothing failed, 1 otherwise; leaves nothing behind.
int doctor_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Queues the failed (and cancelled) jobs of a model again with fresh attempts.
int retry_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Prints a model's job history (pdr_job_events), or with --prune deletes old events of models
// that have nothing left to run.
int history_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Writes one self-contained HTML page (or with --json one JSON document) showing a model's
// grid: states and run times over parameter space, progress, failures, hosts; read-only.
int report_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Prints the job counts per state and the failures of one model (or of every model).
int status_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Checks every stored output of the finished jobs of one model against its recorded size and
// sha256; a job with a missing or changed output goes back to pending (the next run redoes it).
int verify_command(const CliOptions& options, const EnvLookup& env, std::ostream& out);

// Builds the merged configuration: defaults < --config < environment < flags.
Result<Config> load_config(const CliOptions& options, const EnvLookup& env);

}  // namespace pdr
