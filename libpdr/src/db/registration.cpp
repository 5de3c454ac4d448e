// Registering a grid: the model and its provenance rows, and the check that a point's
// existing job has the same physics.
#include "db/soci_job_store.h"
#include "db/statement_cache.h"

#include <sstream>

#include "pdr/grid_value.h"
#include "pdr/job_state.h"

namespace pdr {

// Registers a grid: the model and its provenance rows, a parameter row per point, a job per
// point (INSERT IGNORE: registering again is harmless), then reconcile() decides what is done.
Status SociJobStore::register_grid(const Provenance& prov, const std::vector<GridPoint>& points, RegisterReport* report,
                                   const RegisterOptions& options) {
  if (!options.output_exists || !options.owner_gone) {
    return Status::Error(ErrorKind::kPermanent, "register_grid: output_exists and owner_gone are required");
  }
  Status st;
  const StopRetryingOn stop_retrying(options.stop_requested);  // a signal ends a wait for the database
  *report = RegisterReport{};
  report->points = points.size();
  // Checked before each batch: a signal stops the registration between two transactions.
  auto interrupted = [&](const char* stage, size_t done) {
    if (!options.stop_requested || !options.stop_requested()) return false;
    st = Status::Error(ErrorKind::kInterrupted, "registration interrupted at " + std::string(stage) + " " +
                                                    std::to_string(done) + " of " + std::to_string(points.size()));
    return true;
  };
  RegistrationIds ids;
  st = transaction("register the model", [&](Session& sql) {
    Status done = register_model(sql, prov, points, &ids);
    // Open until "registered" below: status and a worker say so should it never come.
    if (done.ok()) write_grid_event(sql, ids.model, "registering", std::to_string(points.size()) + " points");
    return done;
  });
  if (!st.ok()) return st;
  report->model_id = ids.model;
  executable_id_ = ids.exe;
  // A point the model has under the predecessor's spelling of its values keeps that name (its
  // outputs have it): the rest of the registration sees the points so named.
  std::vector<GridPoint> respelled;
  if (!ids.respelled.empty()) {
    respelled = points;
    for (auto& p : respelled) {
      auto it = ids.respelled.find(p.job_name);
      if (it == ids.respelled.end()) continue;
      if (report->respelled++ == 0) report->respelled_example = it->second + " for " + p.job_name;
      p.job_name = it->second;
    }
  }
  const std::vector<GridPoint>& named = ids.respelled.empty() ? points : respelled;
  // Parameter rows and job rows, in batches, each batch one transaction. A point whose job
  // the predecessor wrote with FLOAT values gets its exact row too: the job uses it if it
  // ever runs again. The parameter rows go in in the order of their hashes: each batch then
  // adds to one stretch of the unique key's index. In the grid's order (random hashes) every
  // batch touched most of that index's pages, and a million points wrote it ~200 times over.
  std::vector<const GridPoint*> by_hash;
  by_hash.reserve(named.size());
  for (const auto& p : named) by_hash.push_back(&p);
  std::sort(by_hash.begin(), by_hash.end(),
            [](const GridPoint* a, const GridPoint* b) { return a->param_hash < b->param_hash; });
  for (size_t begin = 0; begin < by_hash.size(); begin += kBatch) {
    if (interrupted("parameter row", begin)) return st;
    const size_t end = std::min(by_hash.size(), begin + kBatch);
    st = transaction("register parameter rows", [&](Session& sql) {
      insert_parameters(sql, ids.model, by_hash, begin, end);
      return Status::Ok();
    });
    if (!st.ok()) return st;
  }
  std::unordered_map<std::string, long long> param_ids;
  st = read("read parameter ids", [&](Session& sql) {
    param_ids = parameter_ids(sql, ids.model);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  size_t before = 0, after = 0;
  st = count_jobs(ids.model, &before);
  for (size_t begin = 0; st.ok() && begin < named.size(); begin += kBatch) {
    if (interrupted("job row", begin)) return st;
    const size_t end = std::min(named.size(), begin + kBatch);
    st = transaction("register jobs", [&](Session& sql) {
      insert_jobs(sql, named, begin, end, param_ids, ids, prov);
      return Status::Ok();
    });
  }
  if (st.ok()) st = count_jobs(ids.model, &after);
  if (!st.ok()) return st;
  if (interrupted("job row", points.size())) return st;
  report->created = after - before;
  if (report->created >= kAnalyzeAfter) refresh_statistics();
  st = reconcile(ids.model, named, param_ids, report, options, before > 0, prov.onion_species);
  if (!st.ok()) return st;
  // One event for the grid, none per job (a million points write one row here).
  const std::string detail = std::to_string(report->points) + " points: " + std::to_string(report->created) +
                             " new jobs, " + std::to_string(report->already_finished) + " already done, " +
                             std::to_string(report->requeued + report->outputs_missing + report->onion_requeued) +
                             " queued again";
  return transaction("record the registration", [&](Session& sql) {
    write_grid_event(sql, ids.model, "registered", detail);
    return Status::Ok();
  });
}

// MySQL: InnoDB refreshes a table's index statistics in the background some time after many
// rows came; until then its optimizer takes a model for a few rows and may read a million
// index entries where one seek would do (pdr_progress_v). ANALYZE samples a few pages of each
// index. Not needed for correctness: a refusal only costs speed.
void SociJobStore::refresh_statistics() {
  if (!dialect_.server()) return;
  Status st = read("refresh the index statistics", [&](Session& sql) {
    if (dialect_.pg) {
      sql << "ANALYZE pdr_model_jobs, kosmatau_parameters";
      return Status::Ok();
    }
    soci::rowset<soci::row> rs = (sql.prepare << "ANALYZE TABLE pdr_model_jobs, kosmatau_parameters");
    for (const auto& row : rs) (void)row;  // its result rows, read to the end
    return Status::Ok();
  });
  if (!st.ok()) spdlog::debug("index statistics not refreshed: {}", st.message());
}

// The model row (its recorded location checked), the predecessor's new rows taken in, the points
// checked against the model's, and the provenance rows.
Status SociJobStore::register_model(Session& sql, const Provenance& prov, const std::vector<GridPoint>& points,
                                    RegistrationIds* ids) {
  ids->model = get_or_create(sql, "model_names", {"model_name"}, {prov.model_name}, {{"model_path", prov.model_path}});
  std::string stored_path, stored_name;
  sql << "SELECT model_path, model_name FROM model_names WHERE id = :id", soci::use(ids->model),
      soci::into(stored_path), soci::into(stored_name);
  if (stored_name != prov.model_name) {
    // MySQL compares names without case and trailing spaces: another model's row was found.
    return Status::Usage("model '" + prov.model_name + "' is model '" + stored_name +
                         "' on this MySQL server (it compares model names without case and trailing spaces); use "
                         "--model-name " +
                         stored_name + " for that model, or a name that differs in more than that");
  }
  if (!same_location(stored_path, prov.model_path)) {
    return Status::Usage("model '" + prov.model_name + "' already stores its outputs in " + stored_path + ", not " +
                         prov.model_path + "; use that storage.base_dir or another --model-name");
  }
  // Rows the predecessor added since pdr_run last registered this model.
  adopt_rows(sql, ids->model);
  if (Status st = check_points(sql, ids->model, prov.model_name, points, &ids->respelled); !st.ok()) return st;
  ids->user = get_or_create(sql, "users", {"username", "email"}, {prov.username, prov.email}, {});
  ids->exe = executable_row(sql, prov);
  json_template_id_ = json_template_row(sql, prov);
  ids->chem =
      get_or_create(sql, "chemical_databases", {"chem_rates_file_name", "chem_rates_full_path", "database_origin"},
                    {prov.chem_file_name, prov.chem_full_path, prov.chem_origin}, {});
  return Status::Ok();
}

// A point is its job name (its output file names): a point with other physics under a name the
// model already has would overwrite that point's outputs. Refused before anything is written.
// The values are compared when the hashes differ: the predecessor's FLOAT columns keep 10^3.5 to
// seven digits. The rows to compare are read a few hundred at a time.
Status SociJobStore::check_points(Session& sql, long long model_id, const std::string& model_name,
                                  const std::vector<GridPoint>& points,
                                  std::unordered_map<std::string, std::string>* respelled) {
  std::unordered_map<std::string, std::pair<std::string, long long>> existing;  // name -> hash, parameter row
  // The predecessor named a job by its values as typed ("0", "5", "3.0"): such a name stands for
  // the point pdr_run names canonically ("00", "05", "03"). Of several spellings of one point
  // (the predecessor ran "30" and "30.0" apart), the one a registration of it would keep: finished,
  // skipped, running (its owner may be at work), pending, failed; the newest of a kind.
  struct Spelling {
    std::string name;
    int rank;
    long long id;
  };
  const auto rank_of = [](const std::string& status) {
    switch (state_of_word(status)) {
      case JobState::Finished:
        return 4;
      case JobState::Skipped:
        return 3;
      case JobState::Running:
        return 2;
      case JobState::Pending:
        return 1;
      default:
        return 0;
    }
  };
  std::unordered_map<std::string, Spelling> spellings;  // canonical name -> the model's best other spelling
  for_each_row<std::string, std::string, long long, std::string, long long>(
      sql,
      "SELECT j.model_job_name, COALESCE(p.parameter_hash, ''), p.id, COALESCE(j.status, ''), j.id FROM "
      "pdr_model_jobs j JOIN kosmatau_parameters p ON p.id = j.kosmatau_parameters_id WHERE j.model_name_id = :m AND "
      "j.duplicate_key = 0",
      std::tie(model_id),
      [&](const std::string& name, const std::string& hash, long long row, const std::string& status, long long id) {
        existing.emplace(name, std::make_pair(hash, row));
        std::string canonical = canonical_job_name(name);
        if (canonical.empty()) return;
        Spelling s{name, rank_of(status), id};
        auto [it, added] = spellings.emplace(std::move(canonical), s);
        if (!added && (s.rank > it->second.rank || (s.rank == it->second.rank && s.id > it->second.id))) {
          it->second = std::move(s);
        }
      });
  respelled->clear();
  for (auto& [canonical, s] : spellings) {
    if (existing.count(canonical) == 0) respelled->emplace(canonical, std::move(s.name));  // else that is the job
  }
  // The model's job of a point: (its name in the model, where it is in `existing`).
  const auto job_of = [&](const GridPoint& p) {
    auto it = existing.find(p.job_name);
    if (it != existing.end() || respelled->empty()) return it;
    auto other = respelled->find(p.job_name);
    return other == respelled->end() ? it : existing.find(other->second);
  };
  std::vector<std::pair<const GridPoint*, decltype(existing)::const_iterator>> compare;
  const GridPoint* fresh = nullptr;  // a point the model does not have yet
  for (const auto& p : points) {
    auto it = job_of(p);
    if (it != existing.end() && it->second.first != p.param_hash) compare.emplace_back(&p, it);
    if (it == existing.end() && fresh == nullptr) fresh = &p;
  }
  // New points join the model's physics: its constants (alpha, rcore, chemistry, every
  // non-default parameter) as its newest point has them, or one grid would mix two physics
  // under one name.
  if (fresh != nullptr && !existing.empty()) {
    long long newest = 0;
    for (const auto& [name, row] : existing) newest = std::max(newest, row.second);
    const auto rows = parameter_rows(sql, {newest});
    const std::string differs =
        first_difference(rows.count(newest) != 0 ? rows.at(newest) : ParameterValues{}, *fresh, /*grid=*/false);
    if (!differs.empty()) {
      return Status::Usage("model '" + model_name + "' has other parameters than the new point " + fresh->job_name +
                           " (" + differs +
                           "); a model holds one physics. Use another --model-name for changed physics");
    }
  }
  for (size_t begin = 0; begin < compare.size(); begin += 200) {
    const size_t end = std::min(compare.size(), begin + 200);
    std::vector<long long> ids;
    for (size_t i = begin; i < end; ++i) ids.push_back(compare[i].second->second.second);
    const auto rows = parameter_rows(sql, ids);
    for (size_t i = begin; i < end; ++i) {
      auto row = rows.find(compare[i].second->second.second);
      const std::string differs =
          first_difference(row == rows.end() ? ParameterValues{} : row->second, *compare[i].first);
      if (!differs.empty()) {
        const std::string& stored = compare[i].second->first;  // its name in the model
        return Status::Usage("model '" + model_name + "' already has point " + stored +
                             (stored == compare[i].first->job_name ? "" : " (" + compare[i].first->job_name + ")") +
                             " with other parameters (" + differs +
                             "); its outputs would be overwritten. "
                             "Use another --model-name for changed physics");
      }
    }
  }
  return Status::Ok();
}

// The model's parameter rows pdr_run classified, by parameter hash.
std::unordered_map<std::string, long long> SociJobStore::parameter_ids(Session& sql, long long model_id) {
  std::unordered_map<std::string, long long> out;
  for_each_row<long long, std::string>(
      sql, "SELECT id, parameter_hash FROM kosmatau_parameters WHERE model_name_id = :m AND parameter_hash IS NOT NULL",
      std::tie(model_id), [&](long long id, const std::string& hash) { out[hash] = id; });
  return out;
}

// One batch of job rows (INSERT IGNORE: a job the model has keeps its row).
void SociJobStore::insert_jobs(Session& sql, const std::vector<GridPoint>& points, size_t begin, size_t end,
                               const std::unordered_map<std::string, long long>& param_ids, const RegistrationIds& ids,
                               const Provenance& prov) {
  if (!dialect_.pg && plain_names(points, begin, end)) {
    insert_jobs_multirow(sql, points, begin, end, param_ids, ids.model, ids.user, ids.exe, ids.chem, prov);
    return;
  }
  if (dialect_.pg && plain_names(points, begin, end)) {
    insert_jobs_values(sql, points, begin, end, param_ids, ids.model, ids.user, ids.exe, ids.chem, prov);
    return;
  }
  std::vector<std::string> names;
  std::vector<long long> pids, mids, uids, eids, cids;
  std::vector<std::string> species, outdirs;
  for (size_t i = begin; i < end; ++i) {
    names.push_back(points[i].job_name);
    pids.push_back(param_ids.at(points[i].param_hash));
    mids.push_back(ids.model);
    uids.push_back(ids.user);
    eids.push_back(ids.exe);
    cids.push_back(ids.chem);
    species.push_back(prov.onion_species);
    outdirs.push_back(prov.model_path);
  }
  sql << std::string(dialect_.insert_ignore()) +
             " INTO pdr_model_jobs (model_name_id, model_job_name, user_id, "
             "kosmatau_parameters_id, kosmatau_executable_id, chemical_database_id, onion_species, "
             "output_directory, pending, active, status, attempts, duplicate_key) "
             "VALUES (:m, :n, :u, :p, :e, :c, :s, :o, TRUE, FALSE, 'pending', 0, 0)" +
             dialect_.ignore_end(),
      soci::use(mids), soci::use(names), soci::use(uids), soci::use(pids), soci::use(eids), soci::use(cids),
      soci::use(species), soci::use(outdirs);
}

// The json_templates row of the template this process renders (0 when there is none).
long long SociJobStore::json_template_row(Session& sql, const Provenance& prov) {
  if (prov.json_template_sha256.empty()) return 0;
  const std::string name = prov.json_template_path.substr(prov.json_template_path.find_last_of('/') + 1);
  long long known = 0;
  sql << "SELECT COUNT(*) FROM json_templates WHERE sha256_sum = :s", soci::use(prov.json_template_sha256),
      soci::into(known);
  const long long id = get_or_create(sql, "json_templates", {"sha256_sum"}, {prov.json_template_sha256},
                                     {{"name", name}, {"path", prov.json_template_path}});
  // A row made here: the predecessor's table has no default for created_at (it sets it itself).
  if (id > 0 && known == 0) {
    sql << "UPDATE json_templates SET created_at = " + dialect_.now() + " WHERE id = :id AND created_at IS NULL",
        soci::use(id);
  }
  return id;
}

// The kosmatau_executables row of the program this process runs: a job it claims records it
// (a job run again by another build names the build that ran it).
long long SociJobStore::executable_row(Session& sql, const Provenance& prov) {
  std::vector<std::pair<std::string, std::string>> exe_extra = {{"code_revision", prov.exe_revision}};
  if (!dialect_.pg || !prov.exe_compilation_date.empty()) {  // PostgreSQL: no date is NULL, not ''
    exe_extra.emplace_back("compilation_date", dialect_.server() || prov.exe_compilation_date.size() != 19
                                                   ? prov.exe_compilation_date
                                                   // SQLAlchemy's text for a DATETIME in SQLite: the
                                                   // predecessor finds the row it looks for by it
                                                   : prov.exe_compilation_date + ".000000");
  }
  return get_or_create(sql, "kosmatau_executables", {"executable_file_name", "executable_full_path", "sha256_sum"},
                       {prov.exe_file_name, prov.exe_dir, prov.exe_sha256}, exe_extra);
}

Status SociJobStore::use_json_template(const Provenance& prov) {
  long long id = 0, exe = 0;
  Status st = transaction("record the JSON template and the executable", [&](Session& sql) {
    id = json_template_row(sql, prov);
    exe = executable_row(sql, prov);
    return Status::Ok();
  });
  if (st.ok()) {
    json_template_id_ = id;
    executable_id_ = exe;
  }
  return st;
}

// The values of parameter rows by id.
std::map<long long, ParameterValues> SociJobStore::parameter_rows(Session& sql, const std::vector<long long>& ids) {
  std::map<long long, ParameterValues> out;
  if (ids.empty()) return out;
  // Every row has the same columns: which parameter each is, and where the id is, once.
  std::vector<const ParamSpec*> specs;
  std::size_t id_column = 0;
  auto take = [&](const soci::row& row) {
    if (specs.empty()) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        const std::string name = row.get_properties(i).get_name();
        if (lower(name) == "id") id_column = i;
        specs.push_back(find_parameter(name));
      }
    }
    ParameterValues values;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (specs[i] == nullptr) continue;
      values[specs[i]->name] = row.get_indicator(i) == soci::i_null ? "" : field_text(row, i, specs[i]->type);
    }
    out[as_integer(row, id_column)] = std::move(values);
  };
  if (ids.size() <= kMaxPaddedIds) {
    // A claim's rows, by placeholders (see statement_cache.h). A kept statement's columns are
    // those of its first run: a column another process adds later (at the end) is not read. Not
    // kept on PostgreSQL, where such a column fails it.
    const std::string q = "SELECT * FROM kosmatau_parameters WHERE id IN (" + id_placeholders("i", ids.size()) + ")";
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(sql, q, fresh, sql.get_backend_name() != "postgresql");
    use_ids(st, ids);
    try {
      st.query(q);
      while (st.fetch()) take(st.row());
    } catch (...) {
      forget_statement(sql, q);
      throw;
    }
    return out;
  }
  std::string list;
  for (long long id : ids) list += (list.empty() ? "" : ", ") + std::to_string(id);
  soci::rowset<soci::row> rs = (sql.prepare << "SELECT * FROM kosmatau_parameters WHERE id IN (" + list + ")");
  for (const auto& row : rs) take(row);
  return out;
}

