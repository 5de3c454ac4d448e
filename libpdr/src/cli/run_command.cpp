#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/grid.h"
#include "pdr/job.h"
#include "pdr/runner.h"
#include "pdr/settings.h"
#include "pdr/stop_signal.h"
#include "pdr/storage.h"

namespace pdr {
namespace {

std::string random_token() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << std::setfill('0') << std::setw(8) << rd() << std::setw(8) << rd();
  return out.str();
}

std::string host_name() {
  char buf[256] = {0};
  return gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string("unknown");
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

void print_plan(std::ostream& out, const Config& config, const Settings& s, const GridPlan& plan) {
  out << "# pdr_run --dry-run: nothing was written, no database was opened\n";
  out << "# effective configuration (default.yaml < --config < PDR_* environment < flags)\n";
  out << config.describe();
  out << "# planned jobs: " << plan.points.size() << " (metal x dens x mass x chi), model '" << s.pdr.model_name
      << "', " << s.run.workers << (s.run.workers == 1 ? " worker" : " workers") << "\n";
  for (const auto& note : plan.notes) out << "# note: " << note << "\n";
  for (const auto& note : config.notes()) out << "# note: " << note << "\n";
  if (plan.seed) out << "# random grid drawn with seed " << *plan.seed << " (repeat it with --seed " << *plan.seed << ")\n";
  char line[512];
  std::snprintf(line, sizeof line, "# %-28s %12s %12s %12s %12s %14s\n", "job", "zmetal", "xnsur", "mass", "sint",
                "rtot");
  out << line;
  for (const auto& p : plan.points) {
    std::snprintf(line, sizeof line, "  %-28s %12.6g %12.6g %12.6g %12.6g %14.6g\n", p.job_name.c_str(),
                  p.metal.physical, p.dens.physical, p.mass.physical, p.chi.physical,
                  std::stod(p.params.at("rtot")));
    out << line;
  }
}

}  // namespace

int run_grid_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  auto config = load_config(options, env);
  if (!config.ok()) return usage_error(config.status());
  auto settings = build_settings(config.value(), invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) return usage_error(settings.status());
  auto plan = plan_grid(settings.value());
  if (!plan.ok()) return usage_error(plan.status());
  auto job_plan = prepare_job_plan(settings.value(), /*probe_executable=*/!options.dry_run);
  if (!job_plan.ok()) return usage_error(job_plan.status());
  if (options.dry_run) {
    print_plan(out, config.value(), settings.value(), plan.value());
    return kExitAllDone;
  }
  const Settings& s = settings.value();
  for (const auto& note : plan->notes) spdlog::warn("{}", note);
  for (const auto& note : config->notes()) spdlog::warn("{}", note);
  if (plan->seed) {
    spdlog::info("random grid: {} points drawn with seed {} (repeat it with --seed {})", plan->points.size(), *plan->seed,
                 *plan->seed);
  }
  if (job_plan->pdrnew_template.empty()) {
    spdlog::warn("no {} found in {}: writing pdr_config.json only (JSON-only mode)", s.pdr.pdrinp_template_file,
                 s.pdr.base_dir);
  }

  for (Status st : {s.database.type == "sqlite" ? check_creatable(s.database.path, false, "database.path") : Status::Ok(),
                    s.storage.type == "local" ? check_creatable(job_plan->model_path, true, "storage.base_dir")
                                              : Status::Ok(),
                    check_creatable(s.run.scratch_dir, true, "run.scratch_dir")}) {
    if (!st.ok()) return usage_error(st);
  }

  StopSignal stop;
  StopSignal::install_handlers(&stop);

  auto storage = open_storage(s.storage, job_plan->model_path, job_plan->child_env);
  if (!storage.ok()) return usage_error(storage.status());
  auto manager = process_db_manager(s.database);
  if (!manager.ok()) return usage_error(manager.status());
  auto store = open_job_store(*manager.value());
  if (!store.ok()) return usage_error(store.status());

