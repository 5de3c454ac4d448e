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
#include "pdr/settings.h"
#include "pdr/process.h"
#include "pdr/storage.h"

namespace pdr {
namespace {

}  // namespace

int verify_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (!options.model_name) {
    spdlog::error("verify needs --model-name NAME");
    return kExitUsage;
  }
  auto config = load_config(options, env);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return kExitUsage;
  }
  Config& c = config.value();
  if (c.str("pdr.base_dir").empty()) c.set_scalar("pdr.base_dir", ".", "verify");  // not needed here
  auto settings = build_settings(c, invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) {
    spdlog::error("{}", settings.status().message());
    return kExitUsage;
  }
  const DatabaseSettings& db = settings->database;
  struct stat sb;
  if (db.type == "sqlite" && ::stat(db.path.c_str(), &sb) != 0) {
    spdlog::error("no job database at {} (database.path from {})", db.path, c.origin("database.path"));
    return kExitUsage;
  }
  auto manager = process_db_manager(db);
  if (!manager.ok()) {
    spdlog::error("{}", manager.status().message());
    return kExitUsage;
  }
  auto store = open_job_store(*manager.value());
  if (!store.ok()) {
    spdlog::error("{}", store.status().message());
    return kExitUsage;
  }
  const std::string model_root =
      (std::filesystem::path(settings->storage.base_dir) / *options.model_name).lexically_normal().string();
  auto storage = open_storage(settings->storage, model_root, child_environment());
  if (!storage.ok()) {
    spdlog::error("{}", storage.status().message());
    return kExitUsage;
  }
  auto jobs = store.value()->finished_outputs(*options.model_name);
  if (!jobs.ok()) {
    spdlog::error("{}", jobs.status().message());
    return kExitUsage;
  }
  long long files = 0, demoted = 0;
  for (const auto& [job_id, outputs] : jobs.value()) {
    std::string problem;
    for (const auto& f : outputs) {
      ++files;
      problem = storage.value()->check(f);
      if (!problem.empty()) break;
    }
    if (problem.empty()) continue;
    StatusChange change;
    change.job_id = job_id;
    change.expect = JobState::Finished;
    change.next = JobState::Pending;
    change.error = "verify: " + problem;
    auto applied = store.value()->update_job_status(change);
    if (!applied.ok()) {
      spdlog::error("{}", applied.status().message());
      return kExitUsage;
    }
    if (applied.value()) {
      ++demoted;
      out << "job " << job_id << ": " << problem << "; back to pending\n";
    }
  }
  out << "model " << *options.model_name << ": " << jobs->size() << " finished jobs, " << files
      << " outputs checked, " << demoted << " jobs back to pending\n";
  return kExitAllDone;
}

}  // namespace pdr
