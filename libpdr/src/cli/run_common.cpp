#include "cli/run_common.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "cli/cli_util.h"
#include "pdr/exit_code.h"
#include "pdr/job.h"
#include "util/text.h"

namespace pdr {

namespace {

// The job tables keep the paths of a job's pdr outputs, its executable and its chemistry file in
// 255-character columns, as the predecessor made them. A path longer than that fails (MySQL,
// PostgreSQL) or is kept whole (SQLite) only when the first job is recorded: refused here on
// every database, before anything is written.
Status check_recorded_paths(const JobPlan& plan, size_t longest_job_name) {
  constexpr size_t kColumn = 255;
  const std::string longest_output =
      plan.model_path + "/pdrgrid/pdrstruct" + std::string(longest_job_name, 'N') + ".hdf5";
  if (longest_output.size() > kColumn) {
    return Status::Usage("storage.base_dir: the model's output paths would be up to " +
                         std::to_string(longest_output.size()) + " characters (" + plan.model_path +
                         "/pdrgrid/pdrstruct<job>.hdf5), longer than the " + std::to_string(kColumn) +
                         " the job tables keep; use a shorter storage.base_dir or model name");
  }
  const Provenance& prov = plan.provenance;
  for (const auto& [key, path] :
       {std::pair<const char*, std::string>{"pdr.base_dir", prov.exe_dir}, {"pdr.base_dir", prov.chem_full_path}}) {
    if (path.size() > kColumn) {
      return Status::Usage(std::string(key) + ": " + path + " is " + std::to_string(path.size()) +
                           " characters long, longer than the " + std::to_string(kColumn) +
                           " the job tables keep; use a shorter directory");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PreparedGrid> prepare_grid(const CliOptions& options, const EnvLookup& env, bool keep_points) {
  PreparedGrid g;
  auto config = load_config(options, env);
  if (!config.ok()) return config.status();
  g.config = std::move(config.value());
  auto settings = build_settings(g.config, invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) return with_notes(settings.status(), g.config);
  // Without the points (--dry-run) the plan is only counted and checked: no point is hashed.
  size_t longest_name = 0;
  const auto measure = [&longest_name](const GridPoint& p) {
    longest_name = std::max(longest_name, p.job_name.size());
  };
  auto plan = keep_points ? plan_grid(settings.value()) : plan_grid(settings.value(), measure, /*hash_points=*/false);
  if (!plan.ok()) return plan.status();
  g.plan = std::move(plan.value());
  for (const auto& p : g.plan.points) measure(p);
  auto job_plan = prepare_job_plan(settings.value(), /*probe_executable=*/!options.dry_run);
  if (!job_plan.ok()) return job_plan.status();
  if (Status st = check_recorded_paths(job_plan.value(), longest_name); !st.ok()) return st;
  g.run = std::make_unique<GridRun>(std::move(settings.value()), std::move(job_plan.value()));
  g.run->set_verify_command(next_command(options, "verify", g.run->settings().pdr.model_name));
  return g;
}

void log_notes(const PreparedGrid& g) {
  const Settings& s = g.run->settings();
  for (const auto& note : g.plan.notes) spdlog::warn("{}", note);
  for (const auto& note : g.config.notes()) spdlog::warn("{}", note);
  for (const auto& note : s.notes) spdlog::warn("{}", note);
  if (g.plan.seed) {
    spdlog::info("random grid: {} points drawn with seed {} (repeat it with --seed {})", g.plan.count, *g.plan.seed,
                 *g.plan.seed);
  }
  if (g.run->job_plan().pdrnew_template.empty()) {
    spdlog::warn("no {} found in {}: writing pdr_config.json only (JSON-only mode)", s.pdr.pdrinp_template_file,
                 s.pdr.base_dir);
  }
}

int usage_error(const Status& st) {
  spdlog::error("{}", st.message());
  return kExitUsage;
}

int interrupted_while_planning(const std::string& model) {
  spdlog::error("model {}: interrupted while planning the grid; nothing was written", model);
  return kExitInterrupted;
}

int setup_error(const Status& st, const std::string& model) {
  if (st.kind() != ErrorKind::kInterrupted) return usage_error(st);
  spdlog::error("model {}: {}; nothing was run or submitted, and the same command again completes it", model,
                st.message());
  return kExitInterrupted;
}

namespace {

void print_failures(std::ostream& out, const std::vector<FailedJob>& failures, const std::string& model,
                    const CliOptions& options) {
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < failures.size() && i < kShown; ++i) {
    out << "  failed: " << failures[i].name << ": " << failures[i].error << "\n";
  }
  if (failures.size() > kShown) {
    out << "  ... and " << failures.size() - kShown << " more: " << next_command(options, "status", model) << "\n";
  }
}

}  // namespace

int finish_summary(const RunSummary& summary, std::ostream& out, const std::string& model, const CliOptions& options) {
  if (summary.retried > 0) out << ", " << count_text(summary.retried, "failed attempt") << " queued again";
  if (summary.lost > 0) out << ", " << count_text(summary.lost, "outcome") << " dropped (lease taken over)";
  if (summary.replayed > 0) out << ", " << summary.replayed << " recorded from the outage journal";
  if (summary.unstored > 0) {
    out << ", " << summary.unstored << " of the finished without their outputs (verify or the next registration "
        << (summary.unstored == 1 ? "runs it" : "run them") << " again)";
  }
  if (summary.interrupted) out << ", " << summary.released << " put back to pending (interrupted)";
  // Kept in the outage journal (the lines above name it) or lost with the database.
  if (summary.unrecorded > 0) out << ", " << count_text(summary.unrecorded, "outcome") << " not yet in the database";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", summary.seconds);
  out << " (" << secs << " s)\n";
  print_failures(out, summary.failures, model, options);
  if (summary.out_of_time) {
    std::string why;
    if (summary.no_time_left) {
      why = "none left, end margin included";
    } else if (summary.shortest_unfit < 0) {
      why = summary.did_not_fit == 1 ? "its retry delay ends too late" : "their retry delays end too late";
    } else {
      why = "the shortest is predicted to take " + duration_text(std::llround(summary.shortest_unfit));
      if (summary.shortest_wait >= 0.5) {
        why += " after a retry delay of " + duration_text(std::llround(summary.shortest_wait));
      }
    }
    out << count_text(summary.did_not_fit, "job") << " did not fit in the time left (" << why
        << (summary.did_not_fit == 1 ? "); it stays" : "); they stay")
        << " pending for another run: " << next_command(options, "worker", model) << "\n";
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
  if (summary.unclassified > 0) {
    out << "  " << count_text(summary.unclassified, "job row")
        << " the Python pdr_run wrote since the model's registration " << (summary.unclassified == 1 ? "is" : "are")
        << " in no count above until the model is registered again (the same grid command)\n";
  }
  if (summary.ownerless_running > 0) {
    // Left to the run that marked them (the Python pdr_run records no owner); a worker said nothing.
    const bool one = summary.ownerless_running == 1;
    out << "  " << count_text(summary.ownerless_running, "running job") << " with no owner recorded "
        << (one ? "is" : "are") << " left to the run that marked " << (one ? "it" : "them")
        << "; if none is alive: " << next_command(options, "retry", model) << " --ownerless\n";
  }
  if (!summary.fatal.ok()) {
    spdlog::error("stopped: {}{}", summary.fatal.message(),
                  summary.unrecorded > 0
                      ? "; " + std::to_string(summary.unrecorded) + " finished jobs could not be recorded"
                      : std::string());
    return kExitUsage;
  }
  if (summary.interrupted) return kExitInterrupted;
  return summary.failed > 0 || state("failed") > 0 ? kExitSomeFailed : kExitAllDone;
}

}  // namespace pdr
