#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <ostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "cli/cli_util.h"
#include "cli/progress.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/grid.h"
#include "pdr/job.h"
#include "pdr/journal.h"
#include "pdr/runner.h"
#include "pdr/settings.h"
#include "pdr/stop_signal.h"
#include "util/text.h"
#include "pdr/process.h"
#include "pdr/storage.h"
#include "pdr/work_area.h"

extern char** environ;

namespace pdr {
namespace {

std::string random_token() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << std::setfill('0') << std::setw(8) << rd() << std::setw(8) << rd();
  return out.str();
}

// Checks, before anything is written, that `path` can be created: its nearest existing ancestor
// is a writable directory, and `path` itself, if it exists, has the expected kind.
Status check_creatable(const std::string& path, bool is_dir, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (fs::exists(p, ec)) {
    if (is_dir != fs::is_directory(p, ec)) {
      return Status::Usage(what + ": " + path + (is_dir ? " is not a directory" : " is a directory, not a file"));
    }
    if (access(path.c_str(), W_OK) != 0) return Status::Usage(what + ": " + path + " is not writable");
    return Status::Ok();
  }
  fs::path parent = p.parent_path();
  while (!parent.empty() && !fs::exists(parent, ec)) {
    if (!is_dir) return Status::Usage(what + ": directory " + p.parent_path().string() + " does not exist");
    parent = parent.parent_path();
  }
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) return Status::Usage(what + ": " + parent.string() + " is not a directory");
  if (access(parent.c_str(), W_OK) != 0) return Status::Usage(what + ": " + parent.string() + " is not writable");
  return Status::Ok();
}

int usage_error(const Status& st) {
  spdlog::error("{}", st.message());
  return kExitUsage;
}

// The dry run: the configuration, then the points as they are planned (a second pass, so none
// is kept in memory; the first pass in prepare_grid checked and counted them).
void print_plan(std::ostream& out, const Config& config, const Settings& s, const GridPlan& plan) {
  out << "# pdr_run --dry-run: nothing was written, no database was opened\n";
  out << "# effective configuration (default.yaml < --config < PDR_* environment < flags)\n";
  out << config.describe();
  out << "# planned jobs: " << plan.count << " (metal x dens x mass x chi), model '" << s.pdr.model_name
      << "', " << s.run.workers << (s.run.workers == 1 ? " worker" : " workers") << "\n";
  for (const auto& note : plan.notes) out << "# note: " << note << "\n";
  for (const auto& note : config.notes()) out << "# note: " << note << "\n";
  for (const auto& note : s.notes) out << "# note: " << note << "\n";
  if (plan.seed) out << "# random grid drawn with seed " << *plan.seed << " (repeat it with --seed " << *plan.seed << ")\n";
  char line[512];
  std::snprintf(line, sizeof line, "# %-28s %12s %12s %12s %12s %14s\n", "job", "zmetal", "xnsur", "mass", "sint",
                "rtot");
  out << line;
  auto print_point = [&](const GridPoint& p) {
    std::snprintf(line, sizeof line, "  %-28s %12.6g %12.6g %12.6g %12.6g %14.6g\n", p.job_name.c_str(),
                  p.metal.physical, p.dens.physical, p.mass.physical, p.chi.physical,
                  std::stod(p.param("rtot")));
    out << line;
  };
  if (!plan.points.empty()) {
    for (const auto& p : plan.points) print_point(p);
    return;
  }
  Settings again = s;
  if (plan.seed) again.model.random_seed = plan.seed;  // the same draw
  (void)plan_grid(again, print_point);
}

