// The SOCI JobStore: shared helpers, the transaction wrapper's read-back, row conversions and
// open_job_store (soci_job_store.h says where each concern lives).
#include <algorithm>

#include "db/soci_job_store.h"

namespace pdr {

// Whether two recorded model paths name the same place: a relative path (the predecessor
// records storage.base_dir as it was given) is taken from the current directory, and "a/./b/"
// is "a/b". Remote paths ("remote:dir") are compared as text.
bool same_location(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto norm = [](const std::string& p) {
    if (p.find(':') != std::string::npos) return p;
    std::error_code ec;
    std::string n = std::filesystem::absolute(p, ec).lexically_normal().string();
    while (n.size() > 1 && n.back() == '/') n.pop_back();
    return n;
  };
  if (norm(a) == norm(b)) return true;
  // Two spellings of one directory here (a symlink, a bind mount): the same storage.
  if (a.find(':') != std::string::npos || b.find(':') != std::string::npos) return false;
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;
}

long long SociJobStore::as_integer(const soci::row& row, std::size_t i) {
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_integer:
      return row.get<int>(i);
    case soci::dt_long_long:
      return row.get<long long>(i);
    case soci::dt_unsigned_long_long:
      return static_cast<long long>(row.get<unsigned long long>(i));
    case soci::dt_double:
      return static_cast<long long>(row.get<double>(i));
    default:
      return std::stoll(row.get<std::string>(i));
  }
}

std::string SociJobStore::field_text(const soci::row& row, std::size_t i, ParamType type) {
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_double:
      return real_text(row.get<double>(i), type);
    case soci::dt_integer:
      return std::to_string(row.get<int>(i));
    case soci::dt_long_long:
      return std::to_string(row.get<long long>(i));
    case soci::dt_unsigned_long_long:
      return std::to_string(row.get<unsigned long long>(i));
    default:
      return row.get<std::string>(i);
  }
}

std::string SociJobStore::real_text(double v, ParamType type) {
  if (type == ParamType::Integer) return std::to_string(static_cast<long long>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Result<std::unique_ptr<JobStore>> open_job_store(DbManager& manager, bool create_schema) {
  auto store = std::make_unique<SociJobStore>(&manager);
  Status st = create_schema ? store->open_schema() : Status::Ok();
  if (!st.ok()) return st;
  st = store->check_server();
  if (!st.ok()) return st;
  // The job counters of a database opened to be used (not doctor's look): their triggers.
  if (create_schema && !store->counters_live()) st = store->ensure_counters();
  if (!st.ok()) return st;
  return std::unique_ptr<JobStore>(std::move(store));
}

Status expect_before_writing(DbManager& manager, const Expectation& expect) {
  SociJobStore look(&manager);
  return look.look_before_writing(expect);
}

Status SociJobStore::may_create_tables() {
  std::string schema, role;
  int may = 1;
  Status st = read("look at the schema's privileges", [&](Session& sql) {
    sql << "SELECT quote_ident(current_schema()), quote_ident(current_user), CASE WHEN "
           "has_schema_privilege(current_schema(), 'CREATE') THEN 1 ELSE 0 END",
        soci::into(schema), soci::into(role), soci::into(may);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (may != 0) return Status::Ok();
  return Status::Usage(
      db_->settings().describe() + ": " + role + " may not create tables in schema " + schema +
      ", where pdr_run would create its tables" +
      (schema == "public" ? " (PostgreSQL 15 and later let only the database's owner create there)" : "") +
      "; GRANT CREATE ON SCHEMA " + schema + " TO " + role + ", or put a schema " + role +
      " owns first in its search_path");
}

namespace {

std::set<std::string> species_set(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string s; in >> s;) out.insert(s);
  return out;
}

}  // namespace

Status SociJobStore::look_before_writing(const Expectation& e) {
  auto info = server_info();
  if (!info.ok()) return info.status();
  const std::string where = db_->settings().describe();
  if (info->schema_version == 0) {
    // The Python pdr_run's tables have no schema_version but a model_names table. An error of
    // the database itself (a file locked past its retries) is told as such.
    bool has_models = false;
    Status looked = read("look at the tables", [&](Session& sql) {
      has_models = table_exists(sql, "model_names");
      return foreign_tables(sql);
    });
    if (!looked.ok()) return looked;
    if (e.what == Expect::kNotSomeoneElses && !has_models && dialect_.pg) {
      // PostgreSQL 15 and later let only the database's owner create in its public schema: a
      // run would fail at its first CREATE TABLE ("permission denied for schema public").
      if (Status may = may_create_tables(); !may.ok()) return may;
    }
    if (e.what != Expect::kNotSomeoneElses && !has_models) {
      return Status::Usage("no pdr_run tables in " + where + "; nothing has run there yet" + e.register_hint);
    }
    if (!has_models) return Status::Ok();  // empty: nothing to find
  }
  if (e.what != Expect::kModel && e.model_path.empty()) return Status::Ok();
  auto id = find_model(e.model);
  if (!id.ok()) return id.status();
  if (!id->has_value()) {
    if (e.what != Expect::kModel) return Status::Ok();
    return Status::Usage("model '" + e.model + "' is not registered in " + where + e.register_hint);
  }
  if (!e.model_path.empty()) {
    // Its outputs elsewhere: refused before the Python pdr_run's tables are migrated, or a
    // directory made here (a worker too, which registers nothing).
    auto elsewhere = stored_elsewhere(e.model, e.model_path);
    if (!elsewhere.ok()) return elsewhere.status();
    if (!elsewhere->empty()) {
      return Status::Usage("model '" + e.model + "' already stores its outputs in " + elsewhere.value() + ", not " +
                           e.model_path + "; use that storage.base_dir or another --model-name");
    }
  }
  // The predecessor records no species; schemas before 4 have no duplicate_key to read past.
  if (e.species.empty() || info->schema_version < 4) return Status::Ok();
  // A worker runs the model's waiting jobs with its own species: every species one of them was
  // registered for must be among them (a job run with fewer would be recorded done without
  // that species' outputs). More are harmless: they add outputs.
  std::vector<std::string> registered;
  const long long model_id = **id;
  Status st = read("read the species of the model's jobs", [&](Session& sql) {
    registered.clear();
    soci::rowset<std::string> rs =
        (sql.prepare << "SELECT DISTINCT onion_species FROM pdr_model_jobs WHERE model_name_id = :m AND status = "
                        "'pending' AND duplicate_key = 0 AND onion_species IS NOT NULL",
         soci::use(model_id));
    for (const auto& r : rs) registered.push_back(r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  const std::set<std::string> own = species_set(e.species);
  std::vector<std::string> wanted;  // the union, in the order registered
  std::string lacking;
  for (const auto& r : registered) {
    std::istringstream in(r);
    for (std::string sp; in >> sp;) {
      if (std::find(wanted.begin(), wanted.end(), sp) != wanted.end()) continue;
      wanted.push_back(sp);
      if (own.count(sp) == 0) lacking += (lacking.empty() ? "" : " ") + sp;
    }
  }
  if (!lacking.empty()) {
    std::string all;
    for (const auto& sp : wanted) all += (all.empty() ? "" : " ") + sp;
    return Status::Usage("model '" + e.model + "' has jobs registered for the species " + all + "; this worker's are " +
                         e.species + ", without " + lacking +
                         " (model_parameters.species or --species): give it those species");
  }
  return Status::Ok();
}

}  // namespace pdr
