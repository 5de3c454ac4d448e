// `pdr_run worker`: join a registered grid and run its pending jobs.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <ostream>
#include <thread>

#include "cli/cli_util.h"
#include "cli/run_common.h"
#include "engine/progress.h"
#include "pdr/cli.h"
#include "pdr/job.h"
#include "pdr/stop_signal.h"

namespace pdr {

int worker_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (!options.model_name) return usage_error(Status::Usage("worker needs --model-name NAME (a registered grid)"));
  auto config = load_config(options, env);
  if (!config.ok()) return usage_error(config.status());
  auto settings = build_settings(config.value(), invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) return usage_error(with_notes(settings.status(), config.value()));
  auto job_plan = prepare_job_plan(settings.value(), /*probe_executable=*/true);
  if (!job_plan.ok()) return usage_error(job_plan.status());
  GridRun run(std::move(settings.value()), std::move(job_plan.value()));
  run.expect_registered();
  const Settings& s = run.settings();
  log_config_notes(config.value());
  for (const auto& note : s.notes) spdlog::warn("{}", note);
  if (Status st = run.check_locations(/*registering=*/false); !st.ok()) return usage_error(st);
  if (s.database.type == "sqlite" && access(s.database.path.c_str(), F_OK) != 0) {
    return usage_error(Status::Usage("no job database at " + s.database.path +
                                     "; register the grid first (pdr_run "
                                     "with grid flags, or pdr_run submit)"));
  }
  StopSignal stop;
  StopSignal::install_handlers(&stop);
  if (Status st = run.open(stop); !st.ok()) return setup_error(st, s.pdr.model_name);
  if (Status st = run.join(stop); !st.ok()) return setup_error(st, s.pdr.model_name);
  hold_run_log_lines();
  const RunSummary summary = run.work(stop, [&] {
    const std::string log_file = attach_run_log(s.run.log_dir, s.pdr.model_name, s.run.log_keep);
    if (!log_file.empty()) spdlog::info("log file of this worker: {}", log_file);
  });
  out << "worker on model " << s.pdr.model_name << ": " << summary.finished << " finished, " << summary.failed
      << " failed";
  return finish_summary(summary, out, s.pdr.model_name, options);
}

}  // namespace pdr
