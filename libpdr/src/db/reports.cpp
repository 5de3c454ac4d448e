// Counts, status, grid maps, outputs and run records.
#include <algorithm>

#include "db/soci_job_store.h"
#include "pdr/process.h"
#include "util/text.h"

namespace pdr {

Result<bool> SociJobStore::recount_jobs() {
  if (!counters_live_) return false;
  Status st = recount();
  if (!st.ok()) return st;
  return true;
}

// Jobs per status word of a model (duplicate_key = 0): from the counters when the triggers keep
// them, else by counting the rows.
std::map<std::string, long long> SociJobStore::word_counts(Session& sql, long long model_id, bool exact) {
  std::map<std::string, long long> words;
  const bool rows = exact || !counters_live_;
  for_each_row<std::string, long long>(
      sql,
      rows ? "SELECT status, COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m AND duplicate_key = 0 GROUP BY "
             "status"
           : "SELECT status, CAST(SUM(n) AS " + std::string(dialect_.pg ? "BIGINT" : "SIGNED") +
                 ") FROM pdr_job_counts WHERE model_name_id = :m GROUP BY status",
      std::tie(model_id), [&](const std::string& word, long long n) {
        if (n != 0) words[word] += n;
      });
  return words;
}

// Jobs per state: every word of a state counts as that state (the predecessor's failure words
// as failed).
std::map<std::string, long long> SociJobStore::state_totals(const std::map<std::string, long long>& words) {
  std::map<std::string, long long> counts;
  for (const auto& kv : words) counts[to_string(state_of_word(kv.first))] += kv.second;
  for (auto it = counts.begin(); it != counts.end();) it = it->second == 0 ? counts.erase(it) : std::next(it);
  return counts;
}

std::map<std::string, long long> SociJobStore::read_counts(Session& sql, long long model_id, bool exact) {
  return state_totals(word_counts(sql, model_id, exact));
}

// A model's id by name (the first, should the predecessor have left two rows of one name).
std::optional<long long> SociJobStore::model_id_of(Session& sql, const std::string& model) {
  long long id = 0;
  sql << "SELECT id FROM model_names WHERE model_name = :n ORDER BY id LIMIT 1", soci::use(model), soci::into(id);
  if (!sql.got_data()) return std::nullopt;
  return id;
}

Status SociJobStore::no_model(const std::string& model) {
  return Status::Usage("no model named '" + model + "' in the database");
}

Result<CountCheck> SociJobStore::check_counts(const std::string& model) {
  CountCheck check;
  Status st = read("compare the job counters with the rows", [&](Session& sql) {
    check = CountCheck{};
    check.kept_by_triggers = counters_live_;
    check.note = counters_note_;
    const auto found = model_id_of(sql, model);
    if (!found) return no_model(model);
    const long long model_id = *found;
    check.rows = read_counts(sql, model_id, true);
    check.counters = counters_live_ ? read_counts(sql, model_id, false) : check.rows;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return check;
}

Result<ParameterValues> SociJobStore::load_parameters(long long params_id) {
  ParameterValues values;
  Status st = read("load parameter row " + std::to_string(params_id), [&](Session& sql) {
    auto rows = parameter_rows(sql, {params_id});
    if (rows.empty()) {
      return Status::Error(ErrorKind::kPermanent, "parameter row " + std::to_string(params_id) + " is missing");
    }
    values = std::move(rows.begin()->second);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return values;
}

Result<std::map<std::string, long long>> SociJobStore::state_counts(long long model_id) {
  std::map<std::string, long long> counts;
  Status st = read("count jobs per state", [&](Session& sql) {
    counts = read_counts(sql, model_id, false);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return counts;
}

Result<long long> SociJobStore::ownerless_running(long long model_id) {
  long long n = 0;
  Status st = read("count running jobs with no owner", [&](Session& sql) {
    sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m AND status = 'running' AND duplicate_key = 0 "
           "AND token IS NULL",
        soci::use(model_id), soci::into(n);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

Result<long long> SociJobStore::unclassified_rows(long long model_id) {
  long long n = 0;
  Status st = read("count job rows not classified yet", [&](Session& sql) {
    if (model_id > 0) {
      sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m AND duplicate_key IS NULL",
          soci::use(model_id), soci::into(n);
    } else {
      // Of the models pdr_run registered: the others' rows wait for a first registration, not a next one.
      sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE duplicate_key IS NULL AND model_name_id IN (SELECT "
             "model_name_id FROM pdr_job_events WHERE job_id IS NULL AND event = 'registered')",
          soci::into(n);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

Result<GridMap> SociJobStore::grid_map(const std::string& model, const std::string& row_axis,
                                       const std::string& column_axis) {
  // Axis -> the parameter column and how a value is written in the grid's units.
  auto column_of = [](const std::string& axis) -> std::string {
    if (axis == "dens") return "xnsur";
    if (axis == "chi") return "sint";
    if (axis == "mass") return "mass";
    if (axis == "metal") return "zmetal";
    return "";
  };
  const std::string rc = column_of(row_axis), cc = column_of(column_axis);
  if (rc.empty() || cc.empty() || rc == cc) {
    return Status::Usage("--grid: expects two different axes of dens, chi, mass, metal (got '" + row_axis + "," +
                         column_axis + "')");
  }
  GridMap map{row_axis, column_axis, {}, {}, {}, {}};
  // Finished jobs' run times (claim to finish), for --show runtime.
  const std::string timed = "j.status = 'finished' AND j.time_of_start IS NOT NULL AND j.time_of_finish IS NOT NULL";
  const std::string seconds = dialect_.seconds_between("j.time_of_start", "j.time_of_finish");
  Status st = read("read the grid map", [&](Session& sql) {
    map.cells.clear();
    map.runtimes.clear();
    const auto found = model_id_of(sql, model);
    if (!found) return no_model(model);
    const long long model_id = *found;
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT p." + rc + ", p." + cc + ", j.status, COUNT(*), SUM(CASE WHEN " + timed + " THEN " +
                            seconds + " ELSE 0 END), SUM(CASE WHEN " + timed +
                            " THEN 1 ELSE 0 END) FROM pdr_model_jobs j JOIN "
                            "kosmatau_parameters p ON p.id = j.kosmatau_parameters_id WHERE j.model_name_id = :m AND "
                            "j.duplicate_key = 0 GROUP BY p." +
                            rc + ", p." + cc + ", j.status",
         soci::use(model_id));
    std::map<double, std::string> rows, columns;
    for (const auto& row : rs) {
      const double a = as_double(row, 0), b = as_double(row, 1);
      const std::string ra = grid_unit_text(row_axis, a), cb = grid_unit_text(column_axis, b);
      rows[a] = ra;
      columns[b] = cb;
      map.cells[{ra, cb}][to_string(state_of_word(row.get<std::string>(2)))] += as_integer(row, 3);
      auto& rt = map.runtimes[{ra, cb}];
      rt.first += as_double(row, 4);
      rt.second += as_integer(row, 5);
    }
    map.rows.clear();
    map.columns.clear();
    for (const auto& kv : rows) map.rows.push_back(kv.second);
    for (const auto& kv : columns) map.columns.push_back(kv.second);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return map;
}

double SociJobStore::as_double(const soci::row& row, std::size_t i) {
  if (row.get_indicator(i) == soci::i_null) return 0;
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_double:
      return row.get<double>(i);
    case soci::dt_string:
      return std::stod(row.get<std::string>(i));
    default:
      return static_cast<double>(as_integer(row, i));
  }
}

// A physical value in the grid's units: 10*log10 for dens, chi and mass, percent for metal.
double SociJobStore::grid_unit_value(const std::string& axis, double v) {
  if (axis == "metal") return v * 100;
  return v > 0 ? std::round(10 * std::log10(v) * 1000) / 1000 : 0.0;
}

std::string SociJobStore::grid_unit_text(const std::string& axis, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", grid_unit_value(axis, v));
  return buf;
}

Result<ReportData> SociJobStore::report_data(const std::string& model) {
  ReportData data;
  Status st = read("read the report", [&](Session& sql) {
    data = ReportData{};
    data.model = model;
    const auto found = model_id_of(sql, model);
    if (!found) return no_model(model);
    sql << "SELECT " + std::string(dialect_.mysql ? "CAST(UTC_TIMESTAMP() AS CHAR)"
                                   : dialect_.pg  ? dialect_.as_text(dialect_.now())
                                                  : "datetime('now')"),
        soci::into(data.now);
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT j.id, j.model_job_name, p.xnsur, p.sint, p.mass, p.zmetal, j.status, "
                        "COALESCE(j.host, ''), " +
                            dialect_.seconds_since("j.time_of_start") + ", " +
                            dialect_.seconds_since("j.time_of_finish") +
                            ", COALESCE(j.predicted_seconds, -1), COALESCE(j.error_stage, ''), "
                            "COALESCE(j.error_cause, ''), j.exit_code, COALESCE(j.attempts, 0), COALESCE(j.error, '') "
                            "FROM pdr_model_jobs j LEFT JOIN kosmatau_parameters p ON p.id = j.kosmatau_parameters_id "
                            "WHERE j.model_name_id = :m AND j.duplicate_key = 0 ORDER BY j.id",
         soci::use(*found));
    for (const auto& row : rs) {
      ReportJob j;
      j.id = as_integer(row, 0);
      j.name = row.get<std::string>(1);
      j.dens = grid_unit_value("dens", as_double(row, 2));
      j.chi = grid_unit_value("chi", as_double(row, 3));
      j.mass = grid_unit_value("mass", as_double(row, 4));
      j.metal = grid_unit_value("metal", as_double(row, 5));
      j.state = to_string(state_of_word(row.get<std::string>(6)));
      j.host = row.get<std::string>(7);
      j.started_ago = row.get_indicator(8) == soci::i_null ? -1 : as_integer(row, 8);
      j.finished_ago = row.get_indicator(9) == soci::i_null ? -1 : as_integer(row, 9);
      j.predicted = as_double(row, 10);
      j.stage = row.get<std::string>(11);
      j.cause = row.get<std::string>(12);
      if (row.get_indicator(13) != soci::i_null) j.exit_code = static_cast<int>(as_integer(row, 13));
      j.attempts = static_cast<int>(as_integer(row, 14));
      std::string error = row.get<std::string>(15);
      error = error.substr(0, error.find('\n'));
      if (error.size() > 200) error = error.substr(0, 200) + "...";
      j.error = valid_utf8(error);
      data.jobs.push_back(std::move(j));
    }
    data.runs = run_records(sql, *found);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return data;
}

// A registration writes "registering" when it begins and "registered" when it ends (grid
// events, job_id NULL: the index on job_id finds the newest at once).
std::string SociJobStore::open_registration_of(Session& sql, long long model_id) {
  std::string out;
  for_each_row<std::string, std::string, std::string, long long, std::string>(
      sql,
      "SELECT event, COALESCE(" + dialect_.as_text("at", true) +
          ", ''), COALESCE(host, ''), COALESCE(pid, 0), COALESCE(detail, '') FROM pdr_job_events WHERE job_id IS "
          "NULL AND model_name_id = :m AND event IN ('registering', 'registered') ORDER BY id DESC LIMIT 1",
      std::tie(model_id),
      [&](const std::string& event, const std::string& at, const std::string& host, long long pid,
          const std::string& detail) {
        if (event == "registering") {
          out = "the registration of " + detail + " begun " + at + " UTC by " + host + " pid " + std::to_string(pid) +
                " has not ended (interrupted, killed, or still going): its jobs may be missing; the same grid "
                "command again completes it";
        }
      });
  return out;
}

Result<std::string> SociJobStore::open_registration(long long model_id) {
  std::string out;
  Status st = read("look for an open registration", [&](Session& sql) {
    out = open_registration_of(sql, model_id);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::string> SociJobStore::stored_elsewhere(const std::string& model, const std::string& model_path) {
  std::string path;
  Status st = read("find model " + model, [&](Session& sql) {
    path.clear();
    const auto id = model_id_of(sql, model);
    if (!id) return no_model(model);
    sql << "SELECT model_path FROM model_names WHERE id = :id", soci::use(*id), soci::into(path);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return same_location(path, model_path) ? std::string() : path;
}

Result<std::optional<long long>> SociJobStore::find_model(const std::string& model) {
  std::optional<long long> id;
  Status st = read("find model " + model, [&](Session& sql) {
    id = model_id_of(sql, model);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return id;
}

// The first 100 jobs of the model in `state`, with where and since when they run (or failed).
// `words`: the model's status words with their counts, when known. Failed is every word not of
// another state, a NOT IN that SQLite answers by reading every job of the model (0.3 s at a
// million); the words name the ones the model has.
std::vector<JobSummary> SociJobStore::job_summaries(Session& sql, long long model_id, JobState state,
                                                    const std::map<std::string, long long>* words) {
  std::vector<JobSummary> out;
  std::string where = status_sql(state);
  if (state == JobState::Failed && words != nullptr) {
    std::string list;
    bool plain = true;
    for (const auto& kv : *words) {
      if (state_of_word(kv.first) != JobState::Failed) continue;
      plain = plain && kv.first.find_first_of("'\\") == std::string::npos;
      list += (list.empty() ? "'" : ", '") + kv.first + "'";
    }
    if (list.empty()) return out;
    if (plain) where = "status IN (" + list + ")";
  }
  soci::rowset<soci::row> rs = (sql.prepare << "SELECT model_job_name, COALESCE(host, ''), COALESCE(pid, 0), "
                                               "COALESCE(" +
                                                   dialect_.as_text("time_of_start") +
                                                   ", ''), exit_code, COALESCE(error, ''), attempts, "
                                                   "COALESCE(" +
                                                   dialect_.seconds_since("time_of_start") + ", -1), COALESCE(" +
                                                   dialect_.seconds_since("heartbeat_at") +
                                                   ", -1), COALESCE(error_stage, ''), id, CASE WHEN token IS NULL "
                                                   "THEN 0 ELSE 1 END FROM pdr_model_jobs "
                                                   "WHERE model_name_id = :m AND duplicate_key = 0 AND " +
                                                   where + " ORDER BY id LIMIT 100",
                                soci::use(model_id));
  for (const auto& row : rs) {
    JobSummary j;
    j.name = row.get<std::string>(0);
    j.host = row.get<std::string>(1);
    j.pid = as_integer(row, 2);
    j.time_of_start = row.get<std::string>(3);
    if (row.get_indicator(4) != soci::i_null) j.exit_code = static_cast<int>(as_integer(row, 4));
    j.error = row.get<std::string>(5);
    j.attempts = static_cast<int>(as_integer(row, 6));
    j.age_seconds = as_integer(row, 7);
    j.heartbeat_seconds = as_integer(row, 8);
    if (state == JobState::Failed) j.stage = row.get<std::string>(9);
    j.id = as_integer(row, 10);
    j.owned = state != JobState::Running || as_integer(row, 11) != 0;  // only a running job has an owner
    out.push_back(std::move(j));
  }
  return out;
}

// Predicted against actual run times of the latest finished jobs that had a prediction.
PredictionCheck SociJobStore::prediction_check(Session& sql, long long model_id) {
  PredictionCheck check;
  const std::string seconds = dialect_.seconds_between("time_of_start", "time_of_finish");
  std::vector<double> ratios;
  double actual_sum = 0;
  for_each_row<double, double>(
      sql,
      "SELECT predicted_seconds, " + seconds +
          " FROM pdr_model_jobs WHERE model_name_id = :m AND status = 'finished' AND duplicate_key = 0 AND "
          "predicted_seconds IS NOT NULL AND time_of_start IS NOT NULL AND time_of_finish IS NOT NULL ORDER BY "
          "time_of_finish DESC LIMIT 10000",
      std::tie(model_id), [&](double predicted, double actual) {
        actual_sum += actual;
        // Whole seconds on both sides of a short job: at least one second each.
        ratios.push_back(std::max(actual, 1.0) / std::max(predicted, 1.0));
      });
  if (ratios.empty()) return check;
  check.jobs = static_cast<long long>(ratios.size());
  check.mean_actual_seconds = actual_sum / static_cast<double>(ratios.size());
  long long close = 0;
  for (double r : ratios) close += r <= 2 && r >= 0.5;
  check.within_factor_two = static_cast<double>(close) / static_cast<double>(ratios.size());
  std::sort(ratios.begin(), ratios.end());
  check.median_ratio = ratios[ratios.size() / 2];
  return check;
}

void judge_run(RunRecord& run, const JobPolicy& policy) {
  run.seen_as = run.state;
  run.shown = run.state;
  if (run.state != "running" || run.silent_seconds < 0) return;
  if (run.silent_seconds > silent_here(policy) && process_gone(run.host, run.pid)) {
    run.seen_as = "gone";
    run.shown = "gone (no process " + std::to_string(run.pid) + " on this host; last heard from " +
                duration_text(run.silent_seconds) + " ago)";
  } else if (run.silent_seconds > silence_of_an_ended_run(policy)) {
    run.seen_as = "silent";
    run.shown = "running? (not heard from for " + duration_text(run.silent_seconds) + ")";
  }
}

// The latest runs of the model, newest first.
std::vector<RunRecord> SociJobStore::run_records(Session& sql, long long model_id) {
  std::vector<RunRecord> out;
  soci::rowset<soci::row> runs =
      (sql.prepare << "SELECT COALESCE(host, ''), COALESCE(pid, 0), COALESCE(workers, 0), state, "
                      "COALESCE(" +
                          dialect_.as_text("started_at") + ", ''), COALESCE(" + dialect_.as_text("updated_at") +
                          ", ''), pool_open, pool_in_use, pool_idle, "
                          "pool_created, pool_validated, pool_replaced, pool_failed, COALESCE(" +
                          dialect_.seconds_since("updated_at") +
                          ", -1) FROM pdr_runs "
                          "WHERE model_name_id = :m ORDER BY id DESC LIMIT 10",
       soci::use(model_id));
  for (const auto& row : runs) {
    RunRecord r;
    r.host = row.get<std::string>(0);
    r.pid = as_integer(row, 1);
    r.workers = as_integer(row, 2);
    r.state = row.get<std::string>(3);
    r.started_at = row.get<std::string>(4);
    r.updated_at = row.get<std::string>(5);
    r.pool.size = static_cast<int>(as_integer(row, 6));
    r.pool.in_use = static_cast<int>(as_integer(row, 7));
    r.pool.idle = static_cast<int>(as_integer(row, 8));
    r.pool.created = as_integer(row, 9);
    r.pool.validated = as_integer(row, 10);
    r.pool.replaced = as_integer(row, 11);
    r.pool.failed = as_integer(row, 12);
    r.silent_seconds = as_integer(row, 13);
    out.push_back(r);
  }
  return out;
}

Result<StatusReport> SociJobStore::status_report(const std::string& model) {
  StatusReport report;
  Status st = read("read status", [&](Session& sql) {
    report = StatusReport{};
    report.model = model;
    for (JobState s : {JobState::Pending, JobState::Running, JobState::Finished, JobState::Failed, JobState::Skipped,
                       JobState::Cancelled}) {
      report.by_status[to_string(s)] = 0;
    }
    const auto found = model_id_of(sql, model);
    if (!found) return no_model(model);
    const long long model_id = *found;
    const auto words = word_counts(sql, model_id, false);
    for (const auto& kv : state_totals(words)) {
      report.by_status[kv.first] = kv.second;
      report.total += kv.second;
    }
    report.running = job_summaries(sql, model_id, JobState::Running, nullptr);
    report.failed = job_summaries(sql, model_id, JobState::Failed, &words);
    // The last three events of the failed jobs shown first (how each came to fail).
    std::vector<long long> ids;
    for (size_t i = 0; i < report.failed.size() && i < kFailedWithHistory; ++i) ids.push_back(report.failed[i].id);
    auto events = last_events(sql, ids, 3);
    for (auto& j : report.failed) {
      auto it = events.find(j.id);
      if (it != events.end()) j.last_events = std::move(it->second);
    }
    report.runs = run_records(sql, model_id);
    report.predictions = prediction_check(sql, model_id);
    report.open_registration = open_registration_of(sql, model_id);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return report;
}

Result<std::map<long long, std::vector<StoredFile>>> SociJobStore::finished_outputs(const std::string& model) {
  std::map<long long, std::vector<StoredFile>> out;
  long long model_id = 0;
  Status st = read("read the outputs of model " + model, [&](Session& sql) {
    out.clear();
    const auto found = model_id_of(sql, model);
    if (!found) return no_model(model);
    model_id = *found;
    for_each_row<long long, std::string, std::string, std::string, long long>(
        sql,
        "SELECT f.job_id, f.kind, f.path, f.sha256_sum, f.file_size FROM job_files f JOIN pdr_model_jobs j ON j.id "
        "= f.job_id WHERE j.model_name_id = :m AND j.duplicate_key = 0 AND j.status = 'finished' ORDER BY "
        "f.job_id, f.id",
        std::tie(model_id),
        [&](long long job, const std::string& kind, const std::string& path, const std::string& sum, long long size) {
          out[job].push_back(StoredFile{kind, path, sum, size, "", ""});
        });
    // Jobs the predecessor finished: the HDF files of their hdf_files row, whose size and sha256
    // it recorded (not its "remote_file_no_local_hash" rows).
    soci::rowset<soci::row> hdf =
        (sql.prepare << "SELECT h.job_id, h.full_path, h.sha256_sum, h.file_size, h.full_path_hdf5_s, "
                        "h.sha256_sum_hdf5_s, h.file_size_hdf5_s, h.full_path_hdf5_c, h.sha256_sum_hdf5_c, "
                        "h.file_size_hdf5_c FROM hdf_files h JOIN pdr_model_jobs j ON j.id = h.job_id WHERE " +
                            std::string(kFinishedByPredecessor) + " ORDER BY h.id",
         soci::use(model_id));
    for (const auto& row : hdf) {
      const long long job = as_integer(row, 0);
      if (out.count(job) != 0) continue;  // one hdf_files row a job
      std::vector<StoredFile> files;
      for (std::size_t i = 1; i + 2 < row.size(); i += 3) {
        if (row.get_indicator(i) == soci::i_null || row.get_indicator(i + 1) == soci::i_null ||
            row.get_indicator(i + 2) == soci::i_null) {
          continue;
        }
        const std::string sum = row.get<std::string>(i + 1);
        if (sum.size() != 64 || sum.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
        files.push_back(StoredFile{"predecessor_hdf", row.get<std::string>(i), sum, as_integer(row, i + 2), "", ""});
      }
      if (!files.empty()) out[job] = std::move(files);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  // And every other output a registration requires of a job the predecessor finished (its
  // inputs, TEXTOUT, each onion species' TEXTOUT): whether it exists, as the registration asks.
  std::unordered_map<long long, std::vector<std::string>> theirs;
  st = predecessor_outputs(model_id, &theirs);
  if (!st.ok()) return st;
  for (auto& [job, paths] : theirs) {
    auto& files = out[job];
    for (const auto& path : paths) {
      const bool listed = std::any_of(files.begin(), files.end(), [&](const StoredFile& f) { return f.path == path; });
      if (!listed) files.push_back(StoredFile{"predecessor_output", path, "", -1, "", ""});
    }
  }
  return out;
}

// started_at by the clock updated_at is set by (whole seconds): PostgreSQL's column default
// keeps the fraction, and a run started after it had last been heard from.
Status SociJobStore::record_run(long long model_id, const Owner& owner, int workers, const std::string& state,
                                const PoolStats& pool) {
  Status st = transaction("record run " + owner.token, [&](Session& sql) {
    const long long pid = owner.pid, w = workers, open = pool.size, in_use = pool.in_use, idle = pool.idle;
    sql << std::string(dialect_.insert_ignore()) +
               " INTO pdr_runs (token, model_name_id, host, pid, workers, started_at) VALUES (:t, :m, :h, :p, :w, " +
               dialect_.now() + ")" + dialect_.ignore_end(),
        soci::use(owner.token), soci::use(model_id), soci::use(owner.host), soci::use(pid), soci::use(w);
    sql << "UPDATE pdr_runs SET state = :s, updated_at = " + dialect_.now() +
               ", pool_open = :o, pool_in_use = :u, "
               "pool_idle = :i, pool_created = :c, pool_validated = :v, pool_replaced = :r, pool_failed = :f "
               "WHERE token = :t",
        soci::use(state), soci::use(open), soci::use(in_use), soci::use(idle), soci::use(pool.created),
        soci::use(pool.validated), soci::use(pool.replaced), soci::use(pool.failed), soci::use(owner.token);
    return Status::Ok();
  });
  if (st.ok() && state != "running") fold_counts(model_id);
  return st;
}

Result<bool> SociJobStore::knows_owner(const std::string& token) {
  bool known = false;
  Status st = read("look for the runs of owner " + token, [&](Session& sql) {
    long long n = 0;
    sql << "SELECT (SELECT COUNT(*) FROM pdr_runs WHERE token = :t) + (SELECT COUNT(*) FROM pdr_model_jobs WHERE "
           "token = :t2)",
        soci::use(token), soci::use(token), soci::into(n);
    if (n == 0) {
      // Its run is recorded before it claims; a run that could not record it (an outage at its
      // start) still wrote its claims' events.
      sql << "SELECT COUNT(*) FROM (SELECT 1 FROM pdr_job_events WHERE token = :t LIMIT 1) e", soci::use(token),
          soci::into(n);
    }
    known = n > 0;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return known;
}

Result<std::vector<std::string>> SociJobStore::model_names() {
  std::vector<std::string> names;
  Status st = read("list models", [&](Session& sql) {
    names.clear();
    soci::rowset<std::string> rs = (sql.prepare << "SELECT model_name FROM model_names ORDER BY model_name");
    for (const auto& n : rs) names.push_back(n);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return names;
}

}  // namespace pdr
