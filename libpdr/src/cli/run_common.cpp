#include "cli/run_common.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <thread>

#include "cli/cli_util.h"
#include "pdr/exit_code.h"
#include "pdr/job.h"
#include "util/text.h"

namespace pdr {

Result<PreparedGrid> prepare_grid(const CliOptions& options, const EnvLookup& env, bool keep_points) {
  PreparedGrid g;
  auto config = load_config(options, env);
  if (!config.ok()) return config.status();
  g.config = std::move(config.value());
  auto settings = build_settings(g.config, invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) return with_notes(settings.status(), g.config);
  // Without the points (--dry-run) the plan is only counted and checked: no point is hashed.
  auto plan = keep_points ? plan_grid(settings.value())
                          : plan_grid(
                                settings.value(), [](const GridPoint&) {}, /*hash_points=*/false);
  if (!plan.ok()) return plan.status();
  g.plan = std::move(plan.value());
  auto job_plan = prepare_job_plan(settings.value(), /*probe_executable=*/!options.dry_run);
  if (!job_plan.ok()) return job_plan.status();
  g.run = std::make_unique<GridRun>(std::move(settings.value()), std::move(job_plan.value()));
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

int finish_summary(const RunSummary& summary, std::ostream& out, const std::vector<FailedJob>& failures,
                   const std::string& model, const CliOptions& options) {
  if (summary.retried > 0) out << ", " << count_text(summary.retried, "failed attempt") << " queued again";
  if (summary.lost > 0) out << ", " << summary.lost << " outcomes dropped (lease taken over)";
  if (summary.replayed > 0) out << ", " << summary.replayed << " recorded from the outage journal";
  if (summary.interrupted) out << ", " << summary.released << " put back to pending (interrupted)";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", summary.seconds);
  out << " (" << secs << " s)\n";
  print_failures(out, failures, model, options);
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