// Staged outputs of a written finish take their final names; those of an outcome turned down
// (the lease was taken over) or of a stopped attempt are removed, and a failed attempt keeps
// only its logs: no output takes a final name unless its job is recorded finished. A recorded
// finish whose outputs cannot take their names is recorded as a failed attempt instead, so it
// counts against run.max_attempts and waits run.retry_delay like any failure (never a loop).
SettleOutputs settle_outputs(Storage& storage, JobStore& job_store) {
  return [&storage, &job_store](const StatusChange& c, bool applied) -> Status {
    if (c.files.empty()) return Status::Ok();
    if (!applied || c.next == JobState::Pending) {
      storage.discard(c.files);
      return Status::Ok();
    }
    if (c.next != JobState::Finished) {
      std::vector<StoredFile> logs, outputs;
      for (const auto& f : c.files) {
        (f.kind == "output_textout_file" || f.kind == "onion_log" ? logs : outputs).push_back(f);
      }
      storage.discard(outputs);
      if (Status st = storage.promote(logs); !st.ok()) {
        storage.discard(logs);
        spdlog::warn("[job {}] the log of the failed attempt could not be kept: {}", c.job_id, st.message());
      }
      return Status::Ok();
    }
    Status st = storage.promote(c.files);
    if (st.ok()) return st;
    StatusChange back;
    back.job_id = c.job_id;
    back.expect = JobState::Finished;
    back.next = JobState::Failed;
    back.epoch = c.epoch;
    back.retry = true;
    back.error = "storage: " + st.message();
    auto demoted = job_store.record_outcome(back);
    // The staged copies go only once the finish is no longer recorded: a finish that stays
    // recorded keeps them (verify and the next registration find its outputs missing).
    if (demoted.ok() && demoted->applied) storage.discard(c.files);
    if (!demoted.ok()) {
      spdlog::error("[job {}] finished, but its outputs could not take their names ({}); and it could not be "
                    "recorded as failed: {}",
                    c.job_id, st.message(), demoted.status().message());
    } else if (demoted->applied) {
      spdlog::error("[job {}] finished, but its outputs could not take their names: {}", c.job_id, demoted->error);
    }
    return st;
  };
}

// Sets the job policy and records the outcomes that journals of earlier processes on this host
// kept through an outage, before anything is registered or claimed.
void prepare_store(const Settings& s, JobStore& job_store, Storage& storage) {
  job_store.set_policy(JobPolicy{s.run.lease_seconds, s.run.max_attempts, s.run.retry_delay, s.run.heartbeat_seconds});
  if (auto left = replay_left_journals(s.run.journal_dir, job_store, settle_outputs(storage, job_store)); !left.ok()) {
    spdlog::warn("journals left in {} could not be replayed yet: {}", s.run.journal_dir, left.status().message());
  } else if (left->applied + left->rejected > 0) {
    spdlog::info("replayed journals left in {}: {} outcomes recorded, {} no longer current", s.run.journal_dir,
                 left->applied, left->rejected);
  }
}

