// The SOCI JobStore: shared helpers, the transaction wrapper's read-back, row conversions and
// open_job_store (soci_job_store.h says where each concern lives).
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
  return norm(a) == norm(b);
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

Status expect_before_writing(DbManager& manager, Expect expect, const std::string& model,
                             const std::string& register_hint) {
  SociJobStore look(&manager);
  return look.look_before_writing(expect, model, register_hint);
}

Status SociJobStore::look_before_writing(Expect expect, const std::string& model, const std::string& register_hint) {
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
    if (expect != Expect::kNotSomeoneElses && !has_models) {
      return Status::Usage("no pdr_run tables in " + where + "; nothing has run there yet" + register_hint);
    }
  }
  if (expect != Expect::kModel) return Status::Ok();
  auto id = find_model(model);
  if (!id.ok()) return id.status();
  if (!id->has_value()) return Status::Usage("model '" + model + "' is not registered in " + where + register_hint);
  return Status::Ok();
}

}  // namespace pdr
