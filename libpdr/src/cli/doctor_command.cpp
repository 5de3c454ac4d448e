#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <thread>
#include <tuple>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/grid.h"
#include "pdr/grid_run.h"
#include "pdr/job.h"
#include "pdr/job_store.h"
#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/storage.h"
#include "pdr/template.h"
#include "util/text.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

class Report {
 public:
  explicit Report(std::ostream& out) : out_(out) {}
  void ok(const std::string& check, const std::string& detail) { line("OK  ", check, detail); }
  void warn(const std::string& check, const std::string& detail) {
    ++warnings_;
    line("WARN", check, detail);
  }
  void fail(const std::string& check, const std::string& detail) {
    ++failures_;
    line("FAIL", check, detail);
  }
  int finish() {
    out_ << "doctor: " << oks_ << " OK, " << warnings_ << " warnings, " << failures_ << " failures\n";
    return failures_ > 0 ? kExitSomeFailed : kExitAllDone;
  }

 private:
  void line(const char* level, const std::string& check, const std::string& detail) {
    if (level[0] == 'O') ++oks_;
    std::string d = detail;
    for (char& c : d) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    out_ << level << "  " << check << ": " << d << "\n";
  }
  std::ostream& out_;
  int oks_ = 0, warnings_ = 0, failures_ = 0;
};

// The filesystem of `path` (or its nearest existing ancestor), when it is a network one.
std::string network_filesystem(const std::string& path) {
  fs::path p = fs::absolute(path);
  std::error_code ec;
  while (!p.empty() && !fs::exists(p, ec)) p = p.parent_path();
  struct statfs sf {};
  if (p.empty() || statfs(p.c_str(), &sf) != 0) return "";
  switch (static_cast<unsigned long>(sf.f_type)) {
    case 0x6969UL:
      return "NFS";
    case 0x517BUL:
      return "SMB";
    case 0xFF534D42UL:
      return "CIFS";
    case 0xFE534D42UL:
      return "SMB2";
    case 0x65735546UL:
      return "FUSE";
    case 0x0BD00BD0UL:
      return "Lustre";
    case 0x47504653UL:
      return "GPFS";
    case 0x19830326UL:
      return "BeeGFS";
    default:
      return "";
  }
}

// The job counters `status` reads: kept by the triggers, and equal to the rows.
void check_counters(JobStore& store, const ServerInfo& info, const DatabaseSettings& db, Report& report) {
  if (!info.job_counters) {
    report.warn("job counts", std::string("no count triggers on pdr_model_jobs, or none counted yet: status and the "
                                          "progress line count the rows (slow on big grids); a run as a user "
                                          "allowed to CREATE TRIGGER creates and counts them") +
                                  (db.type == "mysql" ? " (with binary logging the server also needs "
                                                        "log_bin_trust_function_creators=1)"
                                                      : ""));
    return;
  }
  auto models = store.model_names();
  if (!models.ok()) {
    report.fail("job counts", models.status().message());
    return;
  }
  for (const auto& m : models.value()) {
    auto c = store.check_counts(m);
    if (!c.ok()) {
      report.fail("job counts", c.status().message());
      return;
    }
    if (c->counters != c->rows) {
      std::string diff;
      std::set<std::string> states;
      for (const auto& kv : c->counters) states.insert(kv.first);
      for (const auto& kv : c->rows) states.insert(kv.first);
      for (const auto& st : states) {
        const long long a = c->counters.count(st) ? c->counters.at(st) : 0;
        const long long b = c->rows.count(st) ? c->rows.at(st) : 0;
        if (a != b)
          diff +=
              (diff.empty() ? "" : ", ") + st + " " + std::to_string(a) + " counted, " + std::to_string(b) + " rows";
      }
      report.fail("job counts", "model " + m + ": " + diff + "; `pdr_run status --recount` rewrites the counters");
      return;
    }
  }
  // Rows the Python pdr_run inserted since a registration: no count has them yet.
  auto unclassified = store.unclassified_rows(0);
  if (!unclassified.ok()) {
    report.fail("job counts", unclassified.status().message());
    return;
  }
  if (unclassified.value() > 0) {
    report.warn("job counts", "kept by triggers, equal to the rows of " + std::to_string(models->size()) +
                                  " model(s), but " + count_text(unclassified.value(), "job row") +
                                  " the Python pdr_run wrote since the last registration " +
                                  (unclassified.value() == 1 ? "is" : "are") +
                                  " in no count (status, the views) until the model is registered again");
    return;
  }
  report.ok("job counts", "kept by triggers, equal to the rows of " + std::to_string(models->size()) + " model(s)");
}