// Claims and runs jobs of the model until nothing is pending (or a stop): the part of a run that
// `pdr_run worker` shares. Journals left by an earlier process on this host are replayed first.
RunSummary work_on_model(const Settings& s, const JobPlan& jp, Storage& out_storage, JobStore& job_store,
                         DbManager& db, long long model_id, StopSignal& stop,
                         std::vector<std::pair<std::string, std::string>>& summary_failures) {
  Owner owner{host_name(), static_cast<long long>(getpid()), random_token()};
  // Job directories live in this process's locked work area; those of ended processes on this
  // host (killed, out of memory) are removed first.
  int removed = 0;
  auto area = WorkArea::open(s.run.scratch_dir, owner.host, owner.pid, owner.token.substr(0, 12), &removed);
  if (!area.ok()) {
    RunSummary failed;
    failed.fatal = area.status();
    return failed;
  }
  if (removed > 0) {
    spdlog::info("removed the working directories of {} ended pdr_run process{} on this host in {}", removed,
                 removed == 1 ? "" : "es", s.run.scratch_dir);
  }
  // This run and its pool counters, for `pdr_run status`: at the start, every few seconds, at the end.
  auto record_run = [&](const std::string& state) {
    Status st = job_store.record_run(model_id, owner, s.run.workers, state, db.stats());
    if (!st.ok()) spdlog::warn("could not record this run in the database: {}", st.message());
  };
  record_run("running");
  auto last_recorded = std::chrono::steady_clock::now();
  ActiveJobs active;
  Journal journal(s.run.journal_dir, owner.token);
  auto executor = make_tbb_executor(s.run.workers, [&](const ClaimedJob& job) {
    spdlog::info("[job {} {}] started (attempt {})", job.id, job.name, job.attempt);
    auto params = job_store.load_parameters(job.params_id);
    if (!params.ok()) {
      JobResult r;
      r.job = job;
      r.state = JobState::Failed;
      r.error = "setup: " + params.status().message();
      return r;
    }
    const auto cancel = active.cancel_signal(job.id);
    JobControl control;
    control.cancel = cancel.get();
    // No lease round trip before storing: the heartbeat raises `cancel` within one beat of a
    // lost lease, and staged outputs of a late attempt are never given their final names.
    control.stage_tag = owner.token.substr(0, 12) + "-" + std::to_string(job.epoch);
    control.work_root = area.value()->path();
    return execute_job(jp, out_storage, job, params.value(), &stop, &control);
  });
  RunOptions options;
  options.heartbeat_seconds = s.run.heartbeat_seconds;
  options.retry_failures = s.run.max_attempts > 1;
  options.active = &active;
  options.journal = &journal;
  options.outage_wait_seconds = s.run.outage_wait;
  options.settle_outputs = settle_outputs(out_storage, job_store);
  std::mutex failures_mutex;
  std::vector<std::pair<std::string, std::string>> failures;  // job name, error
  auto progress = std::make_unique<ProgressReporter>(
      s.pdr.model_name,
      [&](std::map<std::string, long long>* counts) {
        auto c = job_store.state_counts(model_id);
        if (!c.ok()) return false;
        *counts = c.value();
        return true;
      },
      s.run.progress_interval);
  RunSummary summary = run_jobs(job_store, *executor, model_id, s.run.workers, owner, stop, [&](const JobResult& r) {
    if (r.state == JobState::Failed && !r.journaled) {
      std::lock_guard<std::mutex> lock(failures_mutex);
      failures.emplace_back(r.job.name, r.error);
    }
    if (std::chrono::steady_clock::now() - last_recorded > std::chrono::seconds(5)) {
      record_run("running");
      last_recorded = std::chrono::steady_clock::now();
    }
    if (r.journaled) {
      spdlog::warn("[job {} {}] {} after {:.2f} s; kept in the outage journal until the database answers", r.job.id,
                   r.job.name, r.state == JobState::Finished ? "finished" : r.error.empty() ? to_string(r.state) : r.error,
                   r.seconds);
    } else if (r.state == JobState::Finished) {
      spdlog::info("[job {} {}] finished in {:.2f} s", r.job.id, r.job.name, r.seconds);
    } else if (r.state == JobState::Failed) {
      spdlog::error("[job {} {}] failed: {}", r.job.id, r.job.name, r.error);
    } else if (!r.error.empty() && r.error != "interrupted") {
      spdlog::warn("[job {} {}] {}", r.job.id, r.job.name, r.error);
    } else {
      spdlog::warn("[job {} {}] stopped; back to pending", r.job.id, r.job.name);
    }
    if (!r.kept_dir.empty()) spdlog::warn("[job {} {}] working directory kept: {}", r.job.id, r.job.name, r.kept_dir);
  }, options);
  executor.reset();
  progress.reset();
  summary_failures = std::move(failures);
  if (summary.fatal.ok() && summary.unrecorded == 0) {
    record_run(summary.interrupted ? "interrupted" : summary.failed > 0 ? "failed" : "finished");
  }
  const PoolStats pool = db.stats();
  if (s.database.diagnostics_enabled) {
    spdlog::info("database pool: {} sessions created, {} validated, {} replaced, {} failed connects; "
                 "{} open at the end ({} in use, {} idle)",
                 pool.created, pool.validated, pool.replaced, pool.failed, pool.size, pool.in_use, pool.idle);
  }
  {
    // The runner's own cost, apart from the model's: CPU of this process (all its threads) and
    // of the processes it ran and waited for.
    auto seconds = [](const rusage& u) {
      return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    };
    rusage self{}, children{};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    spdlog::info("cpu: pdr_run {:.2f} s (user + system, all threads), the jobs' processes {:.2f} s",
                 seconds(self), seconds(children));
  }
  if (summary.unrecorded > 0 && journal.size() > 0) {
    spdlog::error("{} outcomes are kept in {}; the next pdr_run or pdr_run worker on this host with the same "
                  "run.journal_dir records them",
                  journal.size(), journal.path());
  }
  return summary;
}

