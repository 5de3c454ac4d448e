#include "pdr/grid_run.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <system_error>

#include "config/journal_dir.h"
#include "db/transactor.h"
#include "engine/progress.h"
#include "pdr/db_manager.h"
#include "pdr/process.h"
#include "pdr/runtime_prediction.h"
#include "pdr/storage.h"
#include "pdr/work_area.h"
#include "util/periodic.h"
#include "util/text.h"

namespace pdr {

namespace {

const std::string kRegisterFirst = "; register the grid first (pdr_run with grid flags, or pdr_run submit)";

std::string random_token() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << std::setfill('0') << std::setw(8) << rd() << std::setw(8) << rd();
  return out.str();
}

// A failed attempt keeps its logs; its other staged outputs go.
void keep_only_logs(Storage& storage, const Outcome& c) {
  std::vector<StoredFile> logs, outputs;
  for (const auto& f : c.files) {
    (is_step_log(f.kind) ? logs : outputs).push_back(f);
  }
  storage.discard(outputs);
  if (Status st = storage.promote(logs); !st.ok()) {
    storage.discard(logs);
    spdlog::warn("[job {}] the log of the failed attempt could not be kept: {}", c.job_id, st.message());
  }
}

// A recorded finish whose outputs cannot take their names becomes a failed attempt; the state
// the job is in then.
JobState revoke_finish(Storage& storage, JobStore& job_store, const Outcome& finish, const Status& why) {
  Outcome failed = finish;
  failed.stage = Stage::Storage;
  failed.cause = why.message();
  failed.error = "storage: " + why.message();
  auto revoked = job_store.revoke_finish(failed);
  // The staged copies go only once the finish is no longer recorded: a finish that stays
  // recorded keeps them (verify and the next registration find its outputs missing). Its logs
  // stay, as any failed attempt's (recorded with it; gone when they cannot take their names
  // either, as a failed attempt's).
  if (revoked.ok() && revoked->applied) keep_only_logs(storage, finish);
  if (!revoked.ok()) {
    spdlog::error(
        "[job {}] finished, but its outputs could not take their names ({}); and it could not be "
        "recorded as failed: {}",
        finish.job_id, why.message(), revoked.status().message());
  } else if (revoked->applied) {
    spdlog::error("[job {}] finished, but its outputs could not take their names: {}", finish.job_id, revoked->error);
    return revoked->state;
  }
  return JobState::Finished;  // still recorded so: verify and the next registration run it again
}

// One line per recorded result.
void log_result(const JobResult& r) {
  if (r.journaled) {
    spdlog::warn("[job {} {}] {} after {:.2f} s; kept in the outage journal until the database answers", r.job.id,
                 r.job.name,
                 r.state == JobState::Finished ? "finished"
                 : r.error.empty()             ? to_string(r.state)
                                               : r.error,
                 r.seconds);
  } else if (r.state == JobState::Finished) {
    spdlog::info("[job {} {}] finished in {:.2f} s", r.job.id, r.job.name, r.seconds);
  } else if (r.state == JobState::Failed) {
    spdlog::error("[job {} {}] failed: {}", r.job.id, r.job.name, r.error);
  } else if (!r.error.empty() && r.error != "interrupted") {
    spdlog::warn("[job {} {}] {}", r.job.id, r.job.name, r.error);
  } else {
    spdlog::warn("[job {} {}] stopped; back to pending", r.job.id, r.job.name);
  }
  if (!r.kept_dir.empty()) spdlog::warn("[job {} {}] working directory kept: {}", r.job.id, r.job.name, r.kept_dir);
}

// The runner's own cost, apart from the model's: CPU of this process (all its threads) and of
// the processes it ran and waited for.
void log_cpu_time() {
  auto seconds = [](const rusage& u) {
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  auto part = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  spdlog::info("cpu: pdr_run {:.2f} s (user + system, all threads; {:.2f} s system), the jobs' processes {:.2f} s",
               seconds(self), part(self.ru_stime), seconds(children));
}

void log_registration(const std::string& model, const RegisterReport& reg) {
  spdlog::info("model '{}': {} ({} new), {} already done, {} queued again, {} pending", model,
               count_size(reg.points, "point"), reg.created, reg.already_finished, reg.requeued + reg.outputs_missing,
               reg.pending);
  if (reg.respelled > 0) {
    spdlog::info(
        "{} of the grid: a job named by the predecessor's spelling of the values (e.g. {}), kept with its "
        "name and outputs",
        count_size(reg.respelled, "point"), reg.respelled_example);
  }
  if (reg.onion_requeued > 0)
    spdlog::info("--force-onion: {} finished points run their onion step again", reg.onion_requeued);
  if (reg.other_pending > 0) {
    spdlog::warn("{} pending jobs of model '{}' from earlier runs with other values will run too", reg.other_pending,
                 model);
  }
  if (reg.outputs_missing > 0)
    spdlog::warn("{} finished jobs had missing outputs and will run again", reg.outputs_missing);
  if (reg.species_missing > 0) {
    spdlog::warn(
        "{} finished without the onion step for species asked for now, e.g. {}: left as done; run their onion "
        "step for every species with --force-onion",
        count_size(reg.species_missing, "job"), reg.species_example);
  }
  if (reg.onion_not_queued > 0) {
    spdlog::warn(
        "--force-onion: {} not queued for the onion step: the run that finished them may still be storing their "
        "outputs; run again once it has ended",
        count_size(reg.onion_not_queued, "finished job"));
  }
  if (reg.outputs_storing > 0) {
    spdlog::info(
        "{} finished by a run that may still be at work (not silent for as long as a run that ended), and their "
        "outputs are not all under their final names yet (it may still be storing them): left as done, looked at "
        "again by the next registration",
        count_size(reg.outputs_storing, "job"));
  }
  if (reg.ownerless_running > 0) {
    spdlog::warn(
        "{} jobs of model '{}' are marked running with no owner recorded (by the Python pdr_run); they are "
        "left to it. If no such run is alive, queue them again with: pdr_run retry --ownerless --model-name {} "
        "(and this run's --config)",
        reg.ownerless_running, model, model);
  }
}

// While it lives, a signal ends this thread's waits for the database (a lock, a retry, a
// server that does not answer yet): its transaction fails as interrupted.
class SignalEndsDatabaseWaits {
 public:
  explicit SignalEndsDatabaseWaits(const StopSignal& stop)
      : stopping_([&stop] { return stop.requested(); }), guard_(stopping_) {}

 private:
  const std::function<bool()> stopping_;
  const StopRetryingOn guard_;  // after stopping_, which it points to
};

// While a process works its grid, a stop gives the database kStopGraceSeconds to take the last
// writes of every thread (the stopped jobs' outcomes, the leases handed back, the run's row);
// after that a wait for it (a retry, a busy SQLite file, a connect) ends at once and what is left
// goes to the journal. A stop during an outage is then not held up by database.retry.deadline:
// Slurm sends SIGKILL 30 s after its SIGTERM by default (KillWait), before the journal was written.
// A call a frozen server holds (up to database.read_timeout) is cut then too.
class StopEndsDatabaseWaitsAfterGrace {
 public:
  static constexpr double kStopGraceSeconds = 10;

  StopEndsDatabaseWaitsAfterGrace(const StopSignal& stop, DbManager* db)
      : past_grace_([&stop] {
          const auto since = stop.requested_at();
          return since && std::chrono::steady_clock::now() - *since > std::chrono::duration<double>(kStopGraceSeconds);
        }) {
    StopRetryingOn::set_process_wide(&past_grace_);
    if (db != nullptr && db->settings().server()) {
      // A call waiting over 2 s past the grace waits for a server that does not answer.
      watcher_ = std::make_unique<Periodic>(std::chrono::milliseconds(250), [this, db] {
        if (past_grace_()) db->cut_calls_older_than(2.0);
      });
    }
  }
  ~StopEndsDatabaseWaitsAfterGrace() {
    watcher_.reset();  // its tick uses past_grace_
    StopRetryingOn::set_process_wide(nullptr);
  }
  StopEndsDatabaseWaitsAfterGrace(const StopEndsDatabaseWaitsAfterGrace&) = delete;
  StopEndsDatabaseWaitsAfterGrace& operator=(const StopEndsDatabaseWaitsAfterGrace&) = delete;

 private:
  const std::function<bool()> past_grace_;
  std::unique_ptr<Periodic> watcher_;
};

}  // namespace

Status check_creatable(const std::string& path, bool is_dir, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  const bool exists = fs::exists(p, ec);
  if (ec) return Status::Usage(what + ": " + path + " cannot be looked at: " + ec.message());
  if (exists) {
    if (is_dir != fs::is_directory(p, ec)) {
      return Status::Usage(what + ": " + path + (is_dir ? " is not a directory" : " is a directory, not a file"));
    }
    // A device, a FIFO or a socket is no file to keep rows or logs in (/dev/null takes every
    // write and keeps none; SQLite would put its journal beside it, in /dev).
    if (!is_dir && !fs::is_regular_file(p, ec)) return Status::Usage(what + ": " + path + " is not a regular file");
    if (access(path.c_str(), W_OK) != 0) {
      return Status::Usage(what + ": " + path + " is not writable: " + std::strerror(errno));
    }
    return Status::Ok();
  }
  fs::path parent = p.parent_path();
  while (!parent.empty() && !fs::exists(parent, ec)) {
    if (!is_dir) return Status::Usage(what + ": directory " + p.parent_path().string() + " does not exist");
    parent = parent.parent_path();
  }
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) return Status::Usage(what + ": " + parent.string() + " is not a directory");
  if (access(parent.c_str(), W_OK) != 0) {
    return Status::Usage(what + ": " + parent.string() + " is not writable: " + std::strerror(errno));
  }
  if (is_dir) {
    // Permissions do not tell everything (root may write anywhere, yet not make a directory in
    // /proc): a directory of this process's own is made where the first missing one would be,
    // and removed again (never the one asked for: another process may be about to use it).
    const fs::path probe = parent / (".pdr_run-probe-" + std::to_string(getpid()));
    if (::mkdir(probe.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::Usage(what + ": " + path + ": cannot create: " + std::strerror(errno));
    }
    ::rmdir(probe.c_str());
  }
  return Status::Ok();
}

// Staged outputs of a written finish take their final names; those of an outcome turned down
// (the lease was taken over) or of a stopped attempt are removed, and a failed attempt keeps
// only its logs: no output takes a final name unless its job is recorded finished. A recorded
// finish whose outputs cannot take their names is recorded as a failed attempt instead, so it
// counts against run.max_attempts and waits run.retry_delay like any failure (never a loop).
SettleOutputs settle_outputs(Storage& storage, JobStore& job_store) {
  return [&storage, &job_store](const Outcome& o, bool applied) -> Settled {
    if (o.files.empty()) return Status::Ok();
    if (!applied || o.state == JobState::Pending) {
      storage.discard(o.files);
      return Status::Ok();
    }
    if (o.state != JobState::Finished) {
      keep_only_logs(storage, o);
      return Status::Ok();
    }
    Status st = storage.promote(o.files);
    if (st.ok()) return st;
    return Settled(st, revoke_finish(storage, job_store, o, st));
  };
}

// A run that ended without a word (SIGKILL, its node gone) between recording a finish and
// renaming its outputs left them under their staged names: the job says finished, its outputs
// are not where it says. Where the staged copies of that attempt are there, match their record
// (size and sha256) and their final names do not hold the recorded files, they take the names
// now (a file at a final name that is not the recorded one, an earlier attempt's, is replaced);
// what cannot be mended so is left to the registration and verify, which run such a job again.
// A run whose finishes the storage could not tell about (an outage) is looked at again next
// time.
long long settle_unsettled_finishes(JobStore& store, Storage& storage, long long model_id,
                                    std::map<std::string, std::string>* untold_outputs) {
  auto left = store.unsettled_finishes(model_id, process_gone);
  if (!left.ok()) {
    spdlog::warn("could not look for outputs left staged by runs that ended: {}", left.status().message());
    return 0;
  }
  long long jobs = 0, files = 0;
  std::set<std::string> untold;  // runs with a finish the storage could not tell about
  std::string why;
  for (const auto& finish : left->finishes) {
    const std::string tag = finish.token.substr(0, 12) + "-" + std::to_string(finish.epoch);
    const auto cannot_tell_about = [&](const std::string& problem) {
      if (why.empty()) why = problem;
      untold.insert(finish.token);
      if (untold_outputs != nullptr) {
        for (const auto& f : finish.files) untold_outputs->emplace(f.path, problem);
      }
    };
    std::vector<StoredFile> staged, spare;  // spare: copies of files already at their names
    bool told = true;
    for (const auto& f : finish.files) {
      StoredFile s = f;
      s.staged_path = staged_path(f.path, tag);
      // The attempt's copy first (a listing the storage keeps): without one there is nothing to
      // give a name, and the final file need not be read.
      const std::optional<bool> copy = storage.find(s.staged_path);
      const std::optional<bool> there = copy.value_or(false) ? storage.find(f.path) : copy;
      if (!copy.has_value() || !there.has_value()) {
        cannot_tell_about(kStorageUnreachable + ("cannot look for " + (copy.has_value() ? f.path : s.staged_path)));
        told = false;
        break;
      }
      if (!*copy) continue;
      if (*there) {
        // A file at the final name may be an earlier attempt's (the job ran again after some of
        // its outputs went missing): only the recorded one stays; another is replaced.
        const std::string problem = f.sha256.empty() ? std::string() : storage.check(f);
        if (problem.empty()) {
          spare.push_back(std::move(s));
          continue;
        }
        if (cannot_tell(problem)) {
          cannot_tell_about(problem);
          told = false;
          break;
        }
      }
      staged.push_back(std::move(s));
    }
    if (!told) continue;
    // The recorded file is at its name: its copy (a run killed while renaming, or whose output
    // came out the same as the one there) is no longer needed, and nothing else would remove it.
    storage.discard(spare);
    if (staged.empty()) continue;
    std::string mismatch;
    const StoredFile* mismatched = nullptr;
    for (const auto& f : staged) {
      StoredFile copy = f;
      copy.path = f.staged_path;
      if (mismatch.empty()) {
        mismatch = storage.check(copy);
        mismatched = &f;
      }
    }
    if (cannot_tell(mismatch)) {
      cannot_tell_about(mismatch);
      continue;
    }
    // Its copy renamed meanwhile: another process (a start's settle, verify) did it.
    if (!mismatch.empty() && !storage.find(mismatched->staged_path).value_or(true)) continue;
    if (!mismatch.empty()) {
      spdlog::warn("[job {}] outputs left staged by a run that ended do not match their record ({}): left as they are",
                   finish.job_id, mismatch);
      continue;
    }
    // Checking the copies takes a while (large outputs): the job may have been queued and run
    // again meanwhile, and its newer outputs must keep their names.
    auto still = store.still_finished(finish.job_id, finish.epoch);
    if (!still.ok() || !still.value()) continue;
    if (Status st = storage.promote(staged); !st.ok()) {
      spdlog::warn("[job {}] outputs left staged by a run that ended could not take their names: {}", finish.job_id,
                   st.message());
      continue;
    }
    ++jobs;
    files += static_cast<long long>(staged.size());
  }
  if (jobs > 0) {
    spdlog::info("{} of {} finished by runs that ended before renaming them now have their names",
                 count_text(files, "output"), count_text(jobs, "job"));
  }
  if (!untold.empty()) {
    spdlog::warn(
        "outputs left staged by {} that ended could not be settled ({}); looked at again at the next start or "
        "verify",
        count_text(static_cast<long long>(untold.size()), "run"), why);
  }
  // Looked at once: a run that renewed meanwhile stays running.
  std::vector<std::string> looked_at;
  for (const auto& token : left->runs) {
    if (untold.count(token) == 0) looked_at.push_back(token);
  }
  if (Status st = store.mark_runs_gone(looked_at); !st.ok()) {
    spdlog::debug("runs that ended not marked gone: {}", st.message());
  }
  return jobs;
}

void GridRun::settle_unsettled_finishes(long long model_id) {
  pdr::settle_unsettled_finishes(*store_, *storage_, model_id, &untold_outputs_);
}

GridRun::GridRun(Settings settings, JobPlan job_plan)
    : settings_(std::move(settings)), job_plan_(std::move(job_plan)) {}

GridRun::~GridRun() = default;

Status GridRun::check_locations(bool registering) const {
  const Settings& s = settings_;
  std::vector<Status> checks;
  // A worker writes the database as a registration does (its claims and outcomes).
  checks.push_back(s.database.type == "sqlite" ? check_creatable(s.database.path, false, "database.path")
                                               : Status::Ok());
  if (registering) {
    checks.push_back(s.storage.type == "local" ? check_creatable(job_plan_.model_path, true, "storage.base_dir")
                                               : Status::Ok());
  }
  checks.push_back(check_creatable(s.run.scratch_dir, true, "run.scratch_dir"));
  checks.push_back(check_creatable(s.run.log_dir, true, "run.log_dir"));
  // Where outcomes wait out an outage: found unusable only then, they would be lost.
  checks.push_back(check_creatable(s.run.journal_dir, true, "run.journal_dir"));
  for (const Status& st : checks) {
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status GridRun::open(const StopSignal& stop) {
  const Settings& s = settings_;
  // The database first: a run it refuses (a wrong password, a damaged file) creates no
  // output directory.
  std::error_code ec;
  const bool new_file = s.database.type == "sqlite" && !std::filesystem::exists(s.database.path, ec);
  const auto open_the_storage = [&]() -> Status {
    auto storage = open_storage(s.storage, job_plan_.model_path, job_plan_.child_env);
    if (!storage.ok()) return storage.status();
    storage_ = std::move(storage.value());
    return Status::Ok();
  };
  // A remote storage (rclone, sftp) writes nothing when it opens, and a new SQLite file has no
  // model to compare the storage with: the storage first, so that one refused at the start (an
  // unknown rclone remote, a server that refuses) leaves no database file and no tables behind.
  // Local storage makes the model's directories: it waits for the database's answer below.
  if (new_file || s.storage.type != "local") {
    if (Status st = open_the_storage(); !st.ok()) return st;
  }
  auto manager = process_db_manager(s.database);
  if (!manager.ok()) return manager.status();
  db_ = manager.value();
  // An outage may have ended a moment ago: owners cut off by it get a lease to renew before this
  // process takes anything from them (see reap_expired).
  db_->note_start();
  {
    // Not below: the journals' outcomes are recorded whole or kept.
    const SignalEndsDatabaseWaits interruptible(stop);
    if (Status st = db_->reach(); !st.ok()) return st;
    // Looked at before anything is written to it: a table of pdr_run's names that is someone
    // else's, (a worker) a model it does not hold, or a model whose outputs are stored elsewhere
    // leaves the database as it was, and makes no directory here.
    Expectation expect;
    expect.what = expect_registered_ ? Expect::kModel : Expect::kNotSomeoneElses;
    expect.model = s.pdr.model_name;
    expect.register_hint = kRegisterFirst;
    expect.model_path = job_plan_.model_path;
    if (expect_registered_) expect.species = job_plan_.provenance.onion_species;
    if (Status st = expect_before_writing(*db_, expect); !st.ok()) return st;
    auto store = open_job_store(*db_);
    if (!store.ok()) return store.status();
    store_ = std::move(store.value());
  }
  // Relative paths resolve against the directory pdr_run was started in: a run started from
  // the wrong one is noticed here, before it computes a grid again.
  if (new_file) spdlog::info("created a new job database at {}", s.database.path);
  if (storage_ == nullptr) {
    if (Status st = open_the_storage(); !st.ok()) return st;
  }
  store_->set_policy(s.job_policy());
  // Outcomes that journals of earlier processes on this host kept through an outage are
  // recorded before anything is registered, reaped or claimed: their jobs are still running
  // under leases that expired, and a reap would take their finishes for lost. A database that
  // stops answering meanwhile is waited for up to database.start_deadline; then the run stops,
  // the rest of the journals kept for the next one.
  // With the default directory, also the one every user shared before it was per user.
  std::vector<std::string> journal_dirs{s.run.journal_dir};
  if (s.run.journal_dir == default_journal_dir(s.run.scratch_dir) &&
      std::filesystem::is_directory(shared_journal_dir(s.run.scratch_dir))) {
    journal_dirs.push_back(shared_journal_dir(s.run.scratch_dir));
  }
  for (const auto& dir : journal_dirs) {
    auto replayed = replay_left_journals_within(dir, *store_, settle_outputs(*storage_, *store_),
                                                s.database.start_deadline, [&stop] { return stop.requested(); });
    if (!replayed.ok() && replayed.status().kind() == ErrorKind::kInterrupted) {
      return Status::Error(ErrorKind::kInterrupted, "interrupted while starting; nothing was claimed");
    }
    if (!replayed.ok()) {
      return Status::Error(replayed.status().kind(), "the outage journals left in " + dir + " could not be replayed (" +
                                                         replayed.status().message() +
                                                         "); nothing was claimed: run again when the database answers");
    }
    const ReplayReport& left = replayed.value();
    if (left.applied + left.rejected > 0) {
      spdlog::info("replayed journals left in {}: {} outcomes recorded, {} no longer current", dir, left.applied,
                   left.rejected);
    }
    if (left.retried + left.failed + left.unstored > 0) {
      spdlog::warn(
          "of the journals' finishes, {} could not keep their outputs: {} queued again, {} failed for good, {} "
          "left recorded finished without them",
          left.retried + left.failed + left.unstored, left.retried, left.failed, left.unstored);
    }
    if (left.foreign > 0) {
      spdlog::info("{} in {} of runs on another database left for it", count_text(left.foreign, "journal"), dir);
    }
  }
  // Before a registration could take such a finish for lost outputs and run it again.
  auto model = store_->find_model(s.pdr.model_name);
  if (!model.ok()) return model.status();
  if (model->has_value()) settle_unsettled_finishes(**model);
  return Status::Ok();
}

Status GridRun::register_points(const std::vector<GridPoint>& points, const StopSignal& stop) {
  RegisterOptions options;
  options.stop_requested = [&stop] { return stop.requested(); };
  options.force_onion = settings_.run.force_onion;
  Storage& storage = *storage_;
  // An output the storage cannot tell about (a remote that does not answer) is taken as there:
  // a finished job is not run again for an outage; verify checks it later.
  size_t untold = 0;
  std::string example, why;
  options.output_exists = [this, &storage, &untold, &example, &why](const std::string& path) {
    // An output of a finish whose staged copies the start's settle could not look at: as if
    // the storage could not tell about the output itself.
    const auto settled = untold_outputs_.find(path);
    const std::optional<bool> found = settled != untold_outputs_.end() ? std::nullopt : storage.find(path);
    if (found.has_value()) return *found;
    if (untold++ == 0) {
      example = path;
      why = settled != untold_outputs_.end() ? settled->second : "the storage did not answer";
    }
    return true;
  };
  options.owner_gone = process_gone;
  if (Status st = store_->register_grid(job_plan_.provenance, points, &report_, options); !st.ok()) return st;
  if (untold > 0) {
    spdlog::warn("{} could not be looked at (e.g. {}: {}); their jobs are left as done; check them later with {}",
                 count_text(static_cast<long long>(untold), "recorded output"), example, why,
                 verify_command_.empty() ? "pdr_run verify --model-name " + settings_.pdr.model_name : verify_command_);
  }
  model_id_ = report_.model_id;
  log_registration(settings_.pdr.model_name, report_);
  return Status::Ok();
}

Status GridRun::join(const StopSignal& stop) {
  const SignalEndsDatabaseWaits interruptible(stop);
  if (Status st = store_->use_json_template(job_plan_.provenance); !st.ok()) return st;
  auto model_id = store_->find_model(settings_.pdr.model_name);
  if (!model_id.ok()) return model_id.status();
  if (!model_id.value()) {
    return Status::Usage("model '" + settings_.pdr.model_name + "' is not registered in " +
                         settings_.database.describe() + kRegisterFirst);
  }
  model_id_ = **model_id;
  auto open_registration = store_->open_registration(model_id_);
  if (!open_registration.ok()) return open_registration.status();
  if (!open_registration->empty()) spdlog::warn("model {}: {}", settings_.pdr.model_name, open_registration.value());
  return Status::Ok();
}

// Job directories live in this process's locked work area; those of ended processes on this
// host (killed, out of memory) are removed first.
Result<std::unique_ptr<WorkArea>> GridRun::open_work_area(const Owner& owner) const {
  int removed = 0;
  auto area = WorkArea::open(settings_.run.scratch_dir, owner.host, owner.pid, owner.token.substr(0, 12), &removed);
  if (area.ok() && removed > 0) {
    spdlog::info("removed the working directories of {} ended pdr_run process{} on this host in {}", removed,
                 removed == 1 ? "" : "es", settings_.run.scratch_dir);
  }
  return area;
}

// This run and its pool counters, for `pdr_run status`: at the start, every few seconds, at the end.
void GridRun::record_run(const Owner& owner, const std::string& state) {
  Status st = store_->record_run(model_id_, owner, settings_.run.workers, state, db_->stats());
  if (!st.ok()) spdlog::warn("could not record this run in the database: {}", st.message());
}

std::unique_ptr<JobExecutor> GridRun::executor(const Owner& owner, WorkArea& area, ActiveJobs& active,
                                               StopSignal& stop) {
  return make_tbb_executor(settings_.run.workers, [this, &owner, &area, &active, &stop](const ClaimedJob& job) {
    spdlog::info("[job {} {}] started (attempt {})", job.id, job.name, job.attempt);
    // Read with the claim; a claim whose row was missing then reads it here (and fails on it).
    std::shared_ptr<const ParameterValues> values = job.params;
    if (!values) {
      auto params = store_->load_parameters(job.params_id);
      if (!params.ok()) {
        JobResult r;
        r.job = job;
        r.state = JobState::Failed;
        r.stage = Stage::Setup;
        r.cause = params.status().message();
        r.error = "setup: " + r.cause;
        return r;
      }
      values = std::make_shared<const ParameterValues>(std::move(params.value()));
    }
    if (job_work_) return job_work_(job);
    const auto cancel = active.cancel_signal(job.id);
    JobControl control;
    control.cancel = cancel.get();
    // No lease round trip before storing: the heartbeat raises `cancel` within one beat of a
    // lost lease, and staged outputs of a late attempt are never given their final names.
    control.stage_tag = owner.token.substr(0, 12) + "-" + std::to_string(job.epoch);
    control.area = &area;
    control.stage_started = [&active, id = job.id](Stage stage, const std::string& detail) {
      active.stage_started(id, stage, detail);
    };
    return execute_job(job_plan_, *storage_, job, *values, &stop, &control);
  });
}

Status GridRun::predict_fit(double limit, std::string* line) {
  const RunSettings& r = settings_.run;
  // What a task's workers claim by (time_left): the limit less the end signal's window.
  const int signal = settings_.slurm.signal_seconds;
  const double seconds = std::max(0.0, limit - (signal > 0 ? signal + 60.0 : 0.0));
  const double margin = r.margin_for(seconds);
  double work = 0;  // the predicted run times of the jobs that fit, together
  size_t samples = 0;
  auto plan = predict_pending(*store_, model_id_,
                              r.expected_job_seconds > 0 ? std::optional<double>(r.expected_job_seconds) : std::nullopt,
                              &samples);
  if (!plan.ok()) return plan.status();
  long long fit = 0, unfit = 0, unknown = 0;
  double shortest = -1;
  for (const auto& c : plan.value()) {
    if (c.predicted_seconds < 0) {
      ++unknown;
    } else if (c.predicted_seconds <= seconds - margin) {
      ++fit;
      work += c.predicted_seconds;
    } else {
      ++unfit;
      shortest = shortest < 0 ? c.predicted_seconds : std::min(shortest, c.predicted_seconds);
    }
  }
  if (unknown > 0 && fit + unfit == 0) {
    *line =
        "run times: no job of the model has finished and run.expected_job_seconds is not set, so nothing says "
        "how many of its jobs fit in " +
        duration_text(std::llround(seconds)) + " per node";
    return Status::Ok();
  }
  *line = "run times (from " + count_size(samples, "finished job") + "): " + std::to_string(fit) + " of " +
          count_text(fit + unfit + unknown, "pending job") + " are each predicted to fit in " +
          duration_text(std::llround(limit)) + " less " +
          (signal > 0 ? duration_text(signal + 60) + " for the end signal and " : std::string()) + "the " +
          duration_text(std::llround(margin)) + " margin";
  if (unfit > 0) {
    *line +=
        "; " + std::to_string(unfit) + " are not (the shortest of them " + duration_text(std::llround(shortest)) + ")";
  }
  // Together: the workers of all tasks have (seconds - margin) each.
  const double slots = static_cast<double>(settings_.slurm.nodes) * std::max(1, r.workers);
  if (fit > 0 && work > slots * std::max(0.0, seconds - margin)) {
    *line += "; together they take about " + duration_text(std::llround(work / slots)) + " per worker on " +
             std::to_string(settings_.slurm.nodes) + " x " + std::to_string(std::max(1, r.workers)) +
             " workers: more than one allocation, submit again for the rest (or more nodes)";
  }
  return Status::Ok();
}

// The time this process has: the Slurm allocation's end when it runs in one, run.time_left
// (--time-left), the earlier of the two; nullopt for no limit.
std::optional<double> GridRun::time_left(const RunSettings& r, std::string* source) const {
  std::optional<double> left;
  auto take = [&](double seconds, const std::string& from) {
    if (!left || seconds < *left) {
      left = std::max(seconds, 0.0);
      *source = from;
    }
  };
  // run.time_left counts from the start of this process (registration included).
  if (r.time_left > 0)
    take(r.time_left - std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count(),
         "run.time_left");
  const char* end_text = std::getenv("SLURM_JOB_END_TIME");
  const char* job = std::getenv("SLURM_JOB_ID");
  const std::string slurm_job = job != nullptr && *job != '\0' ? "Slurm job " + std::string(job) : "the Slurm job";
  // Seconds since 1970, after 2001 and before 2100: anything else is not an end time.
  std::optional<long long> end;
  if (end_text != nullptr && *end_text != '\0') {
    long long v = 0;
    const char* stop = end_text + std::strlen(end_text);
    auto [ptr, ec] = std::from_chars(end_text, stop, v);
    if (ec == std::errc() && ptr == stop && v > 1000000000LL && v < 4102444800LL) {
      end = v;
    } else {
      spdlog::warn("SLURM_JOB_END_TIME '{}' is not an end time (seconds since 1970): ignored", end_text);
    }
  }
  // Slurm signals the end slurm.signal_seconds before it (--signal in the script submit
  // writes), and up to 60 s earlier than asked: a job claimed after that is stopped at once.
  const int signal = settings_.slurm.signal_seconds;
  const double before_signal = signal > 0 ? signal + 60.0 : 0.0;
  const std::string less_signal =
      signal > 0 ? ", less " + duration_text(signal + 60) + " for its end signal (slurm.signal_seconds + 60 s)" : "";
  if (end) {
    take(static_cast<double>(*end - static_cast<long long>(std::time(nullptr))) - before_signal,
         "the end of " + slurm_job + " (SLURM_JOB_END_TIME)" + less_signal);
  } else if (job != nullptr && *job != '\0') {
    const std::string squeue = find_program("squeue");
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
    std::string answer;
    if (squeue.empty() ||
        !run_captured(squeue, {"squeue", "--noheader", "--jobs", job, "--format", "%L"}, environment, 30, &answer)) {
      spdlog::warn("cannot ask Slurm how long job {} has left ({}): {}", job,
                   squeue.empty() ? "no squeue in PATH" : answer,
                   left ? "using run.time_left" : "claiming as if there were no limit");
    } else {
      // The answer is its last line: squeue's warnings may come first, in the same output.
      while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
      if (const auto nl = answer.rfind('\n'); nl != std::string::npos) answer.erase(0, nl + 1);
      while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.front()))) answer.erase(0, 1);
      if (auto t = parse_time_left(answer)) {
        take(static_cast<double>(*t) - before_signal, "Slurm job " + std::string(job) + "'s time left" + less_signal);
      } else {
        spdlog::warn("Slurm's answer for job {}'s time left is not a time ('{}'): {}", job, printable(answer),
                     left ? "using run.time_left" : "claiming as if there were no limit");
      }
    }
  }
  return left;
}

