// `pdr_run verify`: check the stored outputs of finished jobs; redo those whose outputs changed.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <regex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/grid_run.h"
#include "pdr/job_store.h"
#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/storage.h"
#include "util/text.h"

namespace pdr {

namespace {

// The job a stored output belongs to, by its name (pdrstruct<job>.hdf5, TEXTOUT<job>_CO, ...).
std::string job_of_output(const std::string& path) {
  static const std::regex job(R"((-?[0-9]+(\.[0-9]+)?_){4}00)");
  const std::string name = std::filesystem::path(path).filename().string();
  std::smatch m;
  return std::regex_search(name, m, job) ? m.str(0) : std::string();
}

// A staged copy of the model's storage, as pdr_run names one: the attempt's tag is the first
// 12 hex digits of its run's token and the job's lease epoch.
struct StagedCopy {
  std::string copy, final_path, job, token;  // token: the first 12 hex digits of its run's
  long long epoch = -1;                      // -1: not a copy pdr_run staged
};

StagedCopy read_copy(const std::string& copy) {
  StagedCopy c;
  c.copy = copy;
  std::string tag;
  if (!parse_staged_path(copy, &c.final_path, &tag)) return c;
  static const std::regex attempt_tag("([0-9a-f]{12})-([0-9]{1,18})");
  std::smatch m;
  if (!std::regex_match(tag, m, attempt_tag)) return c;
  c.job = job_of_output(c.final_path);
  c.token = m.str(1);
  if (!c.job.empty()) c.epoch = std::atoll(m.str(2).c_str());
  return c;
}

// The staged copies, listed once, with where their jobs stand (read once per job).
class StagedCopies {
 public:
  StagedCopies(JobStore& store, Storage& storage, std::optional<long long> model_id)
      : store_(store), model_id_(model_id) {
    auto listed = storage.staged_copies();
    if (!listed.ok()) {
      spdlog::warn("staged copies not looked for: {}", listed.status().message());
      return;
    }
    for (const auto& path : listed.value()) copies_.push_back(read_copy(path));
    for (size_t i = 0; i < copies_.size(); ++i) by_final_[copies_[i].final_path].push_back(i);
  }

  const std::vector<StagedCopy>& all() const { return copies_; }

  // The copies of `final_path` staged under the job's current attempt, while the job is
  // finished under it: what a settle gives their names once the attempt's run has ended.
  std::vector<const StagedCopy*> of_finish(const std::string& final_path) {
    std::vector<const StagedCopy*> out;
    auto it = by_final_.find(final_path);
    if (it == by_final_.end()) return out;
    for (size_t i : it->second) {
      const StagedCopy& c = copies_[i];
      const JobAttempt* a = attempt(c.job);
      if (c.epoch >= 0 && a != nullptr && a->status == "finished" && a->epoch == c.epoch) out.push_back(&c);
    }
    return out;
  }

