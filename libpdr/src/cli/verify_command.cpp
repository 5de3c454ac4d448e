// `pdr_run verify`: check the stored outputs of finished jobs; redo those whose outputs changed.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <ostream>
#include <thread>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/job_store.h"
#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/storage.h"

namespace pdr {

int verify_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (!options.model_name) {
    spdlog::error("verify needs --model-name NAME");
    return kExitUsage;
  }
  auto opened = open_existing_store(options, env, "verify");
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitUsage;
  }
  const Settings* settings = &opened->settings;
  JobStore& store = *opened->store;
  store.set_policy(JobPolicy{settings->run.lease_seconds, settings->run.max_attempts, settings->run.retry_delay,
                             settings->run.heartbeat_seconds});
  const std::string model_root =
      (std::filesystem::path(settings->storage.base_dir) / *options.model_name).lexically_normal().string();
  // The storage a run of this configuration would use: one that is not the model's is refused,
  // as a run refuses it, rather than judged by files elsewhere.
  auto stored = store.stored_elsewhere(*options.model_name, model_root);
  if (!stored.ok()) {
    spdlog::error("{}", stored.status().message());
    return kExitUsage;
  }
  if (!stored->empty()) {
    spdlog::error("model '{}' stores its outputs in {}, not {}; use that storage.base_dir", *options.model_name,
                  stored.value(), model_root);
    return kExitUsage;
  }
  auto storage = open_storage(settings->storage, model_root, child_environment());
  if (!storage.ok()) {
    spdlog::error("{}", storage.status().message());
    return kExitUsage;
  }
  auto jobs = store.finished_outputs(*options.model_name);
  if (!jobs.ok()) {
    spdlog::error("{}", jobs.status().message());
    return kExitUsage;
  }
  long long files = 0, demoted = 0, left = 0;
  for (const auto& [job_id, outputs] : jobs.value()) {
    std::string problem;
    for (const auto& f : outputs) {
      ++files;
      problem = !f.sha256.empty()                 ? storage.value()->check(f)
                : storage.value()->exists(f.path) ? ""
                                                  : "output missing: " + f.path;
      if (!problem.empty()) break;
    }
    if (problem.empty()) continue;
    auto applied = store.requeue_finished(job_id, problem);
    if (!applied.ok()) {
      spdlog::error("{}", applied.status().message());
      return kExitUsage;
    }
    if (applied.value()) {
      ++demoted;
      out << "job " << job_id << ": " << problem << "; back to pending\n";
    } else {
      // Finished less than a lease ago by a run that is still at work: it may still be moving
      // the outputs to their final names (or the job changed meanwhile).
      ++left;
      out << "job " << job_id << ": " << problem
          << "; left as it is: its run is still at work and finished it less than a lease ago ("
          << settings->run.lease_seconds << " s), so it may still be storing them; verify again later\n";
    }
  }
  out << "model " << *options.model_name << ": " << jobs->size() << " finished jobs, " << files << " outputs checked, "
      << demoted << " jobs back to pending";
  if (left > 0) out << ", " << left << " left for later";
  if (demoted > 0) out << "; run them with: " << next_command(options, "worker", *options.model_name);
  out << "\n";
  // Like a run with failures: outputs were missing or changed.
  return demoted + left > 0 ? kExitSomeFailed : kExitAllDone;
}

}  // namespace pdr
