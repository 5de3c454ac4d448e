// The effective settings of one invocation, typed and validated, built from a Config. Relative
// paths are already resolved against the invocation directory.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pdr/config.h"
#include "pdr/job_policy.h"
#include "pdr/status.h"

namespace pdr {

struct DatabaseSettings {
  std::string type;  // "sqlite", "mysql" or "postgresql"
  std::string path;  // sqlite file
  std::string host;
  int port = 3306;
  std::string database;
  std::string username;
  std::string password;  // never logged
  int pool_size = 5;     // sessions kept open when idle
  int max_overflow = 5;  // more sessions while busy, closed when returned
  bool diagnostics_enabled = true;
  int pool_timeout = 60;    // seconds to wait for a free session
  int pool_recycle = 3600;  // seconds before a session is replaced
  bool pool_pre_ping = true;
  int busy_timeout = 30;                                            // seconds SQLite waits for a lock
  std::string unix_socket;                                          // MySQL: socket path instead of TCP
  int connect_timeout = 10, read_timeout = 30, write_timeout = 30;  // servers, seconds
  std::string sslmode;          // PostgreSQL: libpq's sslmode (empty: libpq's default, prefer)
  double start_deadline = 10;   // seconds a command waits at its start for an unreachable server
  bool read_only = false;       // SQLite only read (status): journal mode left as it is, nothing written
  double leak_threshold = 300;  // seconds a session may stay borrowed before it is logged
  struct Retry {
    int max_attempts = 12;
    double initial_delay = 0.1, max_delay = 5, deadline = 120;  // seconds
  } retry;
  bool server() const { return type == "mysql" || type == "postgresql"; }
  // "sqlite file PATH", "mysql HOST:PORT/DATABASE" or "postgresql HOST:PORT/DATABASE" (never the
  // password).
  std::string describe() const {
    if (type == "sqlite") return "sqlite file " + path;
    return type + " " + (unix_socket.empty() ? host + ":" + std::to_string(port) : unix_socket) + "/" + database;
  }
};

struct StorageSettings {
  std::string type;           // "local" or "rclone"
  std::string base_dir;       // local: absolute; rclone: the path on the remote
  std::string rclone_remote;  // "name:" or "name:/base"
  std::string remote_path_prefix;
  double transfer_timeout = 3600;
  // sftp
  std::string host, username, password, key_file, known_hosts;
  int port = 22;
  // local: an output on the same filesystem is stored as a hard link to the job's file instead
  // of a copy (off with run.keep_tmp, whose kept directories must not share the stored files).
  bool link_outputs = true;
};

struct PdrSettings {
  std::string model_name;
  std::string base_dir;  // absolute
  std::string pdr_file_name, onion_file_name, getctrlind_file_name, mrt_file_name;
  std::string pdrinp_template_file, json_template_file;
  std::string chem_database, chem_origin;
};

struct ModelSettings {
  std::vector<std::string> metal, dens, mass, chi;  // grid values as typed
  std::vector<std::string> species;                 // onion species
  std::string alpha, rcore;                         // canonical numbers
  std::string chemistry;                            // network string, verbatim
  bool random = false;                              // draw random_count points instead of the cartesian product
  int random_count = 50;
  std::optional<unsigned long long> random_seed;  // none: a new seed, reported
};

struct RunSettings {
  bool parallel = false;
  int workers = 1;  // effective: 1 unless parallel
  bool keep_tmp = false;
  std::string scratch_dir;    // absolute
  double step_timeout = 0;    // seconds per executable; 0 = no limit
  std::string json_template;  // absolute; replaces the discovered JSON template for this run
  bool force_onion = false;   // finished points run their onion step again
  int lease_seconds = 30;     // a claim's lease, renewed every heartbeat_seconds
  int heartbeat_seconds = 10;
  int max_attempts = 3;            // per job, failures and lost owners together
  double retry_delay = 10;         // seconds before the second attempt; doubles per attempt
  long long max_points = 2000000;  // larger grids are refused before they are planned
  std::string journal_dir;         // absolute; outcomes written while the database is unreachable
  double outage_wait = 600;        // seconds an idle process waits for an unreachable database
  std::string log_dir;             // absolute; one log file per run that starts jobs
  int log_keep = 50;               // log files kept per model (the newest); 0 = all
  double progress_interval = 30;   // seconds between progress lines off a terminal; 0 = none
  // Walltime-aware claiming: the time this process has (--time-left, run.time_left; -1: no
  // limit unless Slurm gives one), the margin kept before its end (-1: the larger of 5 % of the
  // time left and 2 minutes; or end_margin_percent of it) and a run time to assume before any
  // job of the model finished (-1: none).
  double time_left = -1;
  double end_margin = -1;
  double end_margin_percent = -1;
  double expected_job_seconds = -1;
  // The margin kept before the end of `seconds` left.
  double margin_for(double seconds) const {
    if (end_margin >= 0) return end_margin;
    if (end_margin_percent >= 0) return seconds * end_margin_percent / 100;
    return seconds * 0.05 > 120 ? seconds * 0.05 : 120;
  }
  std::vector<std::string> pdr_out_dirs, pdr_inp_dirs;
};

struct SlurmSettings {
  int nodes = 1;  // array tasks, one worker process each
  std::string partition, time, account;
  std::vector<std::string> extra_lines;
  int cpus_per_task = 0;     // 0 = the number of workers
  int signal_seconds = 120;  // SIGTERM this long before the time limit
  std::string script_dir;    // absolute
  std::string sbatch = "sbatch";
};

struct UserSettings {
  std::string username, email;
};

// The largest run.workers (0: one per core) and slurm.nodes a setting or flag may give.
constexpr long long kMaxWorkers = 1024;
constexpr long long kMaxNodes = 100000;

struct Settings {
  DatabaseSettings database;
  StorageSettings storage;
  PdrSettings pdr;
  ModelSettings model;
  RunSettings run;
  SlurmSettings slurm;
  UserSettings user;
  std::map<std::string, std::string> non_default;  // column -> canonical value
  std::vector<std::string> notes;                  // what was adjusted (a repeated species), for warnings and --dry-run

  // The lease, attempts, retry delay and heartbeat of run:, as the job store applies them.
  JobPolicy job_policy() const {
    return JobPolicy{run.lease_seconds, run.max_attempts, run.retry_delay, run.heartbeat_seconds};
  }
};

// Validates the merged config and builds the typed settings; `cwd` resolves relative paths.
Result<Settings> build_settings(const Config& config, const std::string& cwd, unsigned cores);

}  // namespace pdr
