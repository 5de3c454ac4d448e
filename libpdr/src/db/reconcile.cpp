// What a registration finds of its points: done, to run again, or left alone.
#include "db/soci_job_store.h"

#include <set>
#include <sstream>

namespace pdr {

// The outputs a job the predecessor finished must still have, from what it recorded: the
// hdf_files paths (else pdrstruct<job>.hdf5, its own test of "done"), the output columns it
// sets only for a file it stored, and by its naming each onion species' TEXTOUT<job>_<species>.
Status SociJobStore::predecessor_outputs(long long model_id,
                                         std::unordered_map<long long, std::vector<std::string>>* files) {
  return read("read the outputs the predecessor recorded", [&](Session& sql) {
    files->clear();
    std::string model_path;
    sql << "SELECT model_path FROM model_names WHERE id = :m", soci::use(model_id), soci::into(model_path);
    std::unordered_map<long long, std::vector<std::string>> hdf;
    {
      soci::rowset<soci::row> rs =
          (sql.prepare << "SELECT h.job_id, COALESCE(h.full_path, ''), COALESCE(h.full_path_hdf5_s, ''), "
                          "COALESCE(h.full_path_hdf5_c, '') FROM hdf_files h JOIN pdr_model_jobs j ON j.id = h.job_id "
                          "WHERE j.model_name_id = :m AND j.duplicate_key = 0 AND j.status = 'finished'",
           soci::use(model_id));
      for (const auto& row : rs) {
        auto& v = hdf[as_integer(row, 0)];
        for (std::size_t i = 1; i <= 3; ++i) {
          if (!row.get<std::string>(i).empty()) v.push_back(row.get<std::string>(i));
        }
      }
    }
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT j.id, j.model_job_name, COALESCE(j.output_directory, ''), "
                        "COALESCE(j.output_hdf4_file, ''), COALESCE(j.input_pdrnew_inp_file, ''), "
                        "COALESCE(j.input_json_file, ''), COALESCE(j.output_textout_file, ''), "
                        "COALESCE(j.onion_species, '') FROM pdr_model_jobs j WHERE " +
                            std::string(kFinishedByPredecessor),
         soci::use(model_id));
    for (const auto& row : rs) {
      const long long id = as_integer(row, 0);
      const std::string name = row.get<std::string>(1);
      std::string dir = row.get<std::string>(2);
      if (dir.empty()) dir = model_path;
      auto in_dir = [&](const std::string& sub, const std::string& p) {
        return p.empty() || p.front() == '/' || p.find(':') != std::string::npos ? p : dir + "/" + sub + "/" + p;
      };
      std::vector<std::string> paths;
      auto it = hdf.find(id);
      if (it != hdf.end() && !it->second.empty()) {
        paths = it->second;
      } else {
        paths.push_back(in_dir("pdrgrid", "pdrstruct" + name + ".hdf5"));
      }
      for (std::size_t i = 3; i <= 6; ++i) {
        const std::string p = in_dir("pdrgrid", row.get<std::string>(i));
        if (!p.empty()) paths.push_back(p);
      }
      std::istringstream species(row.get<std::string>(7));
      for (std::string sp; species >> sp;) paths.push_back(in_dir("oniongrid", "TEXTOUT" + name + "_" + sp));
      (*files)[id] = std::move(paths);
    }
    return Status::Ok();
  });
}

// Puts what cannot be trusted back to pending and counts what is already done.
Status SociJobStore::reconcile(long long model_id, const std::vector<GridPoint>& points,
                               const std::unordered_map<std::string, long long>& param_ids, RegisterReport* report,
                               const RegisterOptions& options, bool had_jobs, const std::string& species) {
  if (!had_jobs) return count_pending(model_id, report);
  // A point is its job name; the parameter row of its exact values.
  std::unordered_map<std::string_view, long long> wanted;
  wanted.reserve(points.size());
  for (const auto& p : points) wanted.emplace(p.job_name, param_ids.at(p.param_hash));
  std::vector<JobRow> rows;
  JobOutputs files;
  Status st = read("read job states", [&](Session& sql) { return read_jobs(sql, model_id, &rows, &files); });
  if (!st.ok()) return st;
  // Jobs the predecessor finished record their outputs its own way.
  bool unrecorded = false;
  for (const auto& r : rows) {
    unrecorded = unrecorded ||
                 (state_of_word(r.status) == JobState::Finished && files.count(r.id) == 0 && wanted.count(r.name) != 0);
  }
  if (unrecorded) {
    JobOutputs theirs;
    st = predecessor_outputs(model_id, &theirs);
    if (!st.ok()) return st;
    for (auto& kv : theirs) files.emplace(kv.first, std::move(kv.second));
  }
  bool reap_now = false;
  for (const auto& r : rows) {
    auto point = wanted.find(r.name);
    if (point == wanted.end()) {
      if (r.status == "pending") ++report->other_pending;
      continue;
    }
    st = reconcile_job(r, point->second, files, options, species, report, &reap_now);
    if (!st.ok()) return st;
  }
  if (reap_now) {
    auto reaped = reap_expired();
    if (!reaped.ok()) return reaped.status();
  }
  return count_pending(model_id, report);
}