// The first parameter whose stored value is not the point's ("alpha: 0.5 in the database, 0.6
// now"), or "". Real values agree to 1e-5 relative: a FLOAT column of the predecessor keeps
// about seven digits, and its rtot (derived from rounded values) differs by 1.3e-6.
std::string SociJobStore::first_difference(const ParameterValues& stored, const GridPoint& point, bool grid) {
  for (const auto& spec : parameter_specs()) {
    if (spec.role == ParamRole::Comment || (!grid && spec.role == ParamRole::GridDerived)) continue;
    auto it = stored.find(spec.name);
    const std::string have = it == stored.end() ? "" : it->second;
    std::string want;
    try {
      want = point.param(spec.name);
    } catch (const std::out_of_range&) {
      continue;
    }
    if (have == want) continue;
    if (spec.type == ParamType::Text) {
      // Words, as KOSMA-tau reads them (the predecessor kept the folded YAML's runs of spaces).
      const auto words = [](const std::string& text) {
        std::istringstream in(text);
        std::vector<std::string> w;
        for (std::string word; in >> word;) w.push_back(word);
        return w;
      };
      const auto a = words(have), b = words(want);
      if (a == b) continue;
      size_t i = 0;
      while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
      const auto word = [i](const std::vector<std::string>& w) {
        return i < w.size() ? "'" + w[i] + "'" : std::string("nothing");
      };
      return std::string(spec.name) + ": " + word(a) + " in the database, " + word(b) + " now (word " +
             std::to_string(i + 1) + ")";
    }
    if (!have.empty() && !want.empty()) {
      char* end_a = nullptr;
      char* end_b = nullptr;
      const double a = std::strtod(have.c_str(), &end_a), b = std::strtod(want.c_str(), &end_b);
      if (*end_a == '\0' && *end_b == '\0' && std::fabs(a - b) <= 1e-5 * std::max(std::fabs(a), std::fabs(b))) {
        continue;
      }
    }
    auto shown = [](const std::string& v) {
      return v.empty() ? std::string("none") : v.size() > 40 ? v.substr(0, 37) + "..." : v;
    };
    return std::string(spec.name) + ": " + shown(have) + " in the database, " + shown(want) + " now";
  }
  return "";
}