// The end of a run or worker: its counts and wall time (the line before is the caller's), the
// jobs that failed, and the exit code.
int finish_summary(const RunSummary& summary, std::ostream& out,
                   const std::vector<std::pair<std::string, std::string>>& failures = {},
                   const std::string& model = "") {
  if (summary.retried > 0) out << ", " << summary.retried << " failed attempts queued again";
  if (summary.lost > 0) out << ", " << summary.lost << " outcomes dropped (lease taken over)";
  if (summary.replayed > 0) out << ", " << summary.replayed << " recorded from the outage journal";
  if (summary.interrupted) out << ", " << summary.released << " put back to pending (interrupted)";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", summary.seconds);
  out << " (" << secs << " s)\n";
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < failures.size() && i < kShown; ++i) {
    out << "  failed: " << failures[i].first << ": " << failures[i].second << "\n";
  }
  if (failures.size() > kShown) {
    out << "  ... and " << failures.size() - kShown << " more: pdr_run status --model-name " << model << "\n";
  }
  const auto& states = summary.model_states;
  auto state = [&states](const char* name) {
    auto it = states.find(name);
    return it == states.end() ? 0LL : it->second;
  };
  if (!states.empty()) {
    // What the database holds at the end: other processes, the reaper and the journal's
    // replays included. The exit code follows it.
    out << "model " << model << " in the database: " << state("finished") << " finished, " << state("failed")
        << " failed, " << state("pending") << " pending, " << state("running") << " running";
    if (state("cancelled") > 0) out << ", " << state("cancelled") << " cancelled";
    out << "\n";
  }
  if (!summary.fatal.ok()) {
    spdlog::error("stopped: {}{}", summary.fatal.message(),
                  summary.unrecorded > 0 ? "; " + std::to_string(summary.unrecorded) +
                                               " finished jobs could not be recorded"
                                         : std::string());
    return kExitUsage;
  }
  if (summary.interrupted) return kExitInterrupted;
  return summary.failed > 0 || state("failed") > 0 ? kExitSomeFailed : kExitAllDone;
}

}  // namespace

// A grid ready to run: validated settings, planned points, the job plan, and (once registered)
// its storage, database and registration report.
struct GridRun {
  Config config;
  Settings settings;
  GridPlan plan;
  JobPlan job_plan;
  std::unique_ptr<Storage> storage;
  DbManager* db = nullptr;
  std::unique_ptr<JobStore> store;
  RegisterReport reg;
};

// Loads and checks everything the grid needs; nothing is written. A problem is a usage error.
Result<std::unique_ptr<GridRun>> prepare_grid(const CliOptions& options, const EnvLookup& env,
                                              bool keep_points = true) {
  auto g = std::make_unique<GridRun>();
  auto config = load_config(options, env);
  if (!config.ok()) return config.status();
  g->config = std::move(config.value());
  auto settings = build_settings(g->config, invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) return settings.status();
  g->settings = std::move(settings.value());
  auto plan = keep_points ? plan_grid(g->settings) : plan_grid(g->settings, [](const GridPoint&) {});
  if (!plan.ok()) return plan.status();
  g->plan = std::move(plan.value());
  auto job_plan = prepare_job_plan(g->settings, /*probe_executable=*/!options.dry_run);
  if (!job_plan.ok()) return job_plan.status();
  g->job_plan = std::move(job_plan.value());
  return g;
}