Status SociJobStore::count_pending(long long model_id, RegisterReport* report) {
  return read("count pending", [&](Session& sql) {
    long long n = 0;
    sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m AND status = 'pending' AND duplicate_key = 0",
        soci::use(model_id), soci::into(n);
    report->pending = static_cast<size_t>(n) - report->other_pending;
    return Status::Ok();
  });
}

// The model's jobs (duplicates apart) and the recorded outputs of its finished ones.
Status SociJobStore::read_jobs(Session& sql, long long model_id, std::vector<JobRow>* rows, JobOutputs* files) {
  rows->clear();
  files->clear();
  for_each_row<long long, std::string, long long, std::string, std::string, long long, long long, std::string>(
      sql,
      "SELECT id, model_job_name, COALESCE(pid, 0), COALESCE(status, 'pending'), COALESCE(host, ''), CASE WHEN "
      "token IS NULL THEN 0 ELSE 1 END, COALESCE(kosmatau_parameters_id, 0), COALESCE(onion_species, '') FROM "
      "pdr_model_jobs WHERE model_name_id = :m AND duplicate_key = 0",
      std::tie(model_id),
      [&](long long id, const std::string& name, long long pid, const std::string& state, const std::string& host,
          long long owned, long long params, const std::string& species) {
        rows->push_back(JobRow{id, pid, params, name, state, host, owned != 0, species});
      });
  for_each_row<long long, std::string>(sql,
                                       "SELECT f.job_id, f.path FROM job_files f JOIN pdr_model_jobs j ON j.id = "
                                       "f.job_id WHERE j.model_name_id = :m AND j.status = 'finished'",
                                       std::tie(model_id),
                                       [&](long long job, const std::string& path) { (*files)[job].push_back(path); });
  return Status::Ok();
}

namespace {

// The species of `wanted` (space-separated) whose onion step the job's recorded outputs do not
// show (its log TEXTOUT<job>_<species>), and those they show; none when no onion log is recorded
// (nothing is known of what it ran).
std::pair<std::string, std::string> species_not_run(const std::string& wanted, const std::string& job,
                                                    const std::vector<std::string>& outputs) {
  const std::string log = "TEXTOUT" + job + "_";
  std::set<std::string> ran;
  for (const auto& p : outputs) {
    const auto at = p.rfind('/');
    const std::string name = at == std::string::npos ? p : p.substr(at + 1);
    if (name.rfind(log, 0) == 0 && name.size() > log.size()) ran.insert(name.substr(log.size()));
  }
  std::string missing, shown;
  if (ran.empty()) return {missing, shown};
  for (const auto& sp : ran) shown += (shown.empty() ? "" : " ") + sp;
  std::istringstream want_in(wanted);
  for (std::string sp; want_in >> sp;) {
    if (ran.count(sp) == 0) missing += (missing.empty() ? "" : " ") + sp;
  }
  return {missing, shown};
}

}  // namespace

