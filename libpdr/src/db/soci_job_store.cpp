// The SOCI implementation of JobStore (SQLite now; the statements keep to SQL both backends
// understand). Every public method is one or more short transactions on a borrowed session;
// SOCI exceptions are caught here and come out as Status values.
#include <soci/soci.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <cctype>
#include <deque>
#include <map>
#include <set>
#include <sstream>
#include <functional>
#include <random>
#include <sys/stat.h>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "db/db_error.h"
#include "db/dialect.h"
#include "db/schema.h"
#include "pdr/db_manager.h"
#include "pdr/job_store.h"
#include "pdr/sha256.h"

namespace pdr {
namespace {

using Session = soci::session;

constexpr size_t kBatch = 5000;  // rows per bulk statement

std::string this_host() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

bool process_alive(long long pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

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

// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by '?'.
std::string valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = b[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (b[i + k] & 0xC0) == 0x80;
    if (ok && len > 1) {
      const unsigned cp = len == 2 ? ((c & 0x1Fu) << 6 | (b[i + 1] & 0x3Fu))
                          : len == 3 ? ((c & 0x0Fu) << 12 | (b[i + 1] & 0x3Fu) << 6 | (b[i + 2] & 0x3Fu))
                                     : ((c & 0x07u) << 18 | (b[i + 1] & 0x3Fu) << 12 | (b[i + 2] & 0x3Fu) << 6 |
                                        (b[i + 3] & 0x3Fu));
      ok = cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u) && cp <= 0x10FFFFu && (cp < 0xD800u || cp > 0xDFFFu);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// Job columns an output file kind may fill.
bool is_job_output_column(const std::string& kind) {
  static const std::unordered_set<std::string> columns = {
      "output_hdf4_file",      "output_textout_file",   "output_chemchk_file",
      "output_mcdrt_zip_file", "output_ctrl_ind_file",  "output_hdf5_file",
      "input_pdrnew_inp_file", "input_json_file",       "log_file"};
  return columns.count(kind) != 0;
}

// What identifies a failure for "failed the same way twice": the stage and what happened,
// without the program's last output.
std::string failure_signature(const std::string& error) {
  const auto cut = error.find(" (");
  return error.substr(0, cut);
}

class SociJobStore : public JobStore {
 public:
  explicit SociJobStore(DbManager* manager) : db_(manager), retry_(manager->settings().retry) {
    dialect_.mysql = manager->settings().type == "mysql";
    const auto& s = manager->settings();
    // A statement waits at most read_timeout or write_timeout; one second more is a call that
    // blocked (connects and pings are checked by the manager). A failed attempt stops at its
    // first failing statement, so one attempt is one bounded wait.
    slow_call_ = s.type == "mysql" ? std::max(s.read_timeout, s.write_timeout) + 1.0 : 0.0;
  }

  Status open_schema() {
    Status st = transaction("create or migrate the schema", [&](Session& sql) {
      migration_ = MigrationReport{};
      const bool versioned = table_exists(sql, "schema_version");
      if (versioned) {
        int version = 0;
        soci::indicator ind = soci::i_null;
        sql << "SELECT MAX(version) FROM schema_version", soci::into(version, ind);
        if (ind == soci::i_ok && version > kSchemaVersion) {
          return Status::Error(ErrorKind::kPermanent,
                               "the database has schema version " + std::to_string(version) +
                                   ", newer than this pdr_run understands (" + std::to_string(kSchemaVersion) +
                                   "); use a newer pdr_run");
        }
        // Current: nothing to create or migrate (a start of many workers, or a quick status).
        if (ind == soci::i_ok && version == kSchemaVersion && schema_complete(sql)) return Status::Ok();
      }
      migration_.from_predecessor = !versioned && table_exists(sql, "pdr_model_jobs");
      int stored = 0;
      if (versioned) {
        soci::indicator stored_ind = soci::i_null;
        sql << "SELECT MAX(version) FROM schema_version", soci::into(stored, stored_ind);
        if (stored_ind != soci::i_ok) stored = 0;
      }
      for (const auto& table : schema_tables()) {
        if (!table_exists(sql, table.name)) {
          sql << create_table_sql(table, dialect_);
          continue;
        }
        const auto existing = column_info(sql, table.name);
        std::vector<ColumnDef> relax;
        for (const auto& c : table.columns) {
          auto it = existing.find(lower(c.name));
          if (it == existing.end()) {
            add_column(sql, table.name, c);
            continue;
          }
          if (dialect_.mysql && it->second.type == "float") {
            sql << "ALTER TABLE " + table.name + " MODIFY COLUMN " + dialect_.quote(c.name) + " DOUBLE";
            ++migration_.columns_widened;
          }
          // NOT NULL of an earlier version on a column the predecessor's inserts leave out.
          if (it->second.not_null && c.type.find("NOT NULL") == std::string::npos) relax.push_back(c);
        }
        if (!relax.empty()) relax_columns(sql, table.name, relax);
      }
      for (const auto& index : obsolete_indexes()) drop_index(sql, index);
      if (stored < 4) {
        // Up to version 3 a job was unique by its parameter row; now by its name. Groups of one
        // name with more than one job (FLOAT rows of the predecessor) are classified again.
        unmark_name_clashes(sql);
        adopt_rows(sql, 0);
      }
      for (const auto& index : schema_indexes()) create_index(sql, index);
      bool views_missing = false;
      for (const auto& view : schema_views()) views_missing = views_missing || !view_exists(sql, view.name);
      if (stored < kSchemaVersion || views_missing) {
        for (const auto& view : schema_views()) {
          if (dialect_.mysql) {
            sql << "CREATE OR REPLACE VIEW " + view.name + " AS " + view.select;
          } else {
            sql << "DROP VIEW IF EXISTS " + view.name;
            sql << "CREATE VIEW " + view.name + " AS " + view.select;
          }
        }
      }
      if (stored < kSchemaVersion) sql << "INSERT INTO schema_version (version) VALUES (" << kSchemaVersion << ")";
      return Status::Ok();
    });
    for (const auto& key : migration_.unique_keys_skipped) {
      spdlog::warn("unique key on {} not created: the table holds duplicate rows from the predecessor", key);
    }
    if (st.ok() && migration_.from_predecessor) {
      spdlog::warn("opened a database of the Python pdr_run: {} columns added, {} FLOAT columns widened to DOUBLE, "
                   "{} duplicate parameter rows and {} duplicate jobs kept and marked; its rows and statuses are "
                   "otherwise unchanged",
                   migration_.columns_added, migration_.columns_widened, migration_.duplicate_parameters,
                   migration_.duplicate_jobs);
    }
    return st;
  }

  MigrationReport migration() const override { return migration_; }

  // The names of the job count triggers present in the database.
  std::set<std::string> present_triggers(Session& sql) {
    std::set<std::string> names;
    if (dialect_.mysql) {
      soci::rowset<std::string> rs = (sql.prepare << "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE "
                                                     "TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = "
                                                     "'pdr_model_jobs'");
      for (const auto& n : rs) names.insert(n);
    } else {
      soci::rowset<std::string> rs =
          (sql.prepare << "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'pdr_model_jobs'");
      for (const auto& n : rs) names.insert(n);
    }
    return names;
  }

  bool all_triggers(const std::set<std::string>& present) const {
    for (const auto& t : schema_triggers(dialect_)) {
      if (present.count(t.name) == 0) return false;
    }
    return true;
  }

  bool counters_live() const { return counters_live_; }

  // Creates the job count triggers when check_server found them missing and then counts the
  // rows once. A server that refuses CREATE TRIGGER (no TRIGGER privilege, or binary logging
  // without log_bin_trust_function_creators) leaves pdr_run counting rows for `status` and the
  // progress line: correct, only slower on big grids (doctor says so).
  Status ensure_counters() {
    bool created = false;
    Status st = transaction("create the job count triggers", [&](Session& sql) {
      counters_note_.clear();
      const auto present = present_triggers(sql);
      if (all_triggers(present)) {  // another process created them (and counted) meanwhile
        counters_live_ = true;
        return Status::Ok();
      }
      try {
        for (const auto& t : schema_triggers(dialect_)) {
          if (present.count(t.name) == 0) sql << t.sql;
        }
        created = true;
      } catch (const soci::soci_error& e) {
        Status refused = db_error_status(e, "CREATE TRIGGER refused");
        if (refused.kind() == ErrorKind::kTransient) throw;
        counters_note_ = refused.message();
        // All or none: a partial set would count some changes and miss others.
        for (const auto& t : schema_triggers(dialect_)) {
          if (present.count(t.name) == 0) sql << "DROP TRIGGER IF EXISTS " + t.name;
        }
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    if (!counters_note_.empty()) {
      spdlog::warn("job counters not kept by triggers ({}): status counts the rows instead", counters_note_);
      return Status::Ok();
    }
    if (!created) return Status::Ok();
    Status counted = recount();
    counters_live_ = counted.ok();
    return counted;
  }

  // Rewrites the counters from the rows (after the triggers were created, or to repair them).
  Status recount() {
    return transaction("count the jobs of every model", [&](Session& sql) {
      for (const auto& q : recount_sql(dialect_)) sql << q;
      return Status::Ok();
    });
  }

  Result<bool> recount_jobs() override {
    if (!counters_live_) return false;
    Status st = recount();
    if (!st.ok()) return st;
    return true;
  }

  // Jobs per state of a model (duplicate_key = 0): from the counters when the triggers keep them,
  // else by counting the rows.
  std::map<std::string, long long> read_counts(Session& sql, long long model_id, bool exact) {
    std::map<std::string, long long> counts;
    std::vector<std::string> states(64);
    std::vector<long long> n(64);
    if (exact || !counters_live_) {
      sql << "SELECT status, COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m AND duplicate_key = 0 "
             "GROUP BY status",
          soci::use(model_id), soci::into(states), soci::into(n);
    } else {
      sql << "SELECT status, CAST(SUM(n) AS SIGNED) FROM pdr_job_counts WHERE model_name_id = :m GROUP BY status",
          soci::use(model_id), soci::into(states), soci::into(n);
    }
    // Every word of a state counts as that state (the predecessor's failure words as failed).
    for (size_t i = 0; i < states.size(); ++i) {
      if (n[i] != 0) counts[to_string(state_of_word(states[i]))] += n[i];
    }
    for (auto it = counts.begin(); it != counts.end();) it = it->second == 0 ? counts.erase(it) : std::next(it);
    return counts;
  }

  // A model's id by name (the first, should the predecessor have left two rows of one name).
  static std::optional<long long> model_id_of(Session& sql, const std::string& model) {
    long long id = 0;
    sql << "SELECT id FROM model_names WHERE model_name = :n ORDER BY id LIMIT 1", soci::use(model),
        soci::into(id);
    if (!sql.got_data()) return std::nullopt;
    return id;
  }
  static Status no_model(const std::string& model) {
    return Status::Usage("no model named '" + model + "' in the database");
  }

  Result<CountCheck> check_counts(const std::string& model) override {
    CountCheck check;
    Status st = transaction("compare the job counters with the rows", [&](Session& sql) {
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

  // Reads the server's version and limits; on a server without SKIP LOCKED, claims fall back to
  // plain row locks (correct, but claimers of several processes wait for each other).
  Status check_server() {
    auto info = server_info();
    if (!info.ok()) return info.status();
    dialect_.skip_locked = info->skip_locked;
    counters_live_ = info->job_counters;
    if (!info->skip_locked) {
      spdlog::warn("database server {} cannot SELECT ... FOR UPDATE SKIP LOCKED (MariaDB >= 10.6 or MySQL >= 8.0 "
                   "can): claims of several processes wait for each other",
                   info->version);
    }
    return Status::Ok();
  }

  Result<ServerInfo> server_info() override {
    ServerInfo info;
    Status st = transaction("read the server version", [&](Session& sql) {
      info = ServerInfo{};
      if (dialect_.mysql) {
        sql << "SELECT VERSION()", soci::into(info.version);
        sql << "SELECT CAST(@@max_connections AS SIGNED), CAST(@@wait_timeout AS SIGNED)", soci::into(info.max_connections), soci::into(info.wait_timeout);
        info.skip_locked = supports_skip_locked(info.version);
      } else {
        std::string v;
        sql << "SELECT sqlite_version()", soci::into(v);
        info.version = "SQLite " + v;
      }
      info.job_counters = all_triggers(present_triggers(sql));
      info.schema_version = 0;
      if (table_exists(sql, "schema_version")) {
        soci::indicator ind = soci::i_null;
        sql << "SELECT MAX(version) FROM schema_version", soci::into(info.schema_version, ind);
        if (ind != soci::i_ok) info.schema_version = 0;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return info;
  }

  static bool supports_skip_locked(const std::string& version) {
    int major = 0, minor = 0;
    if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return true;
    if (version.find("MariaDB") != std::string::npos) return major > 10 || (major == 10 && minor >= 6);
    return major >= 8;
  }

  long long retry_delay_seconds(int attempts) const {
    double d = policy_.retry_delay;
    for (int i = 1; i < attempts && d < 86400; ++i) d *= 2;
    return static_cast<long long>(std::min(d, 86400.0) + 0.999);
  }

  Status register_grid(const Provenance& prov, const std::vector<GridPoint>& points, RegisterReport* report,
                       const RegisterOptions& options) override {
    *report = RegisterReport{};
    report->points = points.size();
    long long model_id = 0, user_id = 0, exe_id = 0, chem_id = 0;
    Status st = transaction("register the model", [&](Session& sql) {
      model_id = get_or_create(sql, "model_names", {"model_name"}, {prov.model_name},
                               {{"model_path", prov.model_path}});
      std::string stored_path;
      sql << "SELECT model_path FROM model_names WHERE id = :id", soci::use(model_id), soci::into(stored_path);
      if (!same_location(stored_path, prov.model_path)) {
        return Status::Usage("model '" + prov.model_name + "' already stores its outputs in " + stored_path +
                             ", not " + prov.model_path + "; use that storage.base_dir or another --model-name");
      }
      // Rows the predecessor added since pdr_run last registered this model.
      adopt_rows(sql, model_id);
      // A point is its job name (its output file names): a point with other physics under a name
      // the model already has would overwrite that point's outputs. Refuse before anything is
      // written. The values are compared when the hashes differ: the predecessor's FLOAT columns
      // keep 10^3.5 to seven digits.
      {
        std::unordered_map<std::string, std::pair<std::string, long long>> existing;
        std::vector<std::string> names(kBatch), hashes(kBatch);
        std::vector<long long> param_rows(kBatch);
        soci::statement q = (sql.prepare << "SELECT j.model_job_name, COALESCE(p.parameter_hash, ''), p.id FROM "
                                            "pdr_model_jobs j JOIN kosmatau_parameters p ON p.id = "
                                            "j.kosmatau_parameters_id WHERE j.model_name_id = :m AND j.duplicate_key = 0",
                             soci::use(model_id), soci::into(names), soci::into(hashes), soci::into(param_rows));
        q.execute();
        while (q.fetch()) {
          for (size_t i = 0; i < names.size(); ++i) existing.emplace(names[i], std::make_pair(hashes[i], param_rows[i]));
          names.resize(kBatch);
          hashes.resize(kBatch);
          param_rows.resize(kBatch);
        }
        // The rows to compare, read a few hundred at a time.
        std::vector<std::pair<const GridPoint*, long long>> compare;
        for (const auto& p : points) {
          auto it = existing.find(p.job_name);
          if (it != existing.end() && it->second.first != p.param_hash) compare.emplace_back(&p, it->second.second);
        }
        for (size_t begin = 0; begin < compare.size(); begin += 200) {
          const size_t end = std::min(compare.size(), begin + 200);
          std::vector<long long> ids;
          for (size_t i = begin; i < end; ++i) ids.push_back(compare[i].second);
          const auto rows = parameter_rows(sql, ids);
          for (size_t i = begin; i < end; ++i) {
            auto row = rows.find(compare[i].second);
            const std::string differs =
                first_difference(row == rows.end() ? ParameterValues{} : row->second, *compare[i].first);
            if (!differs.empty()) {
              return Status::Usage("model '" + prov.model_name + "' already has point " + compare[i].first->job_name +
                                   " with other parameters (" + differs + "); its outputs would be overwritten. "
                                   "Use another --model-name for changed physics");
            }
          }
        }
      }
      user_id = get_or_create(sql, "users", {"username", "email"}, {prov.username, prov.email}, {});
      exe_id = get_or_create(sql, "kosmatau_executables",
                             {"executable_file_name", "executable_full_path", "sha256_sum"},
                             {prov.exe_file_name, prov.exe_dir, prov.exe_sha256},
                             {{"code_revision", prov.exe_revision},
                              {"compilation_date", dialect_.mysql || prov.exe_compilation_date.size() != 19
                                                       ? prov.exe_compilation_date
                                                       // SQLAlchemy's text for a DATETIME in SQLite: the
                                                       // predecessor finds the row it looks for by it
                                                       : prov.exe_compilation_date + ".000000"}});
      json_template_id_ = json_template_row(sql, prov);
      chem_id = get_or_create(sql, "chemical_databases",
                              {"chem_rates_file_name", "chem_rates_full_path", "database_origin"},
                              {prov.chem_file_name, prov.chem_full_path, prov.chem_origin}, {});
      return Status::Ok();
    });
    if (!st.ok()) return st;
    report->model_id = model_id;

    // Parameter rows and job rows, in batches, each batch one transaction. A point whose job
    // the predecessor wrote with FLOAT values gets its exact row too: the job uses it if it
    // ever runs again.
    std::unordered_map<std::string, long long> param_ids;
    for (size_t begin = 0; begin < points.size(); begin += kBatch) {
      const size_t end = std::min(points.size(), begin + kBatch);
      st = transaction("register parameter rows", [&](Session& sql) {
        insert_parameters(sql, model_id, points, begin, end);
        return Status::Ok();
      });
      if (!st.ok()) return st;
    }
    st = transaction("read parameter ids", [&](Session& sql) {
      param_ids.clear();
      std::vector<long long> ids(kBatch);
      std::vector<std::string> hashes(kBatch);
      soci::statement q = (sql.prepare << "SELECT id, parameter_hash FROM kosmatau_parameters WHERE model_name_id = :m "
                                          "AND parameter_hash IS NOT NULL",
                           soci::use(model_id), soci::into(ids), soci::into(hashes));
      q.execute();
      while (q.fetch()) {
        for (size_t i = 0; i < ids.size(); ++i) param_ids[hashes[i]] = ids[i];
        ids.resize(kBatch);
        hashes.resize(kBatch);
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;

    size_t before = 0;
    st = count_jobs(model_id, &before);
    if (!st.ok()) return st;
    for (size_t begin = 0; begin < points.size(); begin += kBatch) {
      const size_t end = std::min(points.size(), begin + kBatch);
      st = transaction("register jobs", [&](Session& sql) {
        if (dialect_.mysql && plain_names(points, begin, end)) {
          insert_jobs_multirow(sql, points, begin, end, param_ids, model_id, user_id, exe_id, chem_id, prov);
          return Status::Ok();
        }
        std::vector<std::string> names;
        std::vector<long long> pids, mids, uids, eids, cids;
        std::vector<std::string> species, outdirs;
        for (size_t i = begin; i < end; ++i) {
          names.push_back(points[i].job_name);
          pids.push_back(param_ids.at(points[i].param_hash));
          mids.push_back(model_id);
          uids.push_back(user_id);
          eids.push_back(exe_id);
          cids.push_back(chem_id);
          species.push_back(prov.onion_species);
          outdirs.push_back(prov.model_path);
        }
        sql << std::string(dialect_.insert_ignore()) + " INTO pdr_model_jobs (model_name_id, model_job_name, user_id, "
               "kosmatau_parameters_id, kosmatau_executable_id, chemical_database_id, onion_species, "
               "output_directory, pending, active, status, attempts, duplicate_key) "
               "VALUES (:m, :n, :u, :p, :e, :c, :s, :o, 1, 0, 'pending', 0, 0)",
            soci::use(mids), soci::use(names), soci::use(uids), soci::use(pids), soci::use(eids),
            soci::use(cids), soci::use(species), soci::use(outdirs);
        return Status::Ok();
      });
      if (!st.ok()) return st;
    }
    size_t after = 0;
    st = count_jobs(model_id, &after);
    if (!st.ok()) return st;
    report->created = after - before;

    return reconcile(model_id, points, param_ids, report, options);
  }

  // The json_templates row of the template this process renders (0 when there is none).
  long long json_template_row(Session& sql, const Provenance& prov) {
    if (prov.json_template_sha256.empty()) return 0;
    const std::string name = prov.json_template_path.substr(prov.json_template_path.find_last_of('/') + 1);
    return get_or_create(sql, "json_templates", {"sha256_sum"}, {prov.json_template_sha256},
                         {{"name", name}, {"path", prov.json_template_path}});
  }

  Status use_json_template(const Provenance& prov) override {
    long long id = 0;
    Status st = transaction("record the JSON template", [&](Session& sql) {
      id = json_template_row(sql, prov);
      return Status::Ok();
    });
    if (st.ok()) json_template_id_ = id;
    return st;
  }

  Result<std::vector<ClaimedJob>> claim_jobs(long long model_id, int max, const Owner& owner) override {
    std::vector<ClaimedJob> claimed;
    Status st = transaction("claim jobs", [&](Session& sql) {
      claimed.clear();
      // One spare slot: SOCI's SQLite backend fetches nothing into vectors of size 1.
      const size_t slots = static_cast<size_t>(max) + 1;
      std::vector<long long> ids(slots), params(slots);
      std::vector<std::string> names(slots);
      std::vector<int> attempts(slots);
      std::vector<std::string> stages(slots);
      std::vector<long long> epochs(slots);
      sql << "SELECT id, model_job_name, kosmatau_parameters_id, attempts, run_stage, lease_epoch FROM pdr_model_jobs" +
                 std::string(dialect_.claim_index()) +
                 " WHERE model_name_id = :m AND status = 'pending' AND duplicate_key = 0 AND (retry_at IS NULL OR retry_at <= " +
                 dialect_.now() + ") ORDER BY id LIMIT :n" + std::string(dialect_.claim_lock()),
          soci::use(model_id), soci::use(max), soci::into(ids), soci::into(names), soci::into(params),
          soci::into(attempts), soci::into(stages), soci::into(epochs);
      for (size_t i = 0; i < ids.size(); ++i) {
        StatusChange c;
        c.job_id = ids[i];
        c.expect = JobState::Pending;
        c.next = JobState::Running;
        c.claimant = &owner;
        if (apply_change(sql, c)) {
          claimed.push_back(
              ClaimedJob{ids[i], names[i], params[i], attempts[i] + 1, stages[i] == "onion", epochs[i] + 1});
        }
      }
      return Status::Ok();
    }, [&](Session& sql) {
      // A claim lands whole or not at all: look at one of its rows.
      if (claimed.empty()) return true;
      return job_is(sql, claimed.front().id, JobState::Running, owner.token);
    });
    if (!st.ok()) return st;
    return claimed;
  }

  Result<long long> pending_count(long long model_id) override {
    long long n = 0;
    Status st = transaction("count pending jobs", [&](Session& sql) {
      // Running jobs whose owner missed two heartbeats go back to pending when their lease
      // expires: count them too.
      sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m AND duplicate_key = 0 AND (status = 'pending' OR "
             "(status = 'running' AND token IS NOT NULL AND (lease_expires_at < " + dialect_.now() + " OR heartbeat_at < " +
                 dialect_.now_plus(-(2 * policy_.heartbeat_seconds + 1)) + ")))",
          soci::use(model_id), soci::into(n);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return n;
  }

  Result<Backlog> backlog(long long model_id) override {
    Backlog left;
    Status st = transaction("count what is left to run", [&](Session& sql) {
      // A live owner renews every heartbeat: a running job not renewed for a heartbeat and two
      // seconds may have lost its owner, and goes back to pending once its lease expires.
      sql << "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), "
             "COALESCE(SUM(CASE WHEN status = 'running' AND token IS NOT NULL AND (lease_expires_at IS NULL OR "
             "lease_expires_at < " +
                 dialect_.now() + " OR heartbeat_at IS NULL OR heartbeat_at < " +
                 dialect_.now_plus(-(policy_.heartbeat_seconds + 2)) + ") THEN 1 ELSE 0 END), 0), "
             "COALESCE(SUM(CASE WHEN status = 'running' AND token IS NOT NULL THEN 1 ELSE 0 END), 0) "
             "FROM pdr_model_jobs WHERE model_name_id = :m AND duplicate_key = 0 AND status IN ('pending', 'running')",
          soci::use(model_id), soci::into(left.pending), soci::into(left.unproven), soci::into(left.running);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return left;
  }

  Result<ParameterValues> load_parameters(long long params_id) override {
    ParameterValues values;
    Status st = transaction("load parameter row " + std::to_string(params_id), [&](Session& sql) {
      values.clear();
      soci::rowset<soci::row> rs = (sql.prepare << "SELECT * FROM kosmatau_parameters WHERE id = :id",
                                    soci::use(params_id));
      bool found = false;
      for (const auto& row : rs) {
        found = true;
        for (std::size_t i = 0; i < row.size(); ++i) {
          const auto& props = row.get_properties(i);
          const ParamSpec* spec = find_parameter(props.get_name());
          if (spec == nullptr) continue;
          if (row.get_indicator(i) == soci::i_null) {
            values[spec->name] = "";
            continue;
          }
          values[spec->name] = field_text(row, i, spec->type);
        }
      }
      if (!found) return Status::Error(ErrorKind::kPermanent, "parameter row " + std::to_string(params_id) + " is missing");
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return values;
  }

  Result<bool> update_job_status(const StatusChange& c) override {
    bool applied = false;
    Status st = transaction("set job " + std::to_string(c.job_id) + " to " + to_string(c.next), [&](Session& sql) {
      applied = apply_change(sql, c);
      if (!applied && c.next == JobState::Finished && c.expect == JobState::Running && c.epoch > 0) {
        // A replayed finish whose first write landed (its COMMIT answer was lost): only the
        // attempt that held this lease epoch can have finished the job under it.
        applied = job_is(sql, c.job_id, JobState::Finished, "", c.epoch);
      }
      return Status::Ok();
    }, [&](Session& sql) {
      // The same owner and lease epoch as the write: another attempt's outcome is not ours.
      applied = job_is(sql, c.job_id, c.next, c.next == JobState::Running && c.claimant ? c.claimant->token : "",
                       c.next == JobState::Running ? 0 : c.epoch);
      return applied;
    });
    if (!st.ok()) return st;
    return applied;
  }

  Result<long long> release_jobs(const Owner& owner) override {
    long long n = 0;
    Status st = transaction("release running jobs", [&](Session& sql) {
      n = 0;
      std::vector<long long> ids(kBatch);
      soci::statement q = (sql.prepare << "SELECT id FROM pdr_model_jobs WHERE status = 'running' AND token = :t",
                           soci::use(owner.token), soci::into(ids));
      q.execute();
      std::vector<long long> all;
      while (q.fetch()) {
        all.insert(all.end(), ids.begin(), ids.end());
        ids.resize(kBatch);
      }
      for (long long id : all) {
        StatusChange c;
        c.job_id = id;
        c.expect = JobState::Running;
        c.next = JobState::Pending;
        c.token = owner.token;
        c.error = "interrupted; put back to pending";
        n += apply_change(sql, c) ? 1 : 0;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return n;
  }

  void set_policy(const JobPolicy& policy) override { policy_ = policy; }

  Result<RecordedOutcome> record_outcome(const StatusChange& change) override {
    if (change.next != JobState::Failed || !change.retry) {
      auto applied = update_job_status(change);
      if (!applied.ok()) return applied.status();
      return RecordedOutcome{applied.value(), change.next, change.error};
    }
    RecordedOutcome out;
    Status st = transaction("record the failure of job " + std::to_string(change.job_id), [&](Session& sql) {
      out = RecordedOutcome{};
      int attempts = 0;
      std::string last_error;
      soci::indicator last_ind = soci::i_null;
      sql << "SELECT attempts, last_error FROM pdr_model_jobs WHERE id = :id", soci::use(change.job_id),
          soci::into(attempts), soci::into(last_error, last_ind);
      if (!sql.got_data()) return Status::Ok();
      if (last_ind != soci::i_ok) last_error.clear();
      StatusChange c = change;
      const bool repeated = !last_error.empty() && failure_signature(last_error) == failure_signature(change.error);
      if (repeated) {
        c.error = change.error + " (failed the same way twice; not tried again)";
      } else if (attempts >= policy_.max_attempts) {
        c.error = change.error + " (attempt " + std::to_string(attempts) + " of " +
                  std::to_string(policy_.max_attempts) + ")";
      } else {
        const long long delay = retry_delay_seconds(attempts);
        c.next = JobState::Pending;
        c.error = "attempt " + std::to_string(attempts) + " of " + std::to_string(policy_.max_attempts) +
                  " failed: " + change.error + "; tried again in " + std::to_string(delay) + " s";
      }
      out.applied = apply_change(sql, c);
      out.state = c.next;
      out.error = c.error;
      if (out.applied && c.next == JobState::Pending) {
        sql << "UPDATE pdr_model_jobs SET last_error = :e, retry_at = " +
                   dialect_.now_plus(retry_delay_seconds(attempts)) + " WHERE id = :id",
            soci::use(change.error), soci::use(change.job_id);
      }
      return Status::Ok();
    }, [&](Session& sql) {
      return out.applied && job_is(sql, change.job_id, out.state, "", change.epoch);
    });
    if (!st.ok()) return st;
    return out;
  }

  Result<std::map<long long, long long>> renew_leases(const Owner& owner) override {
    std::map<long long, long long> held;
    Status st = transaction("renew leases", [&](Session& sql) {
      held.clear();
      sql << "UPDATE pdr_model_jobs SET lease_expires_at = " + dialect_.now_plus(policy_.lease_seconds) +
                 ", heartbeat_at = " + dialect_.now() + " WHERE token = :t AND status = 'running'",
          soci::use(owner.token);
      sql << "UPDATE pdr_runs SET updated_at = CURRENT_TIMESTAMP WHERE token = :t", soci::use(owner.token);
      std::vector<long long> ids(kBatch), epochs(kBatch);
      soci::statement q = (sql.prepare << "SELECT id, lease_epoch FROM pdr_model_jobs WHERE token = :t AND "
                                          "status = 'running'",
                           soci::use(owner.token), soci::into(ids), soci::into(epochs));
      q.execute();
      while (q.fetch()) {
        for (size_t i = 0; i < ids.size(); ++i) held[ids[i]] = epochs[i];
        ids.resize(kBatch);
        epochs.resize(kBatch);
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return held;
  }

  Result<bool> renew_lease(long long job_id, long long epoch, const Owner& owner) override {
    bool held = false;
    Status st = transaction("renew the lease of job " + std::to_string(job_id), [&](Session& sql) {
      soci::statement up = (sql.prepare << "UPDATE pdr_model_jobs SET lease_expires_at = " +
                                               dialect_.now_plus(policy_.lease_seconds) + ", heartbeat_at = " +
                                               dialect_.now() +
                                               " WHERE id = :id AND status = 'running' AND token = :t AND "
                                               "lease_epoch = :e",
                            soci::use(job_id), soci::use(owner.token), soci::use(epoch));
      up.execute(true);
      // Not the affected-row count: MySQL counts an UPDATE that changes nothing (renewed
      // twice within a second) as 0 rows.
      long long n = 0;
      sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE id = :id AND status = 'running' AND token = :t AND "
             "lease_epoch = :e",
          soci::use(job_id), soci::use(owner.token), soci::use(epoch), soci::into(n);
      held = n == 1;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return held;
  }

  Result<long long> reap_expired() override {
    long long n = 0;
    Status st = transaction("return expired leases", [&](Session& sql) {
      n = 0;
      struct Expired {
        long long id, epoch, pid;
        int attempts;
        std::string host;
      };
      std::vector<Expired> expired;
      soci::rowset<soci::row> rs =
          (sql.prepare << "SELECT id, lease_epoch, COALESCE(pid, 0), attempts, COALESCE(host, '') FROM pdr_model_jobs "
                          "WHERE status = 'running' AND lease_expires_at < " + dialect_.now() + " LIMIT 1000" +
                              std::string(dialect_.claim_lock()));
      for (const auto& row : rs) {
        expired.push_back(Expired{as_integer(row, 0), as_integer(row, 1), as_integer(row, 2), static_cast<int>(as_integer(row, 3)),
                                  row.get<std::string>(4)});
      }
      for (const auto& e : expired) {
        StatusChange c;
        c.job_id = e.id;
        c.expect = JobState::Running;
        c.epoch = e.epoch;
        const std::string what = "lease expired: owner " + e.host + " pid " + std::to_string(e.pid) +
                                 " stopped renewing it";
        if (e.attempts >= policy_.max_attempts) {
          c.next = JobState::Failed;
          c.error = what + " (attempt " + std::to_string(e.attempts) + " of " + std::to_string(policy_.max_attempts) + ")";
        } else {
          c.next = JobState::Pending;
          c.error = what + "; back to pending";
        }
        if (apply_change(sql, c)) {
          ++n;
          if (c.next == JobState::Pending) {
            // Like a failure, it waits run.retry_delay: a job that takes its host down with it
            // does not go round the nodes at full speed.
            sql << "UPDATE pdr_model_jobs SET last_error = :e, retry_at = " +
                       dialect_.now_plus(retry_delay_seconds(e.attempts)) + " WHERE id = :id",
                soci::use(what), soci::use(e.id);
          }
        }
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return n;
  }

  Result<long long> retry_failed(const std::string& model, bool ownerless) override {
    long long n = 0;
    Status st = transaction("queue failed jobs again", [&](Session& sql) {
      n = 0;
      std::vector<long long> ids(kBatch);
      std::vector<std::string> states(kBatch);
      std::vector<long long> all;
      std::vector<std::string> all_states;
      // Failed and cancelled jobs, and on request jobs the predecessor left running (it records
      // no owner).
      soci::statement q = (sql.prepare << "SELECT j.id, j.status FROM pdr_model_jobs j JOIN model_names m ON "
                                          "m.id = j.model_name_id WHERE m.model_name = :m AND (" +
                                              status_sql(JobState::Failed, "j.status") + " OR j.status = 'cancelled'" +
                                              std::string(ownerless ? " OR (j.status = 'running' AND j.token IS NULL)" : "") +
                                              ") AND j.duplicate_key = 0",
                           soci::use(model), soci::into(ids), soci::into(states));
      q.execute();
      while (q.fetch()) {
        all.insert(all.end(), ids.begin(), ids.end());
        all_states.insert(all_states.end(), states.begin(), states.end());
        ids.resize(kBatch);
        states.resize(kBatch);
      }
      for (size_t i = 0; i < all.size(); ++i) {
        const JobState state = state_of_word(all_states[i]);
        if (state == JobState::Running) {
          soci::statement up = (sql.prepare << "UPDATE pdr_model_jobs SET status = 'pending', pending = 1, active = 0, "
                                               "time_updated = CURRENT_TIMESTAMP, error = 'left running without an "
                                               "owner; queued again by pdr_run retry' WHERE id = :id AND status = "
                                               "'running' AND token IS NULL",
                                soci::use(all[i]));
          up.execute(true);
          n += up.get_affected_rows() == 1 ? 1 : 0;
          continue;
        }
        StatusChange c;
        c.job_id = all[i];
        c.expect = state;
        c.next = JobState::Pending;
        c.error = "queued again by pdr_run retry";
        n += apply_change(sql, c) ? 1 : 0;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return n;
  }

  Result<std::map<std::string, long long>> state_counts(long long model_id) override {
    std::map<std::string, long long> counts;
    Status st = transaction("count jobs per state", [&](Session& sql) {
      counts = read_counts(sql, model_id, false);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return counts;
  }

  Result<GridMap> grid_map(const std::string& model, const std::string& row_axis,
                           const std::string& column_axis) override {
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
    GridMap map{row_axis, column_axis, {}, {}, {}};
    Status st = transaction("read the grid map", [&](Session& sql) {
      map.cells.clear();
      const auto found = model_id_of(sql, model);
      if (!found) return no_model(model);
      const long long model_id = *found;
      soci::rowset<soci::row> rs =
          (sql.prepare << "SELECT p." + rc + ", p." + cc + ", j.status, COUNT(*) FROM pdr_model_jobs j JOIN "
                          "kosmatau_parameters p ON p.id = j.kosmatau_parameters_id WHERE j.model_name_id = :m AND "
                          "j.duplicate_key = 0 GROUP BY p." + rc + ", p." + cc + ", j.status",
           soci::use(model_id));
      std::map<double, std::string> rows, columns;
      for (const auto& row : rs) {
        const double a = as_double(row, 0), b = as_double(row, 1);
        const std::string ra = grid_unit_text(row_axis, a), cb = grid_unit_text(column_axis, b);
        rows[a] = ra;
        columns[b] = cb;
        map.cells[{ra, cb}][to_string(state_of_word(row.get<std::string>(2)))] += as_integer(row, 3);
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

  static double as_double(const soci::row& row, std::size_t i) {
    if (row.get_indicator(i) == soci::i_null) return 0;
    switch (row.get_properties(i).get_data_type()) {
      case soci::dt_double: return row.get<double>(i);
      case soci::dt_string: return std::stod(row.get<std::string>(i));
      default: return static_cast<double>(as_integer(row, i));
    }
  }

  // A physical value in the grid's units: 10*log10 for dens, chi and mass, percent for metal.
  static std::string grid_unit_text(const std::string& axis, double v) {
    char buf[32];
    if (axis == "metal") {
      std::snprintf(buf, sizeof buf, "%g", v * 100);
    } else {
      std::snprintf(buf, sizeof buf, "%g", v > 0 ? std::round(10 * std::log10(v) * 1000) / 1000 : 0.0);
    }
    return buf;
  }

  Result<std::optional<long long>> find_model(const std::string& model) override {
    std::optional<long long> id;
    Status st = transaction("find model " + model, [&](Session& sql) {
      id = model_id_of(sql, model);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return id;
  }

  Result<StatusReport> status_report(const std::string& model) override {
    StatusReport report;
    Status st = transaction("read status", [&](Session& sql) {
      report = StatusReport{};
      report.model = model;
      for (JobState s : {JobState::Pending, JobState::Running, JobState::Finished, JobState::Failed,
                         JobState::Skipped, JobState::Cancelled}) {
        report.by_status[to_string(s)] = 0;
      }
      const auto found = model_id_of(sql, model);
      if (!found) return no_model(model);
      const long long model_id = *found;
      for (const auto& kv : read_counts(sql, model_id, false)) {
        report.by_status[kv.first] = kv.second;
        report.total += kv.second;
      }
      auto summaries = [&](JobState state, std::vector<JobSummary>& out) {
        soci::rowset<soci::row> rs =
            (sql.prepare << "SELECT model_job_name, COALESCE(host, ''), COALESCE(pid, 0), "
                            "COALESCE(time_of_start, ''), exit_code, COALESCE(error, ''), attempts, "
                            "COALESCE(" + dialect_.seconds_since("time_of_start") + ", -1), COALESCE(" +
                                dialect_.seconds_since("heartbeat_at") + ", -1) FROM pdr_model_jobs "
                            "WHERE model_name_id = :m AND duplicate_key = 0 AND " + status_sql(state) +
                                " ORDER BY id LIMIT 100",
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
          out.push_back(std::move(j));
        }
      };
      summaries(JobState::Running, report.running);
      summaries(JobState::Failed, report.failed);
      soci::rowset<soci::row> runs =
          (sql.prepare << "SELECT COALESCE(host, ''), COALESCE(pid, 0), COALESCE(workers, 0), state, "
                          "COALESCE(started_at, ''), COALESCE(updated_at, ''), pool_open, pool_in_use, pool_idle, "
                          "pool_created, pool_validated, pool_replaced, pool_failed FROM pdr_runs "
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
        report.runs.push_back(r);
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return report;
  }

  Result<std::map<long long, std::vector<StoredFile>>> finished_outputs(const std::string& model) override {
    std::map<long long, std::vector<StoredFile>> out;
    Status st = transaction("read the outputs of model " + model, [&](Session& sql) {
      out.clear();
      const auto found = model_id_of(sql, model);
      if (!found) return no_model(model);
      const long long model_id = *found;
      std::vector<long long> ids(kBatch), sizes(kBatch);
      std::vector<std::string> kinds(kBatch), paths(kBatch), sums(kBatch);
      soci::statement q = (sql.prepare << "SELECT f.job_id, f.kind, f.path, f.sha256_sum, f.file_size FROM job_files f "
                                          "JOIN pdr_model_jobs j ON j.id = f.job_id WHERE j.model_name_id = :m AND "
                                          "j.duplicate_key = 0 AND j.status = 'finished' ORDER BY f.job_id, f.id",
                           soci::use(model_id), soci::into(ids), soci::into(kinds), soci::into(paths), soci::into(sums),
                           soci::into(sizes));
      q.execute();
      while (q.fetch()) {
        for (size_t i = 0; i < ids.size(); ++i) out[ids[i]].push_back(StoredFile{kinds[i], paths[i], sums[i], sizes[i], "", ""});
        for (auto* v : {&ids, &sizes}) v->resize(kBatch);
        for (auto* v : {&kinds, &paths, &sums}) v->resize(kBatch);
      }
      // Jobs the predecessor finished: the HDF files of their hdf_files row, whose size and sha256
      // it recorded (not its "remote_file_no_local_hash" rows).
      soci::rowset<soci::row> hdf =
          (sql.prepare << "SELECT h.job_id, h.full_path, h.sha256_sum, h.file_size, h.full_path_hdf5_s, "
                          "h.sha256_sum_hdf5_s, h.file_size_hdf5_s, h.full_path_hdf5_c, h.sha256_sum_hdf5_c, "
                          "h.file_size_hdf5_c FROM hdf_files h JOIN pdr_model_jobs j ON j.id = h.job_id WHERE "
                          "j.model_name_id = :m AND j.duplicate_key = 0 AND j.status = 'finished' AND NOT EXISTS "
                          "(SELECT 1 FROM job_files f WHERE f.job_id = j.id) ORDER BY h.id",
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
    return out;
  }

  Status record_run(long long model_id, const Owner& owner, int workers, const std::string& state,
                    const PoolStats& pool) override {
    return transaction("record run " + owner.token, [&](Session& sql) {
      const long long pid = owner.pid, w = workers, open = pool.size, in_use = pool.in_use, idle = pool.idle;
      sql << std::string(dialect_.insert_ignore()) +
                 " INTO pdr_runs (token, model_name_id, host, pid, workers) VALUES (:t, :m, :h, :p, :w)",
          soci::use(owner.token), soci::use(model_id), soci::use(owner.host), soci::use(pid), soci::use(w);
      sql << "UPDATE pdr_runs SET state = :s, updated_at = CURRENT_TIMESTAMP, pool_open = :o, pool_in_use = :u, "
             "pool_idle = :i, pool_created = :c, pool_validated = :v, pool_replaced = :r, pool_failed = :f "
             "WHERE token = :t",
          soci::use(state), soci::use(open), soci::use(in_use), soci::use(idle), soci::use(pool.created),
          soci::use(pool.validated), soci::use(pool.replaced), soci::use(pool.failed), soci::use(owner.token);
      return Status::Ok();
    });
  }

  Result<std::vector<std::string>> model_names() override {
    std::vector<std::string> names;
    Status st = transaction("list models", [&](Session& sql) {
      names.clear();
      soci::rowset<std::string> rs = (sql.prepare << "SELECT model_name FROM model_names ORDER BY model_name");
      for (const auto& n : rs) names.push_back(n);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return names;
  }

 private:
  // Whether a transaction whose COMMIT outcome is unknown did land; read on a fresh session.
  using LandedCheck = std::function<bool(Session&)>;

  // Runs `body` in one write transaction and commits. Transient errors (classified by code)
  // roll back and retry the whole body with capped exponential backoff and jitter, bounded by
  // database.retry.max_attempts and database.retry.deadline; each retry is logged once with its
  // attempt number and error code. A connection lost during COMMIT leaves the outcome unknown:
  // `landed` reads the row back (on a new connection) before anything is replayed; without it
  // the body must be harmless to replay (all bodies here are conditional or INSERT IGNORE).
  template <class Body>
  Status transaction(const std::string& what, Body&& body, const LandedCheck& landed = nullptr) {
    using clock = std::chrono::steady_clock;
    thread_local std::mt19937 rng(std::random_device{}());
    const auto start = clock::now();
    const auto deadline = start + std::chrono::duration_cast<clock::duration>(
                                      std::chrono::duration<double>(retry_.deadline));
    double delay = retry_.initial_delay;
    Status last;
    for (int attempt = 1;; ++attempt) {
      auto attempt_start = clock::now();
      bool committing = false;
      {
        auto lease = db_->borrow(what);  // its connects and pings are bounded and checked there
        attempt_start = clock::now();
        if (!lease.ok()) {
          last = lease.status();
        } else {
          Session& sql = lease->session();
          try {
            sql << dialect_.begin();
            Status st = body(sql);
            if (!st.ok()) {
              sql << "ROLLBACK";
              return st;
            }
            committing = true;
            sql << "COMMIT";
            warn_if_blocked(what, attempt_start, slow_call_);
            return Status::Ok();
          } catch (const std::exception& e) {
            last = db_error_status(e, "database error while trying to " + what);
            if (is_connection_lost(last.code())) {
              lease->mark_broken();
            } else {
              try {
                sql << "ROLLBACK";
              } catch (...) {
                lease->mark_broken();
              }
            }
          }
        }
      }
      warn_if_blocked(what, attempt_start, slow_call_);
      if (committing && is_connection_lost(last.code())) {
        spdlog::warn("database: connection lost during COMMIT of '{}' (error {}): outcome unknown, reading it back",
                     what, last.code());
        if (landed) {
          auto check = read_back(landed, deadline);
          if (!check.ok()) return check.status();
          if (check.value()) return Status::Ok();
        }
      }
      if (last.kind() != ErrorKind::kTransient) return last;
      const auto wait = std::chrono::duration<double>(
          std::min(delay, retry_.max_delay) * std::uniform_real_distribution<double>(0.5, 1.0)(rng));
      if (attempt >= retry_.max_attempts || clock::now() + wait > deadline) {
        const double spent = std::chrono::duration<double>(clock::now() - start).count();
        return Status::Error(ErrorKind::kTransient,
                             "database unusable: gave up after " + std::to_string(attempt) + " attempts in " +
                                 std::to_string(static_cast<int>(spent + 0.5)) + " s: " + last.message(),
                             last.code());
      }
      spdlog::warn("database: '{}' failed (attempt {}, error {}); retrying in {} ms", what, attempt, last.code(),
                   static_cast<long long>(wait.count() * 1000));
      std::this_thread::sleep_for(wait);
      delay *= 2;
    }
  }

  // Runs a read-only check on fresh sessions until it answers or the deadline passes.
  Result<bool> read_back(const LandedCheck& landed, std::chrono::steady_clock::time_point deadline) {
    double delay = retry_.initial_delay;
    for (;;) {
      Status last;
      {
        auto lease = db_->borrow("read back an unknown outcome");
        if (lease.ok()) {
          try {
            return landed(lease->session());
          } catch (const std::exception& e) {
            last = db_error_status(e, "database error while reading back an unknown outcome");
            if (is_connection_lost(last.code())) lease->mark_broken();
          }
        } else {
          last = lease.status();
        }
      }
      if (last.kind() != ErrorKind::kTransient) return last;
      if (std::chrono::steady_clock::now() + std::chrono::duration<double>(delay) > deadline) {
        return Status::Error(ErrorKind::kOutcomeUnknown, "database unusable; outcome unknown: " + last.message(),
                             last.code());
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      delay = std::min(delay * 2, retry_.max_delay);
    }
  }

  static std::string lower(std::string v) {
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
  }

  bool table_exists(Session& sql, const std::string& table) {
    long long n = 0;
    if (dialect_.mysql) {
      sql << "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
          soci::use(table), soci::into(n);
    } else {
      sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :t", soci::use(table), soci::into(n);
    }
    return n > 0;
  }

  bool view_exists(Session& sql, const std::string& view) {
    long long n = 0;
    if (dialect_.mysql) {
      sql << "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
          soci::use(view), soci::into(n);
    } else {
      sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND name = :t", soci::use(view), soci::into(n);
    }
    return n > 0;
  }

  struct ColumnInfo {
    std::string type;  // lower case
    bool not_null = false;
  };
  // Lower-case column name -> its data type and nullability.
  std::map<std::string, ColumnInfo> column_info(Session& sql, const std::string& table) {
    std::map<std::string, ColumnInfo> out;
    if (dialect_.mysql) {
      soci::rowset<soci::row> rs =
          (sql.prepare << "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                          "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
           soci::use(table));
      for (const auto& row : rs) {
        out[lower(row.get<std::string>(0))] = ColumnInfo{lower(row.get<std::string>(1)), row.get<std::string>(2) == "NO"};
      }
    } else {
      soci::rowset<soci::row> rs = (sql.prepare << "PRAGMA table_info(" + table + ")");
      for (const auto& row : rs) {
        out[lower(row.get<std::string>(1))] = ColumnInfo{lower(row.get<std::string>(2)), as_integer(row, 3) != 0};
      }
    }
    return out;
  }

  // Gives columns their current definition where an earlier one had NOT NULL. MySQL changes
  // the column in place. SQLite cannot; dropping NOT NULL and changing a default do not touch
  // the stored rows, and SQLite documents editing the table's definition text for exactly that
  // (PRAGMA writable_schema, then a new schema_version): no row is copied, and the table keeps
  // its foreign keys, indexes, triggers and the views that name it.
  void relax_columns(Session& sql, const std::string& table, const std::vector<ColumnDef>& columns) {
    if (dialect_.mysql) {
      for (const auto& c : columns) {
        sql << "ALTER TABLE " + table + " MODIFY COLUMN " + dialect_.quote(c.name) + " " + c.type;
      }
      return;
    }
    std::string ddl;
    sql << "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t", soci::use(table), soci::into(ddl);
    const std::string before = ddl;
    for (const auto& c : columns) {
      // pdr_run wrote these columns itself (CREATE TABLE or ADD COLUMN), always double-quoted.
      const std::string quoted = dialect_.quote(c.name);
      const size_t at = ddl.find(quoted);
      if (at == std::string::npos) {
        throw std::runtime_error("cannot find column " + quoted + " in the definition of table " + table);
      }
      size_t end = at + quoted.size();
      for (int depth = 0; end < ddl.size(); ++end) {
        const char ch = ddl[end];
        if (ch == '(') ++depth;
        if (ch == ')' && depth-- == 0) break;
        if (ch == ',' && depth == 0) break;
      }
      ddl.replace(at, end - at, quoted + " " + c.type);
    }
    if (ddl == before) return;
    int version = 0;
    sql << "PRAGMA schema_version", soci::into(version);
    sql << "PRAGMA writable_schema = ON";
    try {
      sql << "UPDATE sqlite_master SET sql = :d WHERE type = 'table' AND name = :t", soci::use(ddl), soci::use(table);
      sql << "PRAGMA schema_version = " + std::to_string(version + 1);
    } catch (...) {
      sql << "PRAGMA writable_schema = OFF";
      throw;
    }
    sql << "PRAGMA writable_schema = OFF";
  }

  void drop_index(Session& sql, const IndexDef& index) {
    if (!index_exists(sql, index)) return;
    sql << (dialect_.mysql ? "DROP INDEX " + index.name + " ON " + index.table : "DROP INDEX IF EXISTS " + index.name);
  }

  void add_column(Session& sql, const std::string& table, const ColumnDef& c) {
    try {
      sql << "ALTER TABLE " + table + " ADD COLUMN " + dialect_.quote(c.name) + " " + c.added_type();
      ++migration_.columns_added;
    } catch (const soci::soci_error& e) {
      // Another process added it first (MySQL DDL is not transactional): that is the goal.
      if (db_error_status(e, "").code() != 1060) throw;
    }
  }

  bool index_exists(Session& sql, const IndexDef& index) {
    long long n = 0;
    if (dialect_.mysql) {
      sql << "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
             "TABLE_NAME = :t AND INDEX_NAME = :i",
          soci::use(index.table), soci::use(index.name), soci::into(n);
    } else {
      sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = :i", soci::use(index.name),
          soci::into(n);
    }
    return n > 0;
  }

  // Every table, index and view of this version is there (a skipped unique key is not, so its
  // warning comes again at every start).
  bool schema_complete(Session& sql) {
    std::set<std::string> names;
    if (dialect_.mysql) {
      soci::rowset<std::string> rs =
          (sql.prepare << "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                          "UNION SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()");
      for (const auto& n : rs) names.insert(n);
    } else {
      soci::rowset<std::string> rs = (sql.prepare << "SELECT name FROM sqlite_master");
      for (const auto& n : rs) names.insert(n);
    }
    for (const auto& t : schema_tables()) {
      if (names.count(t.name) == 0) return false;
    }
    for (const auto& i : schema_indexes()) {
      if (names.count(i.name) == 0) return false;
    }
    for (const auto& v : schema_views()) {
      if (names.count(v.name) == 0) return false;
    }
    return true;
  }

  void create_index(Session& sql, const IndexDef& index) {
    if (index_exists(sql, index)) return;
    // Parameter rows and jobs get their keys in any case (duplicates are marked by the
    // migration); elsewhere duplicates left by the predecessor make a unique key impossible.
    const bool may_fail = index.unique && index.table != "kosmatau_parameters" && index.table != "pdr_model_jobs";
    if (!may_fail) {
      sql << create_index_sql(index, dialect_);
      return;
    }
    long long dups = 0;
    sql << "SELECT COUNT(*) FROM (SELECT 1 FROM " + index.table + " WHERE " + not_null(index.columns) +
               " GROUP BY " + index.columns + " HAVING COUNT(*) > 1) d",
        soci::into(dups);
    if (dups > 0) {
      migration_.unique_keys_skipped.push_back(index.table + " (" + index.columns + ")");
      return;
    }
    sql << create_index_sql(index, dialect_);
  }

  static std::string not_null(const std::string& columns) {
    std::string out, col;
    std::istringstream in(columns);
    while (std::getline(in, col, ',')) {
      col.erase(0, col.find_first_not_of(' '));
      out += (out.empty() ? "" : " AND ") + col + " IS NOT NULL";
    }
    return out;
  }

  // The values of parameter rows by id.
  static std::map<long long, ParameterValues> parameter_rows(Session& sql, const std::vector<long long>& ids) {
    std::map<long long, ParameterValues> out;
    if (ids.empty()) return out;
    std::string list;
    for (long long id : ids) list += (list.empty() ? "" : ", ") + std::to_string(id);
    soci::rowset<soci::row> rs = (sql.prepare << "SELECT * FROM kosmatau_parameters WHERE id IN (" + list + ")");
    for (const auto& row : rs) {
      long long id = 0;
      ParameterValues values;
      for (std::size_t i = 0; i < row.size(); ++i) {
        const std::string name = row.get_properties(i).get_name();
        if (lower(name) == "id") id = as_integer(row, i);
        const ParamSpec* spec = find_parameter(name);
        if (spec == nullptr) continue;
        values[spec->name] = row.get_indicator(i) == soci::i_null ? "" : field_text(row, i, spec->type);
      }
      out[id] = std::move(values);
    }
    return out;
  }

  // The first parameter whose stored value is not the point's ("alpha: 0.5 in the database, 0.6
  // now"), or "". Real values agree to 1e-5 relative: a FLOAT column of the predecessor keeps
  // about seven digits, and its rtot (derived from rounded values) differs by 1.3e-6.
  static std::string first_difference(const ParameterValues& stored, const GridPoint& point) {
    for (const auto& spec : parameter_specs()) {
      if (spec.role == ParamRole::Comment) continue;
      auto it = stored.find(spec.name);
      const std::string have = it == stored.end() ? "" : it->second;
      std::string want;
      try {
        want = point.param(spec.name);
      } catch (const std::out_of_range&) {
        continue;
      }
      if (have == want) continue;
      if (spec.type != ParamType::Text && !have.empty() && !want.empty()) {
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

  // Takes in rows the predecessor wrote (of one model, or of all with `model` 0): a parameter
  // row without an identity hash gets one (a repeat of a row the model has is kept and marked),
  // and a job without duplicate_key is classified: of the rows of one (model, job name) the
  // finished one (then skipped, then any; the newest first) is the job, the others are kept
  // duplicates. A job of pdr_run that is not finished and not running gives way to a finished
  // row of the predecessor (it finished the point meanwhile). Nothing else of those rows changes.
  void adopt_rows(Session& sql, long long model) {
    const std::string of_model = model > 0 ? " AND model_name_id = " + std::to_string(model) : "";
    struct Row {
      long long id, model;
    };
    std::vector<Row> params;
    {
      soci::rowset<soci::row> rs = (sql.prepare << "SELECT id, COALESCE(model_name_id, 0) FROM kosmatau_parameters "
                                                   "WHERE parameter_hash IS NULL" + of_model + " ORDER BY id");
      for (const auto& row : rs) params.push_back(Row{as_integer(row, 0), as_integer(row, 1)});
    }
    std::map<long long, std::unordered_set<std::string>> hashes;  // per model, loaded once
    for (const auto& p : params) {
      auto known = hashes.find(p.model);
      if (known == hashes.end()) {
        known = hashes.emplace(p.model, std::unordered_set<std::string>{}).first;
        soci::rowset<std::string> rs =
            (sql.prepare << "SELECT parameter_hash FROM kosmatau_parameters WHERE parameter_hash IS NOT NULL AND " +
                                std::string(p.model > 0 ? "model_name_id = " + std::to_string(p.model)
                                                        : "model_name_id IS NULL"));
        for (const auto& h : rs) known->second.insert(h);
      }
      ParameterValues values = parameter_rows(sql, {p.id})[p.id];
      for (const auto& spec : parameter_specs()) {
        if (spec.role == ParamRole::Comment) values.erase(spec.name);
      }
      std::string hash = parameter_hash(values);
      if (!known->second.insert(hash).second) {
        hash = sha256_hex(hash + ":duplicate:" + std::to_string(p.id));
        ++migration_.duplicate_parameters;
      }
      sql << "UPDATE kosmatau_parameters SET parameter_hash = :h WHERE id = :id AND parameter_hash IS NULL",
          soci::use(hash), soci::use(p.id);
    }

    struct Job {
      long long id;
      std::string status;
      bool owned;
    };
    std::map<std::pair<long long, std::string>, std::vector<Job>> groups;
    {
      soci::rowset<soci::row> rs =
          (sql.prepare << "SELECT id, COALESCE(model_name_id, 0), model_job_name, COALESCE(status, ''), "
                          "CASE WHEN token IS NULL THEN 0 ELSE 1 END FROM pdr_model_jobs WHERE duplicate_key IS NULL" +
                              of_model + " ORDER BY id");
      for (const auto& row : rs) {
        groups[{as_integer(row, 1), row.get<std::string>(2)}].push_back(
            Job{as_integer(row, 0), row.get<std::string>(3), as_integer(row, 4) != 0});
      }
    }
    auto rank = [](const Job& j) {
      const JobState s = state_of_word(j.status);
      return s == JobState::Finished ? 2 : s == JobState::Skipped ? 1 : 0;
    };
    // A row without a status (none of the predecessor's inserts leaves one) is never the job.
    auto better = [&](const Job& a, const Job& b) {
      if (a.status.empty() != b.status.empty()) return b.status.empty();
      return rank(a) > rank(b) || (rank(a) == rank(b) && a.id > b.id);
    };
    for (const auto& [key, jobs] : groups) {
      const Job* best = nullptr;
      for (const auto& j : jobs) {
        if (best == nullptr || better(j, *best)) best = &j;
      }
      std::optional<Job> current;
      if (key.first > 0) {
        soci::rowset<soci::row> rs =
            (sql.prepare << "SELECT id, COALESCE(status, ''), CASE WHEN token IS NULL THEN 0 ELSE 1 END FROM "
                            "pdr_model_jobs WHERE model_name_id = :m AND model_job_name = :n AND duplicate_key = 0",
             soci::use(key.first), soci::use(key.second));
        for (const auto& row : rs) current = Job{as_integer(row, 0), row.get<std::string>(1), as_integer(row, 2) != 0};
      }
      const Job* keep = best;
      if (current) {
        const JobState now = state_of_word(current->status);
        const bool gives_way = rank(*best) == 2 && now != JobState::Finished && now != JobState::Skipped &&
                               now != JobState::Running;
        if (gives_way) {
          sql << "UPDATE pdr_model_jobs SET duplicate_key = id WHERE id = :id AND duplicate_key = 0",
              soci::use(current->id);
          ++migration_.duplicate_jobs;
        } else {
          keep = nullptr;
        }
      } else if (key.first == 0 || best->status.empty()) {
        keep = nullptr;  // a job of no model, or of no state, is never run
      }
      for (const auto& j : jobs) {
        if (&j == keep) {
          sql << "UPDATE pdr_model_jobs SET duplicate_key = 0 WHERE id = :id AND duplicate_key IS NULL", soci::use(j.id);
        } else {
          sql << "UPDATE pdr_model_jobs SET duplicate_key = id WHERE id = :id AND duplicate_key IS NULL",
              soci::use(j.id);
          ++migration_.duplicate_jobs;
        }
      }
    }
  }

  // Groups of one (model, job name) with more than one job: their jobs are classified again.
  void unmark_name_clashes(Session& sql) {
    std::vector<std::pair<long long, std::string>> clashes;
    {
      soci::rowset<soci::row> rs =
          (sql.prepare << "SELECT COALESCE(model_name_id, 0), model_job_name FROM pdr_model_jobs WHERE "
                          "duplicate_key = 0 GROUP BY COALESCE(model_name_id, 0), model_job_name HAVING COUNT(*) > 1");
      for (const auto& row : rs) clashes.emplace_back(as_integer(row, 0), row.get<std::string>(1));
    }
    for (const auto& [model, name] : clashes) {
      sql << "UPDATE pdr_model_jobs SET duplicate_key = NULL WHERE COALESCE(model_name_id, 0) = :m AND "
             "model_job_name = :n AND duplicate_key = 0",
          soci::use(model), soci::use(name);
    }
  }

  // SELECT by the unique key; INSERT OR IGNORE when missing; return the id.
  long long get_or_create(Session& sql, const std::string& table, const std::vector<std::string>& key_cols,
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
    ins.prepare(std::string(dialect_.insert_ignore()) + " INTO " + table + " (" + cols + ") VALUES (" + marks + ")");
    ins.define_and_bind();
    ins.execute(true);
    return find();
  }

  // MySQL runs a bulk statement once per row (a round trip each); registration sends rows in
  // multi-row statements instead. Only numbers, hex hashes and job names (checked to hold grid
  // characters only) are written as literals; anything else is bound.
  static constexpr size_t kRowsPerStatement = 400;  // under SQLite's 500-term compound limit too

  static std::string number_literal(const std::string& text) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", std::stod(text));
    return buf;
  }

  static bool plain_name(const std::string& v) {
    for (char c : v) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != '+') return false;
    }
    return !v.empty();
  }

  static bool plain_names(const std::vector<GridPoint>& points, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      if (!plain_name(points[i].job_name)) return false;
    }
    return true;
  }

  // On MySQL the insert trigger costs ~18 us a row (a million points: 18 s more): the batch
  // turns it off for its own session (@pdr_bulk_insert) and adds the rows it inserted to the
  // counters itself, in the same transaction.
  void insert_jobs_multirow(Session& sql, const std::vector<GridPoint>& points, size_t begin, size_t end,
                            const std::unordered_map<std::string, long long>& param_ids, long long model_id,
                            long long user_id, long long exe_id, long long chem_id, const Provenance& prov) {
    struct BulkGuard {
      Session& sql;
      explicit BulkGuard(Session& s) : sql(s) { sql << "SET @pdr_bulk_insert = 1"; }
      ~BulkGuard() {
        try {
          sql << "SET @pdr_bulk_insert = NULL";
        } catch (...) {
          // A lost connection is discarded with its variables.
        }
      }
    } bulk(sql);
    long long inserted = 0;
    std::string species = prov.onion_species, outdir = prov.model_path;
    for (size_t chunk = begin; chunk < end; chunk += kRowsPerStatement) {
      const size_t stop = std::min(end, chunk + kRowsPerStatement);
      std::string rows;
      for (size_t i = chunk; i < stop; ++i) {
        const std::string pid = std::to_string(param_ids.at(points[i].param_hash));
        rows += i == chunk ? "SELECT '" + points[i].job_name + "' AS n, " + pid + " AS p"
                           : " UNION ALL SELECT '" + points[i].job_name + "', " + pid;
      }
      sql << std::string(dialect_.insert_ignore()) +
                 " INTO pdr_model_jobs (model_name_id, model_job_name, user_id, kosmatau_parameters_id, "
                 "kosmatau_executable_id, chemical_database_id, onion_species, output_directory, pending, active, "
                 "status, attempts, duplicate_key) SELECT " + std::to_string(model_id) + ", v.n, " + std::to_string(user_id) +
                 ", v.p, " + std::to_string(exe_id) + ", " + std::to_string(chem_id) +
                 ", :s, :o, 1, 0, 'pending', 0, 0 FROM (" + rows + ") v",
          soci::use(species), soci::use(outdir);
      long long n = 0;
      sql << "SELECT ROW_COUNT()", soci::into(n);
      inserted += n;
    }
    if (inserted > 0) {
      sql << "INSERT INTO pdr_job_counts (model_name_id, shard, status, n) VALUES (:m, CONNECTION_ID() % " +
                 std::to_string(kCountShards) + ", 'pending', :n) ON DUPLICATE KEY UPDATE n = n + VALUES(n)",
          soci::use(model_id), soci::use(inserted);
    }
  }

  // The grid's points share one base row: it is written once into a one-row temporary table and
  // each point binds only its own values (a million points bind 7 values each instead of ~100).
  bool insert_parameters_shared(Session& sql, long long model_id, const std::vector<GridPoint>& points,
                                size_t begin, size_t end) {
    const ParameterValues* base = points[begin].base.get();
    if (base == nullptr) return false;
    for (size_t i = begin; i < end; ++i) {
      if (points[i].base.get() != base) return false;
    }
    static const std::set<std::string> own = {"zmetal", "xnsur", "mass", "sint", "rtot"};
    sql << "DROP " + std::string(dialect_.mysql ? "TEMPORARY TABLE" : "TABLE") + " IF EXISTS temp_pdr_param_base";
    sql << std::string(dialect_.mysql ? "CREATE TEMPORARY TABLE" : "CREATE TEMP TABLE") +
               " temp_pdr_param_base AS SELECT * FROM kosmatau_parameters WHERE 1 = 0";
    std::string cols, marks;
    soci::statement row(sql);
    std::deque<double> reals;
    std::deque<long long> ints;
    std::deque<std::string> texts;
    for (const auto& spec : parameter_specs()) {
      if (spec.role == ParamRole::Comment || own.count(spec.name) != 0) continue;
      cols += (cols.empty() ? "" : ", ") + dialect_.quote(spec.name);
      marks += (marks.empty() ? ":" : ", :") + std::string(spec.name);
      const std::string& v = base->at(spec.name);
      if (spec.type == ParamType::Real) {
        reals.push_back(std::stod(v));
        row.exchange(soci::use(reals.back()));
      } else if (spec.type == ParamType::Integer) {
        ints.push_back(std::stoll(v));
        row.exchange(soci::use(ints.back()));
      } else {
        texts.push_back(v);
        row.exchange(soci::use(texts.back()));
      }
    }
    // NOT NULL columns copied by CREATE ... AS SELECT need values in the base row too.
    long long mid = model_id;
    std::string no_hash;
    row.exchange(soci::use(mid));
    row.exchange(soci::use(no_hash));
    row.alloc();
    row.prepare("INSERT INTO temp_pdr_param_base (" + cols + ", model_name_id, parameter_hash) VALUES (" + marks +
                ", :mid, :nohash)");
    row.define_and_bind();
    row.execute(true);

    if (dialect_.mysql) {
      std::string b_cols;
      for (const auto& spec : parameter_specs()) {
        if (spec.role == ParamRole::Comment || own.count(spec.name) != 0) continue;
        b_cols += ", b." + dialect_.quote(spec.name);
      }
      for (size_t chunk = begin; chunk < end; chunk += kRowsPerStatement) {
        const size_t stop = std::min(end, chunk + kRowsPerStatement);
        std::string rows;
        for (size_t i = chunk; i < stop; ++i) {
          const GridPoint& p = points[i];
          const std::string values = "'" + p.param_hash + "'" + (i == chunk ? " AS h, " : ", ") +
                                     number_literal(p.zmetal) + (i == chunk ? " AS z, " : ", ") +
                                     number_literal(p.xnsur) + (i == chunk ? " AS x, " : ", ") +
                                     number_literal(p.mass_value) + (i == chunk ? " AS ms, " : ", ") +
                                     number_literal(p.sint) + (i == chunk ? " AS s, " : ", ") +
                                     number_literal(p.rtot) + (i == chunk ? " AS r" : "");
          rows += (i == chunk ? "SELECT " : " UNION ALL SELECT ") + values;
        }
        sql << std::string(dialect_.insert_ignore()) + " INTO kosmatau_parameters (model_name_id, parameter_hash, " +
                   dialect_.quote("zmetal") + ", " + dialect_.quote("xnsur") + ", " + dialect_.quote("mass") + ", " +
                   dialect_.quote("sint") + ", " + dialect_.quote("rtot") + ", " + cols + ") SELECT " +
                   std::to_string(model_id) + ", v.h, v.z, v.x, v.ms, v.s, v.r" + b_cols + " FROM (" + rows +
                   ") v CROSS JOIN temp_pdr_param_base b";
      }
      return true;
    }
    const size_t n = end - begin;
    std::vector<long long> mids(n, model_id);
    std::vector<std::string> hashes;
    std::vector<double> z, x, m, si, r;
    for (size_t i = begin; i < end; ++i) {
      const GridPoint& p = points[i];
      hashes.push_back(p.param_hash);
      z.push_back(std::stod(p.zmetal));
      x.push_back(std::stod(p.xnsur));
      m.push_back(std::stod(p.mass_value));
      si.push_back(std::stod(p.sint));
      r.push_back(std::stod(p.rtot));
    }
    sql << std::string(dialect_.insert_ignore()) + " INTO kosmatau_parameters (model_name_id, parameter_hash, " +
               dialect_.quote("zmetal") + ", " + dialect_.quote("xnsur") + ", " + dialect_.quote("mass") + ", " +
               dialect_.quote("sint") + ", " + dialect_.quote("rtot") + ", " + cols +
               ") SELECT :m, :h, :z, :x, :ms, :s, :r, " + cols + " FROM temp_pdr_param_base",
        soci::use(mids), soci::use(hashes), soci::use(z), soci::use(x), soci::use(m), soci::use(si), soci::use(r);
    return true;
  }

  void insert_parameters(Session& sql, long long model_id, const std::vector<GridPoint>& points, size_t begin,
                         size_t end) {
    if (insert_parameters_shared(sql, model_id, points, begin, end)) return;
    const auto& specs = parameter_specs();
    const size_t n = end - begin;
    std::vector<long long> mids(n, model_id);
    std::vector<std::string> hashes;
    std::deque<std::vector<double>> reals;
    std::deque<std::vector<long long>> ints;
    std::deque<std::vector<std::string>> texts;
    soci::statement ins(sql);
    std::string cols = "model_name_id, parameter_hash", marks = ":m, :h";
    ins.exchange(soci::use(mids));
    for (size_t i = begin; i < end; ++i) hashes.push_back(points[i].param_hash);
    ins.exchange(soci::use(hashes));
    for (const auto& spec : specs) {
      if (spec.role == ParamRole::Comment) continue;
      cols += ", " + dialect_.quote(spec.name);
      marks += ", :" + std::string(spec.name);
      if (spec.type == ParamType::Real) {
        reals.emplace_back();
        for (size_t i = begin; i < end; ++i) reals.back().push_back(std::stod(points[i].param(spec.name)));
        ins.exchange(soci::use(reals.back()));
      } else if (spec.type == ParamType::Integer) {
        ints.emplace_back();
        for (size_t i = begin; i < end; ++i) ints.back().push_back(std::stoll(points[i].param(spec.name)));
        ins.exchange(soci::use(ints.back()));
      } else {
        texts.emplace_back();
        for (size_t i = begin; i < end; ++i) texts.back().push_back(points[i].param(spec.name));
        ins.exchange(soci::use(texts.back()));
      }
    }
    ins.alloc();
    ins.prepare(std::string(dialect_.insert_ignore()) + " INTO kosmatau_parameters (" + cols + ") VALUES (" + marks + ")");
    ins.define_and_bind();
    ins.execute(true);
  }

  Status count_jobs(long long model_id, size_t* out) {
    return transaction("count jobs", [&](Session& sql) {
      long long n = 0;
      sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m", soci::use(model_id), soci::into(n);
      *out = static_cast<size_t>(n);
      return Status::Ok();
    });
  }

  // The outputs a job the predecessor finished must still have, from what it recorded: the
  // hdf_files paths (else pdrstruct<job>.hdf5, its own test of "done"), the output columns it
  // sets only for a file it stored, and by its naming each onion species' TEXTOUT<job>_<species>.
  Status predecessor_outputs(long long model_id, std::unordered_map<long long, std::vector<std::string>>* files) {
    return transaction("read the outputs the predecessor recorded", [&](Session& sql) {
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
                          "COALESCE(j.onion_species, '') FROM pdr_model_jobs j WHERE j.model_name_id = :m AND "
                          "j.duplicate_key = 0 AND j.status = 'finished' AND NOT EXISTS (SELECT 1 FROM job_files f "
                          "WHERE f.job_id = j.id)",
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
  Status reconcile(long long model_id, const std::vector<GridPoint>& points,
                   const std::unordered_map<std::string, long long>& param_ids, RegisterReport* report,
                   const RegisterOptions& options) {
    const bool force_onion = options.force_onion;
    auto exists = [&](const std::string& p) {
      if (options.output_exists) return options.output_exists(p);
      struct stat sb;
      return ::stat(p.c_str(), &sb) == 0;
    };
    // A point is its job name; the parameter row of its exact values.
    std::unordered_map<std::string_view, long long> wanted;
    wanted.reserve(points.size());
    for (const auto& p : points) wanted.emplace(p.job_name, param_ids.at(p.param_hash));
    struct Row {
      long long id, pid, params;
      std::string name, status, host;
      bool owned;
    };
    std::vector<Row> rows;
    std::unordered_map<long long, std::vector<std::string>> files;
    Status st = transaction("read job states", [&](Session& sql) {
      rows.clear();
      files.clear();
      std::vector<long long> ids(kBatch), pids(kBatch), owned(kBatch), params(kBatch);
      std::vector<std::string> names(kBatch), states(kBatch), hosts(kBatch);
      soci::statement q = (sql.prepare << "SELECT id, model_job_name, COALESCE(pid, 0), COALESCE(status, 'pending'), "
                                          "COALESCE(host, ''), CASE WHEN token IS NULL THEN 0 ELSE 1 END, "
                                          "COALESCE(kosmatau_parameters_id, 0) FROM pdr_model_jobs WHERE "
                                          "model_name_id = :m AND duplicate_key = 0",
                           soci::use(model_id), soci::into(ids), soci::into(names), soci::into(pids),
                           soci::into(states), soci::into(hosts), soci::into(owned), soci::into(params));
      q.execute();
      while (q.fetch()) {
        for (size_t i = 0; i < ids.size(); ++i) {
          rows.push_back(Row{ids[i], pids[i], params[i], names[i], states[i], hosts[i], owned[i] != 0});
        }
        for (auto* v : {&ids, &pids, &owned, &params}) v->resize(kBatch);
        for (auto* v : {&names, &states, &hosts}) v->resize(kBatch);
      }
      std::vector<long long> fids(kBatch);
      std::vector<std::string> paths(kBatch);
      soci::statement f = (sql.prepare << "SELECT f.job_id, f.path FROM job_files f JOIN pdr_model_jobs j "
                                          "ON j.id = f.job_id WHERE j.model_name_id = :m AND j.status = 'finished'",
                           soci::use(model_id), soci::into(fids), soci::into(paths));
      f.execute();
      while (f.fetch()) {
        for (size_t i = 0; i < fids.size(); ++i) files[fids[i]].push_back(paths[i]);
        fids.resize(kBatch);
        paths.resize(kBatch);
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    // Jobs the predecessor finished record their outputs its own way.
    bool unrecorded = false;
    for (const auto& r : rows) {
      unrecorded = unrecorded || (state_of_word(r.status) == JobState::Finished && files.count(r.id) == 0 &&
                                  wanted.count(r.name) != 0);
    }
    if (unrecorded) {
      std::unordered_map<long long, std::vector<std::string>> theirs;
      st = predecessor_outputs(model_id, &theirs);
      if (!st.ok()) return st;
      for (auto& kv : theirs) files.emplace(kv.first, std::move(kv.second));
    }

    const std::string host = this_host();
    bool reap_now = false;
    for (const auto& r : rows) {
      auto point = wanted.find(r.name);
      if (point == wanted.end()) {
        report->other_pending += r.status == "pending" ? 1 : 0;
        continue;
      }
      const JobState state = state_of_word(r.status);
      StatusChange c;
      c.job_id = r.id;
      c.expect = state;
      c.next = JobState::Pending;
      if (state == JobState::Finished) {
        auto it = files.find(r.id);
        std::string missing;
        if (it == files.end()) missing = "no outputs recorded";
        for (const auto& p : it == files.end() ? std::vector<std::string>{} : it->second) {
          if (!exists(p)) {
            missing = "output missing: " + p;
            break;
          }
        }
        if (missing.empty() && force_onion) {
          c.onion_only = true;
          c.error = "force-onion: the onion step runs again";
          ++report->onion_requeued;
        } else if (missing.empty()) {
          ++report->already_finished;
          continue;
        } else {
          c.error = missing + "; run again";
          ++report->outputs_missing;
        }
      } else if (state == JobState::Skipped) {
        ++report->already_finished;
        continue;
      } else if (state == JobState::Failed || state == JobState::Cancelled) {
        ++report->requeued;
      } else if (state == JobState::Running) {
        // Running under the predecessor, which records no owner: nothing tells whether it is
        // still at work, so the job is left to it (pdr_run retry queues it again).
        if (!r.owned) {
          ++report->ownerless_running;
          continue;
        }
        // An owner on this host that is gone holds no lease any more: its lease ends now and
        // the reaper below returns the job like any expired one (an attempt used, the retry
        // delay waited, failed after the last attempt).
        if (r.host != host || process_alive(r.pid)) continue;
        Status ended = transaction("end the lease of job " + std::to_string(r.id), [&](Session& sql) {
          sql << "UPDATE pdr_model_jobs SET lease_expires_at = " + dialect_.now_plus(-1) +
                     " WHERE id = :id AND status = 'running'",
              soci::use(r.id);
          return Status::Ok();
        });
        if (!ended.ok()) return ended;
        reap_now = true;
        ++report->requeued;
        continue;
      } else {
        continue;
      }
      auto applied = update_job_status(c);
      if (!applied.ok()) return applied.status();
      if (applied.value() && !c.onion_only && r.params != point->second) {
        // It runs again: with the point's exact values (the row it had is the predecessor's,
        // through FLOAT columns), and it will record outputs of those.
        Status moved = transaction("give job " + std::to_string(r.id) + " its exact parameters", [&](Session& sql) {
          sql << "UPDATE pdr_model_jobs SET kosmatau_parameters_id = :p WHERE id = :id AND status = 'pending'",
              soci::use(point->second), soci::use(r.id);
          return Status::Ok();
        });
        if (!moved.ok()) return moved;
      }
    }
    if (reap_now) {
      auto reaped = reap_expired();
      if (!reaped.ok()) return reaped.status();
    }
    return transaction("count pending", [&](Session& sql) {
      long long n = 0;
      sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE model_name_id = :m AND status = 'pending' AND duplicate_key = 0",
          soci::use(model_id), soci::into(n);
      report->pending = static_cast<size_t>(n) - report->other_pending;
      return Status::Ok();
    });
  }

  // Whether the job is in `state` (and, when `token` is given, held by that owner; when `epoch`
  // is given, under that lease epoch: the attempt that wrote it).
  static bool job_is(Session& sql, long long id, JobState state, const std::string& token, long long epoch = 0) {
    std::string status, owner;
    long long row_epoch = 0;
    soci::indicator ind = soci::i_ok;
    sql << "SELECT status, COALESCE(token, ''), COALESCE(lease_epoch, 0) FROM pdr_model_jobs WHERE id = :id",
        soci::use(id), soci::into(status), soci::into(owner, ind), soci::into(row_epoch);
    return sql.got_data() && state_of_word(status) == state && (token.empty() || owner == token) &&
           (epoch <= 0 || row_epoch == epoch);
  }

  bool apply_change(Session& sql, const StatusChange& change) {
    // Error text quotes program output: keep it valid UTF-8 (MySQL's utf8mb4 refuses a byte
    // sequence cut in the middle of a character, error 1366).
    StatusChange c = change;
    c.error = valid_utf8(c.error);
    const std::string next = status_word(c.next);
    const int pending = c.next == JobState::Pending ? 1 : 0;
    const int active = c.next == JobState::Running ? 1 : 0;
    const bool terminal = is_terminal(c.next);
    const int exit_code = c.exit_code.value_or(0);
    soci::indicator exit_ind = c.exit_code ? soci::i_ok : soci::i_null;
    soci::indicator error_ind = c.error.empty() ? soci::i_null : soci::i_ok;
    std::string q = "UPDATE pdr_model_jobs SET status = :next, pending = :pending, active = :active, "
                    "time_updated = CURRENT_TIMESTAMP, exit_code = :exit_code, error = :error";
    if (terminal) q += ", time_of_finish = CURRENT_TIMESTAMP";
    if (c.next == JobState::Running) {
      q += ", attempts = attempts + 1, host = :host, pid = :pid, token = :new_token, "
           "time_of_start = CURRENT_TIMESTAMP, time_of_finish = NULL, lease_epoch = lease_epoch + 1, "
           "lease_expires_at = " + dialect_.now_plus(policy_.lease_seconds) + ", heartbeat_at = " + dialect_.now() +
           ", retry_at = NULL";
    } else {
      q += ", token = NULL, lease_expires_at = NULL";
    }
    if ((c.expect == JobState::Failed || c.expect == JobState::Cancelled) && c.next == JobState::Pending) {
      // Queued again on request: a fresh set of attempts.
      q += ", attempts = 0, last_error = NULL, retry_at = NULL";
    }
    if (c.expect == JobState::Running && c.next == JobState::Pending && !c.token.empty() && !c.retry) {
      // Handed back by its owner (an interrupt, a stop, a host failure): the attempt does not
      // count. A failure queued again (retry) and a lease that expired (no token) do.
      q += ", attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END";
    }
    q += " WHERE id = :id AND " + status_sql(c.expect);
    if (!c.token.empty()) q += " AND token = :token";
    if (c.epoch > 0) q += " AND lease_epoch = :epoch";
    soci::statement up(sql);
    up.exchange(soci::use(next));
    up.exchange(soci::use(pending));
    up.exchange(soci::use(active));
    up.exchange(soci::use(exit_code, exit_ind));
    up.exchange(soci::use(c.error, error_ind));
    if (c.next == JobState::Running) {
      if (c.claimant == nullptr) return false;  // a claim must say who claims
      up.exchange(soci::use(c.claimant->host));
      up.exchange(soci::use(c.claimant->pid));
      up.exchange(soci::use(c.claimant->token));
    }
    up.exchange(soci::use(c.job_id));
    if (!c.token.empty()) up.exchange(soci::use(c.token));
    if (c.epoch > 0) up.exchange(soci::use(c.epoch));
    up.alloc();
    up.prepare(q);
    up.define_and_bind();
    up.execute(true);
    if (up.get_affected_rows() != 1) return false;

    std::string stage = "all";
    if (c.next == JobState::Finished) {
      sql << "SELECT run_stage FROM pdr_model_jobs WHERE id = :id", soci::use(c.job_id), soci::into(stage);
    }
    if (c.onion_only) {
      // Queued for onion only: the pdr outputs stay recorded.
      sql << "UPDATE pdr_model_jobs SET run_stage = 'onion' WHERE id = :id", soci::use(c.job_id);
    } else if (c.next == JobState::Finished && stage == "onion") {
      // An onion-only run replaces the onion outputs and keeps the pdr ones.
      sql << "DELETE FROM job_files WHERE job_id = :id AND kind IN ('onion', 'onion_log')", soci::use(c.job_id);
      sql << "UPDATE pdr_model_jobs SET run_stage = 'all' WHERE id = :id", soci::use(c.job_id);
    } else if (c.expect == JobState::Finished || c.next == JobState::Finished) {
      // Outputs recorded for an earlier run are no longer trusted; a new finish records its own.
      sql << "UPDATE pdr_model_jobs SET run_stage = 'all' WHERE id = :id", soci::use(c.job_id);
      sql << "DELETE FROM job_files WHERE job_id = :id", soci::use(c.job_id);
      sql << "DELETE FROM hdf_files WHERE job_id = :id", soci::use(c.job_id);
      sql << "DELETE FROM json_files WHERE job_id = :id", soci::use(c.job_id);
      sql << "UPDATE pdr_model_jobs SET output_hdf4_file = NULL, output_textout_file = NULL, "
             "output_chemchk_file = NULL, output_mcdrt_zip_file = NULL, output_ctrl_ind_file = NULL, "
             "output_hdf5_file = NULL, input_pdrnew_inp_file = NULL, input_json_file = NULL, log_file = NULL "
             "WHERE id = :id",
          soci::use(c.job_id);
    }
    if (c.next == JobState::Finished) {
      record_files(sql, c);
    } else if (c.next == JobState::Failed || c.retry) {
      record_log(sql, c);
    }
    return true;
  }

  // A failed attempt's TEXTOUT, kept in storage, is where the predecessor's columns point.
  void record_log(Session& sql, const StatusChange& c) {
    for (const auto& f : c.files) {
      if (f.kind != "output_textout_file") continue;
      sql << "UPDATE pdr_model_jobs SET output_textout_file = :p, log_file = :l WHERE id = :id", soci::use(f.path),
          soci::use(f.path), soci::use(c.job_id);
    }
  }

  // Runs `write` inside a savepoint: an error other than a lost connection or a lock (which
  // retry the whole transaction) undoes only what `write` did and is logged. For the
  // predecessor's provenance rows: a key or constraint of its tables must not cost the job's
  // result.
  template <class Write>
  void best_effort(Session& sql, const std::string& what, Write&& write) {
    sql << "SAVEPOINT pdr_provenance";
    try {
      write();
      sql << "RELEASE SAVEPOINT pdr_provenance";
    } catch (const soci::soci_error& e) {
      Status st = db_error_status(e, "");
      if (st.kind() == ErrorKind::kTransient || is_connection_lost(st.code())) throw;
      sql << "ROLLBACK TO SAVEPOINT pdr_provenance";
      sql << "RELEASE SAVEPOINT pdr_provenance";
      spdlog::warn("{} not recorded: {}", what, st.message());
    }
  }

  void record_files(Session& sql, const StatusChange& c) {
    std::map<std::string, const StoredFile*> by_kind;
    for (const auto& f : c.files) by_kind[f.kind] = &f;
    if (!c.files.empty()) {
      // One statement for every file, one for the job's output columns: each statement is a
      // round trip to a MySQL server, and a job stores a dozen files.
      std::vector<soci::indicator> mtime_ind;
      for (const auto& f : c.files) mtime_ind.push_back(f.mtime.empty() ? soci::i_null : soci::i_ok);
      std::string q = "INSERT INTO job_files (job_id, kind, path, sha256_sum, file_size, modification_time) VALUES ";
      soci::statement ins(sql);
      for (size_t i = 0; i < c.files.size(); ++i) {
        const std::string n = std::to_string(i);
        q += (i ? ", " : "") + std::string("(:j") + n + ", :k" + n + ", :p" + n + ", :s" + n + ", :z" + n + ", :t" + n + ")";
        const StoredFile& f = c.files[i];
        ins.exchange(soci::use(c.job_id));
        ins.exchange(soci::use(f.kind));
        ins.exchange(soci::use(f.path));
        ins.exchange(soci::use(f.sha256));
        ins.exchange(soci::use(f.size));
        ins.exchange(soci::use(f.mtime, mtime_ind[i]));
      }
      ins.alloc();
      ins.prepare(q);
      ins.define_and_bind();
      ins.execute(true);
      std::string set;
      soci::statement up(sql);
      for (const auto& [kind, f] : by_kind) {
        if (!is_job_output_column(kind)) continue;
        set += (set.empty() ? "" : ", ") + kind + " = :" + kind;
        up.exchange(soci::use(f->path));
        if (kind == "output_textout_file") {
          // The predecessor's log_file is the TEXTOUT too.
          set += ", log_file = :log_file";
          up.exchange(soci::use(f->path));
        }
      }
      if (!set.empty()) {
        up.exchange(soci::use(c.job_id));
        up.alloc();
        up.prepare("UPDATE pdr_model_jobs SET " + set + " WHERE id = :id");
        up.define_and_bind();
        up.execute(true);
      }
    }
    auto h4 = by_kind.find("output_hdf4_file"), hs = by_kind.find("pdrstruct"), hc = by_kind.find("pdrchem");
    if (h4 != by_kind.end() && hs != by_kind.end() && hc != by_kind.end()) {
      // SOCI binds by reference: every bound value must outlive the statement.
      struct Part {
        std::string name, path, dir, mtime, sha;
        long long size;
        soci::indicator mtime_ind;  // NULL when unknown: '' is no DATETIME in strict mode
      };
      auto part = [](const StoredFile& f) {
        const auto slash = f.path.find_last_of('/');
        return Part{f.path.substr(slash + 1), f.path, f.path.substr(0, slash), f.mtime, f.sha256, f.size,
                    f.mtime.empty() ? soci::i_null : soci::i_ok};
      };
      Part a = part(*h4->second), b = part(*hs->second), d = part(*hc->second);
      best_effort(sql, "hdf_files row of job " + std::to_string(c.job_id), [&] {
      sql << "INSERT INTO hdf_files (job_id, pdrexe_id, parameter_id, model_name_id, "
             "file_name, full_path, path, modification_time, sha256_sum, file_size, "
             "file_name_hdf5_s, full_path_hdf5_s, path_hdf5_s, modification_time_hdf5_s, sha256_sum_hdf5_s, file_size_hdf5_s, "
             "file_name_hdf5_c, full_path_hdf5_c, path_hdf5_c, modification_time_hdf5_c, sha256_sum_hdf5_c, file_size_hdf5_c) "
             "SELECT id, kosmatau_executable_id, kosmatau_parameters_id, model_name_id, "
             ":a1, :a2, :a3, :a4, :a5, :a6, :b1, :b2, :b3, :b4, :b5, :b6, :c1, :c2, :c3, :c4, :c5, :c6 "
             "FROM pdr_model_jobs WHERE id = :id",
          soci::use(a.name), soci::use(a.path), soci::use(a.dir), soci::use(a.mtime, a.mtime_ind), soci::use(a.sha),
          soci::use(a.size), soci::use(b.name), soci::use(b.path), soci::use(b.dir), soci::use(b.mtime, b.mtime_ind),
          soci::use(b.sha), soci::use(b.size), soci::use(d.name), soci::use(d.path), soci::use(d.dir),
          soci::use(d.mtime, d.mtime_ind), soci::use(d.sha), soci::use(d.size), soci::use(c.job_id);
      });
    }
    auto js = by_kind.find("input_json_file");
    if (js != by_kind.end()) {
      const StoredFile& f = *js->second;
      const std::string name = f.path.substr(f.path.find_last_of('/') + 1);
      soci::indicator tind = json_template_id_ > 0 ? soci::i_ok : soci::i_null;
      // The predecessor's json_files has UNIQUE(sha256_sum): a byte-identical config (the same
      // point of another model) is already recorded, and that row stays as it is.
      best_effort(sql, "json_files row of job " + std::to_string(c.job_id), [&] {
        sql << std::string(dialect_.insert_ignore()) +
                   " INTO json_files (name, path, archived_path, sha256_sum, template_id, job_id) "
                   "VALUES (:n, :p, :a, :s, :t, :j)",
            soci::use(name), soci::use(f.path), soci::use(f.path), soci::use(f.sha256),
            soci::use(json_template_id_, tind), soci::use(c.job_id);
      });
    }
  }

  static long long as_integer(const soci::row& row, std::size_t i) {
    switch (row.get_properties(i).get_data_type()) {
      case soci::dt_integer: return row.get<int>(i);
      case soci::dt_long_long: return row.get<long long>(i);
      case soci::dt_unsigned_long_long: return static_cast<long long>(row.get<unsigned long long>(i));
      case soci::dt_double: return static_cast<long long>(row.get<double>(i));
      default: return std::stoll(row.get<std::string>(i));
    }
  }

  static std::string field_text(const soci::row& row, std::size_t i, ParamType type) {
    switch (row.get_properties(i).get_data_type()) {
      case soci::dt_double: return real_text(row.get<double>(i), type);
      case soci::dt_integer: return std::to_string(row.get<int>(i));
      case soci::dt_long_long: return std::to_string(row.get<long long>(i));
      case soci::dt_unsigned_long_long: return std::to_string(row.get<unsigned long long>(i));
      default: return row.get<std::string>(i);
    }
  }

  static std::string real_text(double v, ParamType type) {
    if (type == ParamType::Integer) return std::to_string(static_cast<long long>(v));
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  }

  DbManager* db_;
  long long json_template_id_ = 0;  // json_templates row of the template registered by this process
  MigrationReport migration_;
  bool counters_live_ = false;  // the triggers keep pdr_job_counts (read at open)
  std::string counters_note_;   // why they could not be created, if so
  DatabaseSettings::Retry retry_;
  JobPolicy policy_;
  Dialect dialect_;
  double slow_call_ = 0;
};

}  // namespace

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

}  // namespace pdr