// Every local path a run writes can be created (checked before anything is written).
Status check_locations(const GridRun& g) {
  const Settings& s = g.settings;
  for (Status st : {s.database.type == "sqlite" ? check_creatable(s.database.path, false, "database.path") : Status::Ok(),
                    s.storage.type == "local" ? check_creatable(g.job_plan.model_path, true, "storage.base_dir")
                                              : Status::Ok(),
                    check_creatable(s.run.scratch_dir, true, "run.scratch_dir"),
                    check_creatable(s.run.log_dir, true, "run.log_dir")}) {
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// Opens storage and database and registers the grid's points (idempotent); `opened` runs once
// both are open, before anything is registered.
Status register_prepared(GridRun& g, const std::function<void()>& opened = {}) {
  const Settings& s = g.settings;
  for (const auto& note : g.plan.notes) spdlog::warn("{}", note);
  for (const auto& note : g.config.notes()) spdlog::warn("{}", note);
  for (const auto& note : s.notes) spdlog::warn("{}", note);
  if (g.plan.seed) {
    spdlog::info("random grid: {} points drawn with seed {} (repeat it with --seed {})", g.plan.count,
                 *g.plan.seed, *g.plan.seed);
  }
  if (g.job_plan.pdrnew_template.empty()) {
    spdlog::warn("no {} found in {}: writing pdr_config.json only (JSON-only mode)", s.pdr.pdrinp_template_file,
                 s.pdr.base_dir);
  }
  if (Status st = check_locations(g); !st.ok()) return st;
  auto storage = open_storage(s.storage, g.job_plan.model_path, g.job_plan.child_env);
  if (!storage.ok()) return storage.status();
  g.storage = std::move(storage.value());
  auto manager = process_db_manager(s.database);
  if (!manager.ok()) return manager.status();
  g.db = manager.value();
  auto store = open_job_store(*g.db);
  if (!store.ok()) return store.status();
  g.store = std::move(store.value());
  if (opened) opened();
  prepare_store(s, *g.store, *g.storage);
  RegisterOptions register_options;
  register_options.force_onion = s.run.force_onion;
  Storage& st = *g.storage;
  register_options.output_exists = [&st](const std::string& path) { return st.exists(path); };
  if (Status r = g.store->register_grid(g.job_plan.provenance, g.plan.points, &g.reg, register_options); !r.ok()) {
    return r;
  }
  const RegisterReport& reg = g.reg;
  spdlog::info("model '{}': {} points ({} new), {} already done, {} queued again, {} pending", s.pdr.model_name,
               reg.points, reg.created, reg.already_finished, reg.requeued + reg.outputs_missing, reg.pending);
  if (reg.onion_requeued > 0) spdlog::info("--force-onion: {} finished points run their onion step again", reg.onion_requeued);
  if (reg.other_pending > 0) {
    spdlog::warn("{} pending jobs of model '{}' from earlier runs with other values will run too", reg.other_pending,
                 s.pdr.model_name);
  }
  if (reg.outputs_missing > 0) spdlog::warn("{} finished jobs had missing outputs and will run again", reg.outputs_missing);
  if (reg.ownerless_running > 0) {
    spdlog::warn("{} jobs of model '{}' are marked running with no owner recorded (by the Python pdr_run); they are "
                 "left to it. If no such run is alive, queue them again with: pdr_run retry --ownerless --model-name {} "
                 "(and this run's --config)",
                 reg.ownerless_running, s.pdr.model_name, s.pdr.model_name);
  }
  return Status::Ok();
}

int run_grid_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  auto grid = prepare_grid(options, env, /*keep_points=*/!options.dry_run);
  if (!grid.ok()) return usage_error(grid.status());
  GridRun& g = *grid.value();
  if (options.dry_run) {
    print_plan(out, g.config, g.settings, g.plan);
    return kExitAllDone;
  }
  StopSignal stop;
  StopSignal::install_handlers(&stop);
  const Settings& s = g.settings;
  if (Status st = check_locations(g); !st.ok()) return usage_error(st);
  // The log file is created once the database answered: a run refused before it starts (bad
  // credentials, an unreachable server) writes nothing, and says so in one line.
  hold_run_log_lines();
  auto open_log = [&] {
    const std::string log_file = attach_run_log(s.run.log_dir, s.pdr.model_name);
    if (!log_file.empty()) spdlog::info("log file of this run: {}", log_file);
  };
  if (Status st = register_prepared(g, open_log); !st.ok()) return usage_error(st);
  if (options.register_only) {
    out << "model " << s.pdr.model_name << ": " << g.reg.points << " points registered (" << g.reg.created << " new, "
        << g.reg.already_finished << " already done, " << g.reg.pending << " pending); run them with: pdr_run worker "
        << "--model-name " << s.pdr.model_name << "\n";
    return kExitAllDone;
  }
  std::vector<std::pair<std::string, std::string>> failures;
  const RunSummary summary =
      work_on_model(s, g.job_plan, *g.storage, *g.store, *g.db, g.reg.model_id, stop, failures);
  out << "model " << s.pdr.model_name << ": " << g.reg.points << " points; " << summary.finished << " finished, "
      << summary.failed << " failed, " << g.reg.already_finished << " already done";
  return finish_summary(summary, out, failures, s.pdr.model_name);
}

int worker_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (!options.model_name) return usage_error(Status::Usage("worker needs --model-name NAME (a registered grid)"));
  auto config = load_config(options, env);
  if (!config.ok()) return usage_error(config.status());
  auto settings = build_settings(config.value(), invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) return usage_error(settings.status());
  auto job_plan = prepare_job_plan(settings.value(), /*probe_executable=*/true);
  if (!job_plan.ok()) return usage_error(job_plan.status());
  const Settings& s = settings.value();
  for (const auto& note : s.notes) spdlog::warn("{}", note);
  for (Status st : {check_creatable(s.run.scratch_dir, true, "run.scratch_dir"),
                    check_creatable(s.run.log_dir, true, "run.log_dir")}) {
    if (!st.ok()) return usage_error(st);
  }
  if (s.database.type == "sqlite" && access(s.database.path.c_str(), F_OK) != 0) {
    return usage_error(Status::Usage("no job database at " + s.database.path + "; register the grid first (pdr_run "
                                     "with grid flags, or pdr_run submit)"));
  }
  StopSignal stop;
  StopSignal::install_handlers(&stop);
  auto storage = open_storage(s.storage, job_plan->model_path, job_plan->child_env);
  if (!storage.ok()) return usage_error(storage.status());
  auto manager = process_db_manager(s.database);
  if (!manager.ok()) return usage_error(manager.status());
  auto store = open_job_store(*manager.value());
  if (!store.ok()) return usage_error(store.status());
  prepare_store(s, *store.value(), *storage.value());
  if (Status st = store.value()->use_json_template(job_plan->provenance); !st.ok()) return usage_error(st);
  auto model_id = store.value()->find_model(s.pdr.model_name);
  if (!model_id.ok()) return usage_error(model_id.status());
  if (!model_id.value()) {
    return usage_error(Status::Usage("model '" + s.pdr.model_name + "' is not registered in " + s.database.describe() +
                                     "; register the grid first (pdr_run with grid flags, or pdr_run submit)"));
  }
  const std::string log_file = attach_run_log(s.run.log_dir, s.pdr.model_name);
  if (!log_file.empty()) spdlog::info("log file of this worker: {}", log_file);
  std::vector<std::pair<std::string, std::string>> failures;
  const RunSummary summary = work_on_model(s, job_plan.value(), *storage.value(), *store.value(), *manager.value(),
                                           **model_id, stop, failures);
  out << "worker on model " << s.pdr.model_name << ": " << summary.finished << " finished, " << summary.failed
      << " failed";
  return finish_summary(summary, out, failures, s.pdr.model_name);
}

