// pdr_dbpath_bench: the database path alone. pdr_run's runner, job store, connection pool,
// heartbeat and journal work through a registered model whose jobs do nothing and finish at
// once, so the claim + record cycles per second are the database's and pdr_run's, not the
// model's. Used by scripts/bench.sh; not installed.
//
//   pdr_dbpath_bench --config C --model-name M --workers W [--job-seconds S]
// prints one line: "<finished> <seconds> <p50 ms> <p99 ms>", where the
// latencies are those of a whole claim + record cycle of one job as a worker sees it.
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "pdr/cli.h"
#include "pdr/config.h"
#include "pdr/grid_run.h"
#include "pdr/settings.h"
#include "pdr/stop_signal.h"

int main(int argc, char** argv) {
  CLI::App app{"pdr_dbpath_bench: claim + record cycles of no-op jobs through pdr_run's runner"};
  pdr::CliOptions options;
  std::string model;
  int workers = 4;
  double job_seconds = 0;
  app.add_option("--config", options.config_file, "configuration file")->required();
  app.add_option("--model-name", model, "a registered model")->required();
  app.add_option("--workers", workers, "worker threads")->check(CLI::Range(1, 1024));
  app.add_option("--job-seconds", job_seconds, "each job sleeps this long (default 0)")->check(CLI::Range(0.0, 3600.0));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  options.model_name = model;
  auto config = pdr::load_config(options, pdr::process_environment());
  if (!config.ok()) {
    std::fprintf(stderr, "pdr_dbpath_bench: %s\n", config.status().message().c_str());
    return 2;
  }
  char cwd[4096];
  auto settings = pdr::build_settings(config.value(), getcwd(cwd, sizeof cwd) ? cwd : ".", 2);
  if (!settings.ok()) {
    std::fprintf(stderr, "pdr_dbpath_bench: %s\n", settings.status().message().c_str());
    return 2;
  }
  settings.value().run.workers = workers;
  settings.value().run.progress_interval = 0;
  auto plan = pdr::prepare_job_plan(settings.value(), /*probe_executable=*/false);
  if (!plan.ok()) {
    std::fprintf(stderr, "pdr_dbpath_bench: %s\n", plan.status().message().c_str());
    return 2;
  }
  pdr::GridRun run(std::move(settings.value()), std::move(plan.value()));
  // A job's cycle: from the end of the previous job on the same thread to this job's start
  // (the record of the last and the claim of this one), as each worker thread sees it; 0 when
  // the claim that brought the last job brought this one too.
  std::mutex mutex;
  std::vector<double> cycles;
  using Clock = std::chrono::steady_clock;
  run.replace_job_work([&](const pdr::ClaimedJob& job) {
    thread_local Clock::time_point last_end{};
    const auto now = Clock::now();
    if (last_end != Clock::time_point{}) {
      std::lock_guard<std::mutex> lock(mutex);
      cycles.push_back(std::chrono::duration<double, std::milli>(now - last_end).count());
    }
    if (job_seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(job_seconds));
    pdr::JobResult r;
    r.job = job;
    r.state = pdr::JobState::Finished;
    last_end = Clock::now();
    return r;
  });
  pdr::StopSignal stop;
  if (pdr::Status st = run.open(stop); !st.ok()) {
    std::fprintf(stderr, "pdr_dbpath_bench: %s\n", st.message().c_str());
    return 2;
  }
  if (pdr::Status st = run.join(stop); !st.ok()) {
    std::fprintf(stderr, "pdr_dbpath_bench: %s\n", st.message().c_str());
    return 2;
  }
  const auto t0 = Clock::now();
  const pdr::RunSummary summary = run.work(stop);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(cycles.begin(), cycles.end());
  auto at = [&](double q) {
    return cycles.empty() ? 0.0 : cycles[static_cast<size_t>(q * static_cast<double>(cycles.size() - 1))];
  };
  std::printf("%lld %.3f %.2f %.2f\n", summary.finished, seconds, at(0.5), at(0.99));
  return summary.fatal.ok() && summary.failed == 0 ? 0 : 1;
}