// Whether a file can be created (and is removed again) in `dir`.
std::string probe_writable(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (fs::exists(dir, ec)) return dir + " is not a directory";
    fs::path parent = fs::path(dir);
    while (!parent.empty() && !fs::exists(parent, ec)) parent = parent.parent_path();
    if (parent.empty() || !fs::is_directory(parent, ec) || access(parent.c_str(), W_OK) != 0) {
      return dir + " does not exist and cannot be created";
    }
    return "";
  }
  const std::string probe = dir + "/.pdr_run-doctor-" + std::to_string(getpid());
  {
    std::ofstream f(probe);
    if (!f) return dir + " is not writable";
  }
  fs::remove(probe, ec);
  return "";
}

// A SQLite file the user can read but not write, or whose directory cannot take its -wal and
// -shm files, opens and answers; the run then fails at its first write. A damaged page only
// shows when it is read: PRAGMA quick_check reads them all.
void check_sqlite_file(const DatabaseSettings& db, JobStore& store, Report& report) {
  if (access(db.path.c_str(), W_OK) != 0) {
    report.fail("database", db.path + " is not writable by this user (" + std::strerror(errno) +
                                "): a run would fail at its first write; status can still read it");
  } else if (const std::string w = probe_writable(fs::path(db.path).parent_path().string()); !w.empty()) {
    report.fail("database", w + ": SQLite writes the -wal and -shm files of " + db.path + " there");
  }
  auto found = store.integrity_problems();
  if (!found.ok()) {
    report.fail("integrity", found.status().message());
    return;
  }
  const std::vector<std::string>& problems = found.value();
  if (problems.empty()) {
    report.ok("integrity", "PRAGMA quick_check of " + db.path + ": ok");
  } else {
    report.fail("integrity", db.path + " is damaged (PRAGMA quick_check: " + printable(problems.front()) +
                                 (problems.size() > 1 ? "; and " + std::to_string(problems.size() - 1) + " more" : "") +
                                 "); restore it from a copy, or recover it with sqlite3's .recover");
  }
}

// A schema of pdr_run's (version 0 is looked at by check_database).
void check_schema(const ServerInfo& info, JobStore& store, Report& report) {
  if (info.schema_version == kSchemaVersion) {
    // Dropped by hand: a run would fail at the first statement that names one.
    auto missing = store.missing_columns();
    if (!missing.ok()) {
      report.fail("schema", missing.status().message());
      return;
    }
    if (!missing->empty()) {
      std::string names;
      for (size_t i = 0; i < missing->size() && i < 3; ++i) names += (i ? ", " : "") + (*missing)[i];
      if (missing->size() > 3) names += " and " + std::to_string(missing->size() - 3) + " more";
      report.warn("schema", "version " + std::to_string(kSchemaVersion) + ", but column(s) " + names +
                                " are missing (dropped by hand?); the next run adds them back, empty");
      return;
    }
  }
  if (info.schema_version < kSchemaVersion) {
    report.warn("schema", "version " + std::to_string(info.schema_version) + "; the next run upgrades it to " +
                              std::to_string(kSchemaVersion) + " (additive)");
  } else if (info.schema_version > kSchemaVersion) {
    report.fail("schema", "version " + std::to_string(info.schema_version) + " is newer than this pdr_run (" +
                              std::to_string(kSchemaVersion) + "); use a newer pdr_run");
  } else {
    report.ok("schema", "version " + std::to_string(info.schema_version));
  }
}

void check_max_connections(const Settings& s, const ServerInfo& info, Report& report);