namespace {

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("pdr_run") : p.string();
}

// The sbatch array script: one task per node, each running `pdr_run worker` on the model with
// the same configuration file and the flags that change how a job runs. No secret is written:
// the database password reaches the tasks through the environment Slurm exports from sbatch.
std::string slurm_script(const CliOptions& o, const Settings& s, const std::string& log_pattern) {
  const SlurmSettings& sl = s.slurm;
  const int workers = s.run.workers;
  std::ostringstream out;
  out << "#!/bin/bash\n";
  out << "#SBATCH --job-name=pdr_run-" << s.pdr.model_name << "\n";
  out << "#SBATCH --array=0-" << sl.nodes - 1 << "\n";
  out << "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n";
  out << "#SBATCH --cpus-per-task=" << (sl.cpus_per_task > 0 ? sl.cpus_per_task : workers) << "\n";
  out << "#SBATCH --output=" << log_pattern << "\n";
  if (sl.signal_seconds > 0) out << "#SBATCH --signal=B:TERM@" << sl.signal_seconds << "\n";
  if (!sl.partition.empty()) out << "#SBATCH --partition=" << sl.partition << "\n";
  if (!sl.time.empty()) out << "#SBATCH --time=" << sl.time << "\n";
  if (!sl.account.empty()) out << "#SBATCH --account=" << sl.account << "\n";
  for (const auto& line : sl.extra_lines) out << line << "\n";
  out << "# Written by pdr_run submit. Each task joins model " << s.pdr.model_name
      << " and claims jobs until none is pending;\n# on SIGTERM (before the time limit) it stops claiming and puts "
         "its running jobs back to pending.\n";
  out << "cd " << shell_quote(invocation_dir()) << " || exit 2\n";
  std::vector<std::string> argv = {self_executable(), "worker"};
  if (!o.config_file.empty()) {
    argv.push_back("--config");
    argv.push_back(std::filesystem::absolute(o.config_file).lexically_normal().string());
  }
  for (const auto& a : std::vector<std::string>{"--model-name", s.pdr.model_name, "--parallel", "--workers",
                                               std::to_string(workers)}) {
    argv.push_back(a);
  }
  if (o.species) {
    argv.push_back("--species");
    for (const auto& sp : *o.species) argv.push_back(sp);
  }
  if (!s.run.json_template.empty()) {
    argv.push_back("--json-template");
    argv.push_back(s.run.json_template);
  }
  if (o.keep_tmp) argv.push_back("--keep-tmp");
  out << "exec";
  for (const auto& a : argv) out << " " << shell_quote(a);
  out << "\n";
  return out.str();
}

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

