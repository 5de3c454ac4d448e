// `pdr_run verify`: check the stored outputs of finished jobs; redo those whose outputs changed.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <regex>
#include <thread>
#include <utility>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/job_store.h"
#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/storage.h"

namespace pdr {

namespace {

// The job a stored output belongs to, by its name (pdrstruct<job>.hdf5, TEXTOUT<job>_CO, ...).
std::string job_of_output(const std::string& path) {
  static const std::regex job(R"((-?[0-9]+(\.[0-9]+)?_){4}00)");
  const std::string name = std::filesystem::path(path).filename().string();
  std::smatch m;
  return std::regex_search(name, m, job) ? m.str(0) : std::string();
}

// Staged copies of attempts that can no longer be recorded: their job was claimed again since
// (a newer lease epoch), so the attempt's outcome is refused, or it ended before recording
// one (killed while storing). Copies of a job's current attempt stay: it may be storing them,
// or a run that ended after recording its finish left them for the next start to rename.
// Returns (removed, kept).
std::pair<long long, long long> remove_dead_staged_copies(JobStore& store, Storage& storage, const std::string& model,
                                                          std::ostream& out) {
  auto copies = storage.staged_copies();
  if (!copies.ok()) {
    spdlog::warn("staged copies not looked for: {}", copies.status().message());
    return {0, 0};
  }
  auto model_id = store.find_model(model);
  if (!model_id.ok() || !model_id->has_value()) return {0, static_cast<long long>(copies->size())};
  long long removed = 0, kept = 0;
  for (const auto& copy : copies.value()) {
    std::string final_path, tag;
    const std::string job = parse_staged_path(copy, &final_path, &tag) ? job_of_output(final_path) : std::string();
    const auto dash = tag.find_last_of('-');
    long long attempt = -1;
    if (dash != std::string::npos && dash + 1 < tag.size() &&
        tag.find_first_not_of("0123456789", dash + 1) == std::string::npos) {
      attempt = std::atoll(tag.c_str() + dash + 1);
    }
    auto epoch = job.empty() || attempt < 0 ? Result<std::optional<long long>>(std::optional<long long>())
                                            : store.job_epoch(**model_id, job);
    if (!epoch.ok() || !epoch->has_value() || attempt >= **epoch) {
      ++kept;
      continue;
    }
    StoredFile f;
    f.path = final_path;
    f.staged_path = copy;
    storage.discard({f});
    ++removed;
    out << "removed " << copy << ": staged under lease epoch " << attempt << " of job " << job
        << ", which was claimed again since (epoch " << **epoch << ")\n";
  }
  return {removed, kept};
}

}  // namespace

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
  const auto [removed, staged_left] = remove_dead_staged_copies(store, *storage.value(), *options.model_name, out);
  out << "model " << *options.model_name << ": " << jobs->size() << " finished jobs, " << files << " outputs checked, "
      << demoted << " jobs back to pending";
  if (removed > 0) out << ", " << removed << " staged copies of ended attempts removed";
  if (staged_left > 0) out << ", " << staged_left << " staged copies kept";
  if (left > 0) out << ", " << left << " left for later";
  if (demoted > 0) out << "; run them with: " << next_command(options, "worker", *options.model_name);
  out << "\n";
  // Like a run with failures: outputs were missing or changed.
  return demoted + left > 0 ? kExitSomeFailed : kExitAllDone;
}

}  // namespace pdr