// What a shared PostgreSQL server must allow for many processes.
void check_postgresql_server(const Settings& s, const ServerInfo& info, Report& report) {
  if (info.version_number > 0 && info.version_number < 120000) {
    report.fail("version", info.version + " is older than PostgreSQL 12, the oldest pdr_run supports");
  } else {
    report.ok("claims", "SELECT ... FOR UPDATE SKIP LOCKED supported");
  }
  const long long beat_ms = static_cast<long long>(s.run.heartbeat_seconds) * 1000;
  const long long idle = info.idle_session_timeout_ms;
  if (idle > 0 && idle < 2 * beat_ms) {
    report.warn("idle_session_timeout",
                std::to_string(idle) + " ms is shorter than two heartbeats (" + std::to_string(2 * beat_ms) +
                    " ms): idle sessions are closed by the server and replaced after a ping (a reconnect each time)");
  } else {
    report.ok("idle_session_timeout", (idle == 0 ? std::string("off") : std::to_string(idle) + " ms") +
                                          " (heartbeat every " + std::to_string(s.run.heartbeat_seconds) + " s)");
  }
  const long long idle_tx = info.idle_in_transaction_timeout_ms;
  if (idle_tx > 0 && idle_tx < 1000) {
    report.warn("idle_in_transaction_session_timeout",
                std::to_string(idle_tx) +
                    " ms: a transaction of pdr_run that waits a moment between two statements (a busy node) "
                    "loses its session; 1 s or more, or off, is safe");
  } else {
    report.ok("idle_in_transaction_session_timeout",
              idle_tx == 0 ? std::string("off") : std::to_string(idle_tx) + " ms");
  }
  check_max_connections(s, info, report);
}

// What a shared MySQL/MariaDB server must allow for many processes.
void check_mysql_server(const Settings& s, const ServerInfo& info, Report& report) {
  if (info.skip_locked) {
    report.ok("claims", "SELECT ... FOR UPDATE SKIP LOCKED supported");
  } else {
    report.warn("claims",
                "the server cannot SKIP LOCKED (MariaDB >= 10.6 or MySQL >= 8.0 can): claims of several "
                "processes wait for each other");
  }
  const long long beat = s.run.heartbeat_seconds;
  if (info.wait_timeout > 0 && info.wait_timeout < 2 * beat) {
    report.warn("wait_timeout", std::to_string(info.wait_timeout) + " s is shorter than two heartbeats (" +
                                    std::to_string(2 * beat) +
                                    " s): idle sessions are dropped by the server and "
                                    "replaced after a ping (a reconnect each time)");
  } else {
    report.ok("wait_timeout", std::to_string(info.wait_timeout) + " s (heartbeat every " + std::to_string(beat) +
                                  " s, lease " + std::to_string(s.run.lease_seconds) + " s)");
  }
  check_max_connections(s, info, report);
}

// A process holds at most three sessions whatever its workers (the runner loop, which also
// reads each claimed job's parameters, the heartbeat and the progress line), and never more
// than its pool allows.
void check_max_connections(const Settings& s, const ServerInfo& info, Report& report) {
  const long long cap = s.database.pool_size + s.database.max_overflow;
  const long long per_process = std::min<long long>(kSessionsPerProcess, cap);
  const long long need = static_cast<long long>(s.slurm.nodes) * per_process;
  const std::string need_text = std::to_string(need) + " connections at most (" + std::to_string(s.slurm.nodes) +
                                " node(s) x " + std::to_string(per_process) + " per process, whatever the workers)";
  if (info.max_connections > 0 && need > info.max_connections) {
    report.fail("max_connections", std::to_string(info.max_connections) + " is less than the " + need_text +
                                       "; raise max_connections or use fewer nodes/workers");
  } else if (info.max_connections > 0 && need * 10 > info.max_connections * 8) {
    report.warn("max_connections", std::to_string(info.max_connections) + " leaves little room for the " + need_text +
                                       " and other clients");
  } else {
    report.ok("max_connections", std::to_string(info.max_connections) + " for " + need_text);
  }
}