// SELECT by the unique key; INSERT OR IGNORE when missing; return the id.
long long SociJobStore::get_or_create(Session& sql, const std::string& table, const std::vector<std::string>& key_cols,
                                      const std::vector<std::string>& key_vals,
                                      const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string where;
  for (size_t i = 0; i < key_cols.size(); ++i) {
    where += (i ? " AND " : "") + key_cols[i] + " = :k" + std::to_string(i);
  }
  auto find = [&]() -> long long {
    long long id = 0;
    soci::statement q(sql);
    q.exchange(soci::into(id));
    for (const auto& v : key_vals) q.exchange(soci::use(v));
    q.alloc();
    q.prepare("SELECT id FROM " + table + " WHERE " + where + " ORDER BY id LIMIT 1");
    q.define_and_bind();
    q.execute(true);
    return q.got_data() ? id : 0;
  };
  if (long long id = find()) return id;
  std::string cols, marks;
  std::vector<std::string> values = key_vals;
  std::vector<std::string> names = key_cols;
  for (const auto& e : extra) {
    names.push_back(e.first);
    values.push_back(e.second);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    cols += (i ? ", " : "") + names[i];
    marks += (i ? ", :v" : ":v") + std::to_string(i);
  }
  soci::statement ins(sql);
  for (const auto& v : values) ins.exchange(soci::use(v));
  ins.alloc();
  ins.prepare(std::string(dialect_.insert_ignore()) + " INTO " + table + " (" + cols + ") VALUES (" + marks + ")" +
              dialect_.ignore_end());
  ins.define_and_bind();
  ins.execute(true);
  return find();
}

Status SociJobStore::count_jobs(long long model_id, size_t* out) {
  return read("count jobs", [&](Session& sql) {
    long long n = 0;
    sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m", soci::use(model_id), soci::into(n);
    *out = static_cast<size_t>(n);
    return Status::Ok();
  });
}

}  // namespace pdr