// One job of the grid: done when finished with every output in place (or skipped); queued
// again when failed, cancelled or missing outputs; a running one of a dead owner on this host
// has its lease ended (the reaper returns it); the predecessor's running jobs are left to it.
Status SociJobStore::reconcile_job(const JobRow& r, long long exact_params, const JobOutputs& files,
                                   const RegisterOptions& options, const std::string& species, RegisterReport* report,
                                   bool* reap_now) {
  const JobState state = state_of_word(r.status);
  StatusChange c;
  c.job_id = r.id;
  c.expect = state;
  c.next = JobState::Pending;
  if (state == JobState::Finished) {
    const std::string missing = missing_output(files, r.id, options);
    if (missing.empty() && !options.force_onion) {
      ++report->already_finished;
      // Done for the species it ran; one added since is not run by itself (--force-onion is).
      const auto recorded = files.find(r.id);
      if (recorded != files.end()) {
        const auto [lacking, ran] = species_not_run(species, r.name, recorded->second);
        if (!lacking.empty() && report->species_missing++ == 0) {
          report->species_example = lacking + " (it ran " + ran + ")";
        }
      }
      return Status::Ok();
    }
    if (missing.empty()) {
      c.onion_only = true;
      c.error = "force-onion: the onion step runs again";
      ++report->onion_requeued;
    } else {
      c.error = missing + "; run again";
      c.storing_window = silence_of_an_ended_run();
      auto applied = apply_alone(c);
      if (!applied.ok()) return applied.status();
      if (!applied.value()) {
        // Finished by a run that may still be at work (see storing_window), which may be moving its outputs
        // to their final names (or changed meanwhile): looked at again by the next registration.
        ++report->outputs_storing;
        ++report->already_finished;
        if (options.force_onion) ++report->onion_not_queued;
        return Status::Ok();
      }
      ++report->outputs_missing;
      if (r.params == exact_params) return Status::Ok();
      return give_exact_parameters(r.id, exact_params);
    }
  } else if (state == JobState::Skipped) {
    ++report->already_finished;
    return Status::Ok();
  } else if (state == JobState::Failed || state == JobState::Cancelled) {
    ++report->requeued;
  } else if (state == JobState::Running) {
    return end_dead_lease(r, options, report, reap_now);
  } else {
    return Status::Ok();
  }
  auto applied = apply_alone(c);
  if (!applied.ok()) return applied.status();
  if (applied.value() && c.onion_only && r.species != species) {
    // Its onion step runs now for these species.
    return transaction("record the species of job " + std::to_string(r.id), [&](Session& sql) {
      sql << "UPDATE pdr_model_jobs SET onion_species = :s WHERE id = :id", soci::use(species), soci::use(r.id);
      return Status::Ok();
    });
  }
  if (!applied.value() || c.onion_only || r.params == exact_params) return Status::Ok();
  return give_exact_parameters(r.id, exact_params);
}

// A job that runs again does so with the point's exact values (the row it had is the
// predecessor's, through FLOAT columns), and it will record outputs of those.
Status SociJobStore::give_exact_parameters(long long job_id, long long exact_params) {
  return transaction("give job " + std::to_string(job_id) + " its exact parameters", [&](Session& sql) {
    sql << "UPDATE pdr_model_jobs SET kosmatau_parameters_id = :p WHERE id = :id AND status = 'pending'",
        soci::use(exact_params), soci::use(job_id);
    return Status::Ok();
  });
}

// "" when every recorded output of a finished job exists, else what is missing.
std::string SociJobStore::missing_output(const JobOutputs& files, long long job_id, const RegisterOptions& options) {
  auto it = files.find(job_id);
  if (it == files.end()) return "no outputs recorded";
  for (const auto& p : it->second) {
    if (!options.output_exists(p)) return "output missing: " + p;
  }
  return "";
}

// A running job: the predecessor records no owner, so nothing tells whether it is still at work
// and it is left to it (pdr_run retry queues it again). An owner on this host that is gone holds
// no lease any more: its lease ends now and the reaper returns the job like any expired one (an
// attempt used, the retry delay waited, failed after the last attempt).
Status SociJobStore::end_dead_lease(const JobRow& r, const RegisterOptions& options, RegisterReport* report,
                                    bool* reap_now) {
  if (!r.owned) {
    ++report->ownerless_running;
    return Status::Ok();
  }
  if (!options.owner_gone(r.host, r.pid)) return Status::Ok();
  Status ended = transaction("end the lease of job " + std::to_string(r.id), [&](Session& sql) {
    // Under the owner found gone only: a job claimed again meanwhile keeps its new lease.
    sql << "UPDATE pdr_model_jobs SET lease_expires_at = " + dialect_.now_plus(-1) +
               " WHERE id = :id AND status = 'running' AND COALESCE(host, '') = :h AND COALESCE(pid, 0) = :p",
        soci::use(r.id), soci::use(r.host), soci::use(r.pid);
    return Status::Ok();
  });
  if (!ended.ok()) return ended;
  {
    std::lock_guard<std::mutex> lock(gone_mu_);
    proven_gone_.insert(GoneOwner{r.id, r.host, r.pid});
  }
  *reap_now = true;
  ++report->requeued;
  return Status::Ok();
}

}  // namespace pdr