  const JobAttempt* attempt(const std::string& job) {
    if (job.empty() || !model_id_) return nullptr;
    auto it = attempts_.find(job);
    if (it == attempts_.end()) {
      auto read = store_.job_attempt(*model_id_, job);
      it = attempts_.emplace(job, read.ok() ? read.value() : std::nullopt).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  // Jobs are read again after this (verify queued some of them).
  void forget_jobs() { attempts_.clear(); }

  // A copy verify gave its final name: no longer a staged copy.
  void renamed(const std::string& copy) { renamed_.insert(copy); }
  bool was_renamed(const std::string& copy) const { return renamed_.count(copy) != 0; }

 private:
  JobStore& store_;
  std::optional<long long> model_id_;
  std::vector<StagedCopy> copies_;
  std::map<std::string, std::vector<size_t>> by_final_;
  std::map<std::string, std::optional<JobAttempt>> attempts_;
  std::set<std::string> renamed_;
};

// Removes the staged copies no attempt can still record: of a job claimed again since they
// were staged (a newer lease epoch: that attempt's outcome is refused), or of a job no longer
// running or finished under their attempt (it was reaped, failed, cancelled or queued again:
// nothing renames them; at their own attempt only once its run has ended, since a run renames
// the logs it keeps of a failed attempt after recording it). Copies of a job's running attempt
// stay (it may be storing them), and of the attempt that finished it (a settle or verify renames
// them once its run has ended).
// Returns (removed, kept).
std::pair<long long, long long> remove_dead_copies(JobStore& store, StagedCopies& copies, Storage& storage,
                                                   std::ostream& out) {
  long long removed = 0, kept = 0;
  copies.forget_jobs();
  for (const auto& c : copies.all()) {
    if (copies.was_renamed(c.copy)) continue;
    const JobAttempt* a = copies.attempt(c.job);
    bool dead = c.epoch >= 0 && a != nullptr &&
                (c.epoch < a->epoch || (c.epoch == a->epoch && a->status != "running" && a->status != "finished"));
    if (dead && c.epoch == a->epoch) {
      // The attempt's outcome was recorded as a failure (or it was reaped): a run still at
      // work renames the logs it keeps of a failed attempt right after recording it.
      auto alive = store.run_may_be_alive(c.token, process_gone);
      dead = alive.ok() && !alive.value();
    }
    if (dead && !storage.exists(c.copy)) continue;  // renamed or removed meanwhile
    if (!dead) {
      ++kept;
      continue;
    }
    if (Status st = storage.remove_copy(c.copy); !st.ok()) {
      spdlog::warn("{}", st.message());
      ++kept;
      continue;
    }
    ++removed;
    out << "removed " << c.copy << ": staged under lease epoch " << c.epoch << " of job " << c.job << ", which "
        << (c.epoch < a->epoch ? "was claimed again since (epoch " + std::to_string(a->epoch) + ")"
                               : "is " + a->status + " now")
        << "\n";
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
  store.set_policy(settings->job_policy());
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
  auto model_id = store.find_model(*options.model_name);
  if (!model_id.ok()) {
    spdlog::error("{}", model_id.status().message());
    return kExitUsage;
  }
  // What runs that ended left staged after recording their finish takes its names first, as
  // at the start of a run.
  std::map<std::string, std::string> untold;  // outputs of finishes left staged that could not be looked at
  if (model_id->has_value()) settle_unsettled_finishes(store, *storage.value(), **model_id, &untold);
  auto jobs = store.finished_outputs(*options.model_name);
  if (!jobs.ok()) {
    spdlog::error("{}", jobs.status().message());
    return kExitUsage;
  }
  StagedCopies copies(store, *storage.value(), model_id.value());
  Storage& store_of = *storage.value();
  // The first output of a job that is not as recorded ("" when all are).
  const auto first_problem = [&store_of, &untold](const std::vector<StoredFile>& outputs) {
    for (const auto& f : outputs) {
      std::string problem;
      if (const auto it = untold.find(f.path); it != untold.end()) {
        problem = it->second;  // says whether the storage did not answer or a file was unreadable
      } else if (!f.sha256.empty()) {
        problem = store_of.check(f);
      } else if (const std::optional<bool> found = store_of.find(f.path); !found.has_value()) {
        problem = kStorageUnreachable + ("cannot look for " + f.path);
      } else if (!*found) {
        problem = "output missing: " + f.path;
      }
      if (!problem.empty()) return problem;
    }
    return std::string();
  };
  // Whether output `f` needs its staged copy: missing, or not the recorded file (an earlier
  // attempt's, left at its name when the job ran again). Not when the storage cannot tell.
  const auto needs_copy = [&store_of](const StoredFile& f) {
    const std::optional<bool> there = store_of.find(f.path);
    if (!there.has_value()) return false;
    if (!*there) return true;
    const std::string problem = f.sha256.empty() ? std::string() : store_of.check(f);
    return !problem.empty() && !cannot_tell(problem);
  };
  // An intact copy of output `f` staged by the attempt that finished its job.
  const auto intact_copy = [&](const StoredFile& f) -> const StagedCopy* {
    for (const StagedCopy* c : copies.of_finish(f.path)) {
      StoredFile copy = f;
      copy.path = c->copy;
      if (f.sha256.empty() ? store_of.exists(c->copy) : store_of.check(copy).empty()) return c;
    }
    return nullptr;
  };
  long long files = 0, demoted = 0, left = 0, renamed = 0, unread = 0;
  // A storage that does not answer says nothing about outputs: the check stops there, and no
  // job goes back to pending for it.
  const auto stop_unreachable = [&](long long job_id, const std::string& problem) {
    out << "job " << job_id << ": " << problem << "; left as it is\n";
    spdlog::error(
        "model {}: verify stopped at job {} ({} jobs back to pending before it): the storage did not "
        "answer; verify again when it does",
        *options.model_name, job_id, demoted);
    return kExitSomeFailed;
  };
  // An output there but not readable (a permission, a read error): whether it is as recorded is
  // unknown, and running its job again would not mend what keeps it from being read.
  const auto leave_unread = [&](long long job_id, const std::string& problem) {
    if (!is_unreadable(problem)) return false;
    ++unread;
    out << "job " << job_id << ": " << problem << "; left as it is\n";
    return true;
  };
  for (const auto& [job_id, outputs] : jobs.value()) {
    files += static_cast<long long>(outputs.size());
    std::string problem = first_problem(outputs);
    if (problem.empty()) continue;
    if (is_unreachable(problem)) return stop_unreachable(job_id, problem);
    if (leave_unread(job_id, problem)) continue;
    // Outputs missing (or not the recorded files) that only have the staged names of the attempt
    // that finished the job: its run ended (or is about to) between recording the finish and
    // renaming them.
    std::vector<StoredFile> renames;
    const StagedCopy* finishing = nullptr;
    bool whole = true;
    for (const auto& f : outputs) {
      if (!needs_copy(f)) continue;
      const StagedCopy* c = intact_copy(f);
      if (c == nullptr) {
        whole = false;
        break;
      }
      finishing = c;
      StoredFile r = f;
      r.staged_path = c->copy;
      renames.push_back(std::move(r));
    }
    if (whole && finishing != nullptr) {
      auto alive = store.run_may_be_alive(finishing->token, process_gone);
      if (!alive.ok() || alive.value()) {
        ++left;
        out << "job " << job_id << ": " << problem << "; left as it is: the attempt that finished it staged it as "
            << renames.front().staged_path << " and its run may still be renaming them; verify again later\n";
        continue;
      }
      // That run has ended: the copies take their names here (while the job is still finished
      // under that attempt), as a settle would have given them.
      // Hashing the copies took a while: another process (a start's settle, another verify)
      // may have renamed them meanwhile, and a rename of one that is gone would undo its work.
      bool free = true;
      for (const auto& r : renames) free = free && needs_copy(r) && store_of.exists(r.staged_path);
      auto still = store.still_finished(job_id, finishing->epoch);
      if (free && still.ok() && still.value() && store_of.promote(renames).ok()) {
        ++renamed;
        for (const auto& r : renames) copies.renamed(r.staged_path);
        out << "job " << job_id << ": " << count_size(renames.size(), "output")
            << " renamed from the staged copies of the attempt that finished it (its run ended before renaming "
               "them)\n";
        problem = first_problem(outputs);
        if (problem.empty()) continue;
      }
    }
    // Read again before the job is queued: another process may have renamed its outputs.
    problem = first_problem(outputs);
    if (problem.empty()) continue;
    if (is_unreachable(problem)) return stop_unreachable(job_id, problem);
    if (leave_unread(job_id, problem)) continue;
    auto applied = store.requeue_finished(job_id, problem);
    if (!applied.ok()) {
      spdlog::error("{}", applied.status().message());
      return kExitUsage;
    }
    if (applied.value()) {
      ++demoted;
      out << "job " << job_id << ": " << problem << "; back to pending\n";
    } else {
      // Finished by a run that may still be at work (not silent for as long as a run that
      // ended): it may still be moving the outputs to their final names (or the job changed
      // meanwhile).
      ++left;
      out << "job " << job_id << ": " << problem
          << "; left as it is: the run that finished it may still be at work (it has not been silent for "
          << silence_of_an_ended_run(settings->job_policy())
          << " s), so it may still be storing them; verify again later\n";
    }
  }
  const auto [removed, staged_left] = remove_dead_copies(store, copies, *storage.value(), out);
  out << "model " << *options.model_name << ": " << count_size(jobs->size(), "finished job") << ", "
      << count_text(files, "output") << " checked, " << count_text(demoted, "job") << " back to pending";
  if (renamed > 0) out << ", outputs of " << count_text(renamed, "job") << " renamed from their staged copies";
  const auto copies_text = [](long long n) { return std::to_string(n) + (n == 1 ? " staged copy" : " staged copies"); };
  if (removed > 0) out << ", " << copies_text(removed) << " of ended attempts removed";
  if (staged_left > 0) out << ", " << copies_text(staged_left) << " kept";
  if (left > 0) out << ", " << left << " left for later";
  if (unread > 0) out << ", " << unread << " with outputs that could not be read (left as they are)";
  if (demoted > 0) out << "; run them with: " << next_command(options, "worker", *options.model_name);
  out << "\n";
  // Like a run with failures: outputs were missing or changed.
  return demoted + left + unread > 0 ? kExitSomeFailed : kExitAllDone;
}

}  // namespace pdr
