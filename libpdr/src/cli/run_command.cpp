// `pdr_run` with grid flags: plan the grid, register its points, run them.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ostream>

#include "cli/cli_util.h"
#include "cli/run_common.h"
#include "engine/progress.h"
#include "pdr/cli.h"
#include "pdr/exit_code.h"
#include "pdr/stop_signal.h"
#include "util/text.h"

namespace pdr {
namespace {

// The dry run: the configuration, then the points as they are planned (a second pass, so none
// is kept in memory; the first pass in prepare_grid checked and counted them).
void print_plan(std::ostream& out, const Config& config, const Settings& s, const GridPlan& plan) {
  out << "# pdr_run --dry-run: nothing was written, no database was opened\n";
  out << "# effective configuration (default.yaml < --config < PDR_* environment < flags)\n";
  out << config.describe();
  out << "# planned jobs: " << plan.count << " (metal x dens x mass x chi), model '" << s.pdr.model_name << "', "
      << s.run.workers << (s.run.workers == 1 ? " worker" : " workers") << "\n";
  for (const auto& note : plan.notes) out << "# note: " << note << "\n";
  for (const auto& note : config.notes()) out << "# note: " << note << "\n";
  for (const auto& note : s.notes) out << "# note: " << note << "\n";
  if (plan.seed)
    out << "# random grid drawn with seed " << *plan.seed << " (repeat it with --seed " << *plan.seed << ")\n";
  char line[512];
  std::snprintf(line, sizeof line, "# %-28s %12s %12s %12s %12s %14s\n", "job", "zmetal", "xnsur", "mass", "sint",
                "rtot");
  out << line;
  auto print_point = [&](const GridPoint& p) {
    std::snprintf(line, sizeof line, "  %-28s %12.6g %12.6g %12.6g %12.6g %14.6g\n", p.job_name.c_str(),
                  p.metal.physical, p.dens.physical, p.mass.physical, p.chi.physical,
                  std::strtod(p.rtot.c_str(), nullptr));
    out << line;
  };
  if (!plan.points.empty()) {
    for (const auto& p : plan.points) print_point(p);
    return;
  }
  Settings again = s;
  if (plan.seed) again.model.random_seed = plan.seed;  // the same draw
  (void)plan_grid(again, print_point, /*hash_points=*/false);
}

}  // namespace

int run_grid_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (options.register_only && !options.time_left.empty()) {
    spdlog::error("--time-left goes with a run that claims jobs, not with --register-only (give it to pdr_run worker)");
    return kExitUsage;
  }
  // Planning a large grid takes seconds: a signal meanwhile ends the run as any other (130),
  // not by its default action.
  StopSignal stop;
  if (!options.dry_run) StopSignal::install_handlers(&stop);
  auto grid = prepare_grid(options, env, /*keep_points=*/!options.dry_run);
  if (!grid.ok()) return usage_error(grid.status());
  PreparedGrid& g = grid.value();
  GridRun& run = *g.run;
  const Settings& s = run.settings();
  if (options.dry_run) {
    print_plan(out, g.config, s, g.plan);
    return kExitAllDone;
  }
  if (stop.requested()) return interrupted_while_planning(s.pdr.model_name);
  if (Status st = run.check_locations(/*registering=*/true); !st.ok()) return usage_error(st);
  // The log file is created once the database answered: a run refused before it starts (bad
  // credentials, an unreachable server) writes nothing, and says so in one line.
  hold_run_log_lines();
  log_notes(g);
  auto open_log = [&] {
    const std::string log_file = attach_run_log(s.run.log_dir, s.pdr.model_name, s.run.log_keep);
    if (!log_file.empty()) spdlog::info("log file of this run: {}", log_file);
  };
  if (Status st = run.open(stop); !st.ok()) return setup_error(st, s.pdr.model_name);
  if (Status st = run.register_points(g.plan.points, stop); !st.ok()) {
    return setup_error(st, s.pdr.model_name);
  }
  const RegisterReport& reg = run.registered();
  if (options.register_only) {
    out << "model " << s.pdr.model_name << ": " << count_size(reg.points, "point") << " registered (" << reg.created
        << " new, " << reg.already_finished << " already done, " << reg.pending
        << " pending); run them with: " << next_command(options, "worker", s.pdr.model_name) << "\n";
    // A signal during its last step (reconcile) did not cut it short, but it was asked for.
    return stop.requested() ? kExitInterrupted : kExitAllDone;
  }
  const RunSummary summary = run.work(stop, open_log);
  out << "model " << s.pdr.model_name << ": " << count_size(reg.points, "point") << "; " << summary.finished
      << " finished, " << summary.failed << " failed, " << reg.already_finished << " already done";
  return finish_summary(summary, out, s.pdr.model_name, options);
}

}  // namespace pdr