RunSummary GridRun::work(StopSignal& stop, const std::function<void()>& starting) {
  const Settings& s = settings_;
  // Declared first: it outlives the threads below (heartbeat, progress, jobs) that consult it.
  const StopEndsDatabaseWaitsAfterGrace grace(stop, db_);
  if (starting) {
    auto backlog = store_->backlog(model_id_);
    if (!backlog.ok() || backlog->pending + backlog->running > 0) starting();
  }
  const Owner owner{host_name(), static_cast<long long>(getpid()), random_token()};
  auto area = open_work_area(owner);
  if (!area.ok()) {
    RunSummary failed;
    failed.fatal = area.status();
    return failed;
  }
  spdlog::info("model '{}': running jobs with {} on {} (pid {})", s.pdr.model_name, count_text(s.run.workers, "worker"),
               owner.host, owner.pid);
  record_run(owner, "running");
  auto last_recorded = std::chrono::steady_clock::now();
  ActiveJobs active;
  Journal journal(s.run.journal_dir, owner.token);
  auto jobs = executor(owner, *area.value(), active, stop);
  RunOptions options;
  options.heartbeat_seconds = s.run.heartbeat_seconds;
  options.retry_failures = s.run.max_attempts > 1;
  options.active = &active;
  options.journal = &journal;
  options.outage_wait_seconds = s.run.outage_wait;
  options.settle_outputs = settle_outputs(*storage_, *store_);
  std::string source;
  if (auto left = time_left(s.run, &source)) {
    const double margin = s.run.margin_for(*left);
    options.deadline =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(*left));
    options.end_margin_seconds = margin;
    if (s.run.expected_job_seconds > 0) options.expected_job_seconds = s.run.expected_job_seconds;
    spdlog::info("{} left ({}): claiming only jobs predicted to finish {} before the end, the longest first",
                 duration_text(std::llround(*left)), source, duration_text(std::llround(margin)));
  }
  auto progress = std::make_unique<ProgressReporter>(
      s.pdr.model_name,
      [this](std::map<std::string, long long>* counts) {
        auto c = store_->state_counts(model_id_);
        if (c.ok()) *counts = c.value();
        return c.ok();
      },
      s.run.progress_interval);
  RunSummary summary = run_jobs(
      *store_, *jobs, model_id_, s.run.workers, owner, stop,
      [&](const JobResult& r) {
        // The observer runs on the loop's thread, one result at a time.
        if (std::chrono::steady_clock::now() - last_recorded > std::chrono::seconds(5)) {
          record_run(owner, "running");
          last_recorded = std::chrono::steady_clock::now();
        }
        log_result(r);
      },
      options);
  jobs.reset();
  progress.reset();
  // Runs found ended while this one worked.
  if (!summary.interrupted && summary.fatal.ok()) settle_unsettled_finishes(model_id_);
  // A run that a host failure stopped (a full disk) ends as failed, when the database answered
  // at the end (model_states were read); one whose database failed keeps saying it runs until
  // the next process that reaps leases marks it lost.
  if (summary.unrecorded == 0 && (summary.fatal.ok() || !summary.model_states.empty())) {
    record_run(owner, summary.interrupted                         ? "interrupted"
                      : summary.failed > 0 || !summary.fatal.ok() ? "failed"
                                                                  : "finished");
  }
  log_end(summary, journal);
  return summary;
}

void GridRun::log_end(const RunSummary& summary, const Journal& journal) const {
  const PoolStats pool = db_->stats();
  if (settings_.database.diagnostics_enabled) {
    spdlog::info(
        "database pool: {} sessions created, {} validated, {} replaced, {} failed connects; "
        "{} open at the end ({} in use, {} idle)",
        pool.created, pool.validated, pool.replaced, pool.failed, pool.size, pool.in_use, pool.idle);
  }
  log_cpu_time();
  if (summary.unrecorded > 0 && journal.size() > 0) {
    spdlog::error(
        "{} outcomes are kept in {}; the next pdr_run or pdr_run worker on this host with the same "
        "run.journal_dir records them",
        journal.size(), journal.path());
  }
}

}  // namespace pdr