  RegisterReport reg;
  RegisterOptions register_options;
  register_options.force_onion = s.run.force_onion;
  register_options.output_exists = [&](const std::string& path) { return storage.value()->exists(path); };
  if (Status st = store.value()->register_grid(job_plan->provenance, plan->points, &reg, register_options);
      !st.ok()) {
    return usage_error(st);
  }
  spdlog::info("model '{}': {} points ({} new), {} already done, {} queued again, {} pending", s.pdr.model_name,
               reg.points, reg.created, reg.already_finished, reg.requeued + reg.outputs_missing, reg.pending);
  if (reg.onion_requeued > 0) spdlog::info("--force-onion: {} finished points run their onion step again", reg.onion_requeued);
  if (reg.other_pending > 0) {
    spdlog::warn("{} pending jobs of model '{}' from earlier runs with other values will run too", reg.other_pending,
                 s.pdr.model_name);
  }
  if (reg.outputs_missing > 0) {
    spdlog::warn("{} finished jobs had missing outputs and will run again", reg.outputs_missing);
  }

  Owner owner{host_name(), static_cast<long long>(getpid()), random_token()};
  JobStore& job_store = *store.value();
  DbManager& db = *manager.value();
  // This run and its pool counters, for `pdr_run status`: at the start, every few seconds, at the end.
  auto record_run = [&](const std::string& state) {
    Status st = job_store.record_run(reg.model_id, owner, s.run.workers, state, db.stats());
    if (!st.ok()) spdlog::warn("could not record this run in the database: {}", st.message());
  };
  record_run("running");
  auto last_recorded = std::chrono::steady_clock::now();
  Storage& out_storage = *storage.value();
  const JobPlan& jp = job_plan.value();
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
    return execute_job(jp, out_storage, job, params.value(), &stop);
  });
  RunSummary summary = run_jobs(job_store, *executor, reg.model_id, s.run.workers, owner, stop, [&](const JobResult& r) {
    if (std::chrono::steady_clock::now() - last_recorded > std::chrono::seconds(5)) {
      record_run("running");
      last_recorded = std::chrono::steady_clock::now();
    }
    if (r.state == JobState::Finished) {
      spdlog::info("[job {} {}] finished in {:.2f} s", r.job.id, r.job.name, r.seconds);
    } else if (r.state == JobState::Failed) {
      spdlog::error("[job {} {}] failed: {}", r.job.id, r.job.name, r.error);
    } else {
      spdlog::warn("[job {} {}] stopped; back to pending", r.job.id, r.job.name);
    }
    if (!r.kept_dir.empty()) spdlog::warn("[job {} {}] working directory kept: {}", r.job.id, r.job.name, r.kept_dir);
  });
  executor.reset();
  if (summary.fatal.ok()) {
    record_run(summary.interrupted ? "interrupted" : summary.failed > 0 ? "failed" : "finished");
  }
  const PoolStats pool = db.stats();
  if (s.database.diagnostics_enabled) spdlog::info("database pool: {} sessions created, {} validated, {} replaced, {} failed connects; "
               "{} open at the end ({} in use, {} idle)",
               pool.created, pool.validated, pool.replaced, pool.failed, pool.size, pool.in_use, pool.idle);

  out << "model " << s.pdr.model_name << ": " << reg.points << " points; " << summary.finished << " finished, "
      << summary.failed << " failed, " << reg.already_finished << " already done";
  if (summary.interrupted) out << ", " << summary.released << " put back to pending (interrupted)";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", summary.seconds);
  out << " (" << secs << " s)\n";
  if (!summary.fatal.ok()) {
    spdlog::error("stopped: {}{}", summary.fatal.message(),
                  summary.unrecorded > 0 ? "; " + std::to_string(summary.unrecorded) +
                                               " finished jobs could not be recorded and will run again"
                                         : std::string());
    return kExitUsage;
  }
  if (summary.interrupted) return kExitInterrupted;
  return summary.failed > 0 ? kExitSomeFailed : kExitAllDone;
}

}  // namespace pdr