int submit_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (options.scheduler != "slurm") {
    return usage_error(Status::Usage("--scheduler: '" + options.scheduler + "' is not supported (use --scheduler slurm)"));
  }
  CliOptions o = options;
  o.parallel = true;  // each task runs its workers in parallel
  auto grid = prepare_grid(o, env);
  if (!grid.ok()) return usage_error(grid.status());
  GridRun& g = *grid.value();
  const Settings& s = g.settings;
  if (!options.workers && g.config.integer("run.workers") == 0) {
    // The cores of this (login) node say nothing about the compute nodes.
    return usage_error(Status::Usage("submit needs --workers W (jobs per node), or run.workers in the config"));
  }
  if (s.database.type == "sqlite") {
    spdlog::warn("database.type is sqlite: every node must see {} on a shared filesystem that supports locking; "
                 "MySQL/MariaDB is the safe choice for several nodes",
                 s.database.path);
  }
  const std::string stem = s.pdr.model_name + "-" + timestamp();
  const std::string script_path = s.slurm.script_dir + "/" + stem + ".sbatch";
  const std::string log_pattern = s.slurm.script_dir + "/" + s.pdr.model_name + "-%A_%a.log";
  const std::string script = slurm_script(o, s, log_pattern);
  if (options.dry_run) {
    out << "# pdr_run submit --dry-run: nothing was registered, written or submitted\n";
    out << "# " << g.plan.count << " planned jobs of model '" << s.pdr.model_name << "'; " << s.slurm.nodes
        << " array tasks x " << s.run.workers << " workers; the script would be " << script_path << "\n";
    out << script;
    return kExitAllDone;
  }
  const std::string sbatch = s.slurm.sbatch.find('/') != std::string::npos ? s.slurm.sbatch : find_program(s.slurm.sbatch);
  if (sbatch.empty() || access(sbatch.c_str(), X_OK) != 0) {
    return usage_error(Status::Usage("slurm.sbatch: '" + s.slurm.sbatch + "' not found (from " +
                                     g.config.origin("slurm.sbatch") + "); is Slurm installed here?"));
  }
  if (Status st = check_creatable(s.slurm.script_dir, true, "slurm.script_dir"); !st.ok()) return usage_error(st);
  StopSignal stop;
  StopSignal::install_handlers(&stop);
  if (Status st = register_prepared(g); !st.ok()) return usage_error(st);
  const long long pending = static_cast<long long>(g.reg.pending + g.reg.other_pending);
  if (pending == 0) {
    out << "model " << s.pdr.model_name << ": " << g.reg.points << " points, all already done; nothing submitted\n";
    return kExitAllDone;
  }
  std::error_code ec;
  std::filesystem::create_directories(s.slurm.script_dir, ec);
  {
    std::ofstream f(script_path);
    f << script;
    if (!f) return usage_error(Status::Usage("cannot write " + script_path));
  }
  // sbatch gets this process's whole environment: Slurm hands it to the tasks (the password
  // included, which is therefore never written into the script).
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  std::string answer;
  if (!run_captured(sbatch, {"sbatch", "--parsable", script_path}, environment, 120, &answer)) {
    spdlog::error("sbatch failed: {} (the grid stays registered; script {})", answer, script_path);
    return kExitUsage;
  }
  std::string job_id = answer.substr(0, answer.find_first_of(";\n"));
  out << "model " << s.pdr.model_name << ": " << g.reg.points << " points (" << g.reg.created << " new, "
      << g.reg.already_finished << " already done, " << pending << " pending)\n";
  out << "submitted Slurm job " << job_id << ": " << s.slurm.nodes << " array tasks x " << s.run.workers
      << " workers; script " << script_path << "\n";
  out << "logs:  " << s.slurm.script_dir << "/" << s.pdr.model_name << "-" << job_id << "_<task>.log\n";
  out << "watch: pdr_run status --model-name " << s.pdr.model_name
      << (options.config_file.empty() ? std::string() : " --config " + options.config_file) << "    squeue -j " << job_id
      << "\n";
  return kExitAllDone;
}

}  // namespace pdr