void check_database(const Settings& s, Report& report) {
  // A look: not even the journal mode of an SQLite file changes (someone else's, the Python
  // pdr_run's).
  DatabaseSettings db = s.database;
  db.read_only = db.type == "sqlite";
  if (db.type == "sqlite") {
    const std::string nfs = network_filesystem(db.path);
    if (!nfs.empty()) {
      report.warn("database", "SQLite file " + db.path + " is on " + nfs +
                                  ": locking there is unreliable; use MySQL/MariaDB for several processes or nodes");
    } else if (s.slurm.nodes > 1) {
      // --nodes N (or slurm.nodes): the other nodes do not see a file on this machine's disk.
      report.warn("database", "SQLite file " + db.path + " is on this machine's own disk, which the other " +
                                  std::to_string(s.slurm.nodes - 1) + " of " + std::to_string(s.slurm.nodes) +
                                  " nodes do not see; set database.type to mysql or postgresql for several nodes");
    }
    if (const std::string why = sqlite_file_unreadable(db.path); !why.empty()) {
      report.fail("database", "SQLite file " + db.path + " " + why);
      return;
    }
    struct stat sb;
    if (::stat(db.path.c_str(), &sb) != 0) {
      // The run's own check: a run creates the file, not its directory.
      if (Status st = check_creatable(db.path, false, "database.path"); !st.ok()) {
        report.fail("database", "no SQLite file at " + db.path + ", and a run cannot create it: " + st.message());
      } else {
        report.warn("database", "no SQLite file at " + db.path + " yet; the first run creates it");
      }
      return;
    }
  }
  auto manager = process_db_manager(db);
  if (!manager.ok()) {
    report.fail("database", manager.status().message());
    return;
  }
  auto store = open_job_store(*manager.value(), /*create_schema=*/false);
  if (!store.ok()) {
    report.fail("database", store.status().message());
    return;
  }
  auto info = store.value()->server_info_at_open();
  if (!info.ok()) {
    report.fail("database", info.status().message());
    return;
  }
  report.ok("database",
            "reachable: " + db.describe() + (db.server() ? " as " + db.username : "") + " (" + info->version + ")");
  if (db.type == "sqlite") check_sqlite_file(db, *store.value(), report);
  if (info->schema_version == 0) {
    // What the first run would find: someone else's tables (refused), the Python pdr_run's
    // (taken in), or none.
    if (Status look = expect_before_writing(*manager.value(), Expectation{}); !look.ok()) {
      report.fail("schema", look.message());
    } else if (store.value()->model_names().ok()) {
      report.warn("schema", "the Python pdr_run's tables; the first run takes them in (every row kept)");
    } else {
      report.warn("schema", "no pdr_run tables yet; the first run creates them");
    }
  } else {
    check_schema(info.value(), *store.value(), report);
  }
  if (db.server()) {
    // A read-only server or transaction, or an account without the privileges, answers every
    // read above and refuses a run's first write.
    auto w = store.value()->try_writes();
    if (!w.ok()) {
      report.fail("writes", w.status().message());
    } else if (!w->empty()) {
      report.warn("writes", w.value());
    } else {
      report.ok("writes", info->schema_version > 0
                              ? "an insert into each of pdr_run's tables, and an update and a delete where a run "
                                "makes them, of no row, are taken (rolled back)"
                              : "the session may write (not read-only)");
    }
  }
  if (info->schema_version == kSchemaVersion) check_counters(*store.value(), info.value(), db, report);
  if (db.type == "postgresql") check_postgresql_server(s, info.value(), report);
  if (db.type == "mysql") check_mysql_server(s, info.value(), report);
}

// The templates render completely for the grid's first point.
void check_templates(const Settings& s, const JobPlan& plan, Report& report) {
  auto grid = plan_grid(s);
  if (!grid.ok() || grid->points.empty()) {
    report.warn("templates", "not rendered: no grid point to render (" +
                                 (grid.ok() ? std::string("empty grid") : grid.status().message()) + ")");
  } else {
    const ParameterValues values = grid->points.front().params();
    std::string problem;
    if (!plan.pdrnew_template.empty()) {
      auto r = render_template(plan.pdrnew_template, TemplateKind::PdrNew, values, s.pdr.chem_database,
                               plan.pdrnew_template_path);
      if (!r.ok()) problem = r.status().message();
    }
    auto j =
        render_template(plan.json_template, TemplateKind::Json, values, s.pdr.chem_database, plan.json_template_path);
    if (problem.empty() && !j.ok()) problem = j.status().message();
    if (!problem.empty()) {
      report.fail("templates", problem);
    } else if (plan.pdrnew_template.empty()) {
      report.warn("templates", "no " + s.pdr.pdrinp_template_file + ": JSON-only mode; " + plan.json_template_path +
                                   " renders completely");
    } else {
      report.ok("templates",
                plan.pdrnew_template_path + " and " + plan.json_template_path + " render with no placeholder left");
    }
  }
}

// The PDR base directory, the templates and the storage the jobs would use.
void check_job_plan(const Settings& s, Report& report) {
  auto plan = prepare_job_plan(s, /*probe_executable=*/true);
  if (!plan.ok()) {
    report.fail("executables", plan.status().message());
  } else {
    const Provenance& p = plan->provenance;
    report.ok("executables", s.pdr.base_dir + ": " + p.exe_file_name + " answers --version (revision " +
                                 (p.exe_revision.empty() ? "?" : p.exe_revision) + ", compiled " +
                                 (p.exe_compilation_date.empty() ? "?" : p.exe_compilation_date) + "), " +
                                 s.pdr.onion_file_name + " present, chemistry " + p.chem_file_name);
    check_templates(s, plan.value(), report);
    if (s.storage.type == "local") {
      const std::string w = probe_writable(s.storage.base_dir);
      if (w.empty()) {
        report.ok("storage", "local " + s.storage.base_dir + " writable");
      } else {
        report.fail("storage", w);
      }
    } else {
      auto storage = open_storage(s.storage, plan->model_path, plan->child_env);
      if (storage.ok()) {
        report.ok("storage", s.storage.type + " reachable (" + plan->model_path + ")");
      } else {
        report.fail("storage", storage.status().message());
      }
    }
  }
}

void check_run_dirs(const Settings& s, Report& report) {
  for (const auto& [key, dir] : {std::pair<std::string, std::string>{"run.scratch_dir", s.run.scratch_dir},
                                 {"run.log_dir", s.run.log_dir},
                                 {"run.journal_dir", s.run.journal_dir}}) {
    const std::string w = probe_writable(dir);
    if (w.empty()) {
      report.ok(key, dir + " writable");
    } else {
      report.fail(key, w);
    }
  }
}

}  // namespace

int doctor_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  // Its own flags are input, not a finding about the setup: a bad one is a usage error.
  for (const auto& [flag, value, most] :
       {std::tuple{"--nodes", options.nodes, kMaxNodes}, std::tuple{"--workers", options.workers, kMaxWorkers}}) {
    if (value && (*value < 1 || *value > most)) {
      spdlog::error("{}: must be between 1 and {} (got {})", flag, most, *value);
      return kExitUsage;
    }
  }
  Report report(out);
  auto config = load_config(options, env);
  if (!config.ok()) {
    report.fail("config", config.status().message());
    return report.finish();
  }
  auto settings = build_settings(config.value(), invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) {
    report.fail("config", with_notes(settings.status(), config.value()).message());
    return report.finish();
  }
  for (const auto& note : config->notes()) report.warn("config", note);
  const Settings& s = settings.value();
  report.ok("config", (options.config_file.empty() ? std::string("built-in defaults") : options.config_file) +
                          " (workers " + std::to_string(s.run.workers) + ", lease " +
                          std::to_string(s.run.lease_seconds) + " s)");
  check_database(s, report);
  check_job_plan(s, report);
  check_run_dirs(s, report);
  if (s.run.heartbeat_seconds * 3 > s.run.lease_seconds) {
    report.warn("leases",
                "heartbeat " + std::to_string(s.run.heartbeat_seconds) + " s is more than a third of the lease");
  }
  return report.finish();
}

}  // namespace pdr
