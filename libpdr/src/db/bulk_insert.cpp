// Parameter and job rows of a grid in batches.
#include "db/soci_job_store.h"

namespace pdr {

std::string SociJobStore::number_literal(const std::string& text) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", std::stod(text));
  return buf;
}

bool SociJobStore::plain_name(const std::string& v) {
  for (char c : v) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != '+') return false;
  }
  return !v.empty();
}

bool SociJobStore::plain_names(const std::vector<GridPoint>& points, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    if (!plain_name(points[i].job_name)) return false;
  }
  return true;
}

// A few hundred rows a statement (MySQL, SQLite). On MySQL the insert trigger costs ~18 us a
// row (a million points: 18 s more): the batch turns it off for its own session
// (@pdr_bulk_insert) and adds the rows it inserted to the counters itself, in the same
// transaction. SQLite's trigger costs little and counts as usual.
void SociJobStore::insert_jobs_multirow(Session& sql, const std::vector<GridPoint>& points, size_t begin, size_t end,
                                        const std::unordered_map<std::string, long long>& param_ids, long long model_id,
                                        long long user_id, long long exe_id, long long chem_id,
                                        const Provenance& prov) {
  struct BulkGuard {
    Session& sql;
    bool on;
    BulkGuard(Session& s, bool mysql) : sql(s), on(mysql) {
      if (on) sql << "SET @pdr_bulk_insert = 1";
    }
    ~BulkGuard() {
      if (!on) return;
      try {
        sql << "SET @pdr_bulk_insert = NULL";
      } catch (...) {
        // A lost connection is discarded with its variables.
      }
    }
  } bulk(sql, dialect_.mysql);
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
               "status, attempts, duplicate_key) SELECT " +
               std::to_string(model_id) + ", v.n, " + std::to_string(user_id) + ", v.p, " + std::to_string(exe_id) +
               ", " + std::to_string(chem_id) + ", :s, :o, TRUE, FALSE, 'pending', 0, 0 FROM (" + rows + ") v",
        soci::use(species), soci::use(outdir);
    if (!bulk.on) continue;
    long long n = 0;
    sql << "SELECT ROW_COUNT()", soci::into(n);
    inserted += n;
  }
  if (inserted > 0) {
    sql << "INSERT INTO pdr_job_counts (model_name_id, shard, status, n) VALUES (:m, " + count_shard_sql(dialect_) +
               ", 'pending', :n) ON DUPLICATE KEY UPDATE n = n + VALUES(n)",
        soci::use(model_id), soci::use(inserted);
  }
}

void SociJobStore::insert_jobs_values(Session& sql, const std::vector<GridPoint>& points, size_t begin, size_t end,
                                      const std::unordered_map<std::string, long long>& param_ids, long long model_id,
                                      long long user_id, long long exe_id, long long chem_id, const Provenance& prov) {
  std::string species = prov.onion_species, outdir = prov.model_path;
  for (size_t chunk = begin; chunk < end; chunk += kRowsPerStatement) {
    const size_t stop = std::min(end, chunk + kRowsPerStatement);
    std::string rows;
    for (size_t i = chunk; i < stop; ++i) {
      rows += (i == chunk ? "('" : ", ('") + points[i].job_name + "', " +
              std::to_string(param_ids.at(points[i].param_hash)) + ")";
    }
    sql << "INSERT INTO pdr_model_jobs (model_name_id, model_job_name, user_id, kosmatau_parameters_id, "
           "kosmatau_executable_id, chemical_database_id, onion_species, output_directory, pending, active, "
           "status, attempts, duplicate_key) SELECT " +
               std::to_string(model_id) + ", v.n, " + std::to_string(user_id) + ", v.p, " + std::to_string(exe_id) +
               ", " + std::to_string(chem_id) + ", :s, :o, TRUE, FALSE, 'pending', 0, 0 FROM (VALUES " + rows +
               ") AS v (n, p) ON CONFLICT DO NOTHING",
        soci::use(species), soci::use(outdir);
  }
}

// The grid's points share one base row: it is written once into a one-row temporary table and
// each point binds only its own values (a million points bind 7 values each instead of ~100).
bool SociJobStore::insert_parameters_shared(Session& sql, long long model_id,
                                            const std::vector<const GridPoint*>& points, size_t begin, size_t end) {
  const ParameterValues* base = points[begin]->base.get();
  if (base == nullptr) return false;
  for (size_t i = begin; i < end; ++i) {
    if (points[i]->base.get() != base) return false;
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

  std::string b_cols;
  for (const auto& spec : parameter_specs()) {
    if (spec.role == ParamRole::Comment || own.count(spec.name) != 0) continue;
    b_cols += ", b." + dialect_.quote(spec.name);
  }
  const std::string insert = std::string(dialect_.insert_ignore()) +
                             " INTO kosmatau_parameters (model_name_id, parameter_hash, " + dialect_.quote("zmetal") +
                             ", " + dialect_.quote("xnsur") + ", " + dialect_.quote("mass") + ", " +
                             dialect_.quote("sint") + ", " + dialect_.quote("rtot") + ", " + cols + ") SELECT " +
                             std::to_string(model_id) + ", v.h, v.z, v.x, v.ms, v.s, v.r" + b_cols;
  // One statement per batch on a server (a round trip each).
  if (dialect_.server()) {
    for (size_t chunk = begin; chunk < end; chunk += kRowsPerStatement) {
      const size_t stop = std::min(end, chunk + kRowsPerStatement);
      std::string rows;
      if (dialect_.pg) {  // a VALUES list: PostgreSQL plans it at a fraction of a UNION ALL's cost
        for (size_t i = chunk; i < stop; ++i) {
          const GridPoint& p = *points[i];
          rows += (i == chunk ? "('" : ", ('") + p.param_hash + "', " + number_literal(p.zmetal) + ", " +
                  number_literal(p.xnsur) + ", " + number_literal(p.mass_value) + ", " + number_literal(p.sint) + ", " +
                  number_literal(p.rtot) + ")";
        }
        sql << insert + " FROM (VALUES " + rows + ") AS v (h, z, x, ms, s, r) CROSS JOIN temp_pdr_param_base b" +
                   dialect_.ignore_end();
        continue;
      }
      for (size_t i = chunk; i < stop; ++i) {
        const GridPoint& p = *points[i];
        const std::string values =
            "'" + p.param_hash + "'" + (i == chunk ? " AS h, " : ", ") + number_literal(p.zmetal) +
            (i == chunk ? " AS z, " : ", ") + number_literal(p.xnsur) + (i == chunk ? " AS x, " : ", ") +
            number_literal(p.mass_value) + (i == chunk ? " AS ms, " : ", ") + number_literal(p.sint) +
            (i == chunk ? " AS s, " : ", ") + number_literal(p.rtot) + (i == chunk ? " AS r" : "");
        rows += (i == chunk ? "SELECT " : " UNION ALL SELECT ") + values;
      }
      sql << insert + " FROM (" + rows + ") v CROSS JOIN temp_pdr_param_base b" + dialect_.ignore_end();
    }
    return true;
  }
  // SQLite: the points' own values go into a small temporary table (a bound loop of 7 values a
  // row) and one INSERT ... SELECT builds the batch's rows from it and the base row. Run as one
  // statement a row, that INSERT ... SELECT costs SQLite its setup each time (~15 us a point).
  std::vector<std::string> hashes;
  std::vector<double> z, x, m, si, r;
  for (size_t i = begin; i < end; ++i) {
    const GridPoint& p = *points[i];
    hashes.push_back(p.param_hash);
    z.push_back(std::stod(p.zmetal));
    x.push_back(std::stod(p.xnsur));
    m.push_back(std::stod(p.mass_value));
    si.push_back(std::stod(p.sint));
    r.push_back(std::stod(p.rtot));
  }
  sql << "DROP TABLE IF EXISTS temp.temp_pdr_points";
  sql << "CREATE TEMP TABLE temp_pdr_points (h TEXT, z REAL, x REAL, ms REAL, s REAL, r REAL)";
  sql << "INSERT INTO temp.temp_pdr_points (h, z, x, ms, s, r) VALUES (:h, :z, :x, :ms, :s, :r)", soci::use(hashes),
      soci::use(z), soci::use(x), soci::use(m), soci::use(si), soci::use(r);
  // CROSS JOIN: SQLite keeps the points as the outer loop, in their order.
  sql << insert + " FROM temp.temp_pdr_points v CROSS JOIN temp_pdr_param_base b ORDER BY v.rowid";
  sql << "DROP TABLE temp.temp_pdr_points";
  return true;
}

void SociJobStore::insert_parameters(Session& sql, long long model_id, const std::vector<const GridPoint*>& points,
                                     size_t begin, size_t end) {
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
  for (size_t i = begin; i < end; ++i) hashes.push_back(points[i]->param_hash);
  ins.exchange(soci::use(hashes));
  for (const auto& spec : specs) {
    if (spec.role == ParamRole::Comment) continue;
    cols += ", " + dialect_.quote(spec.name);
    marks += ", :" + std::string(spec.name);
    if (spec.type == ParamType::Real) {
      reals.emplace_back();
      for (size_t i = begin; i < end; ++i) reals.back().push_back(std::stod(points[i]->param(spec.name)));
      ins.exchange(soci::use(reals.back()));
    } else if (spec.type == ParamType::Integer) {
      ints.emplace_back();
      for (size_t i = begin; i < end; ++i) ints.back().push_back(std::stoll(points[i]->param(spec.name)));
      ins.exchange(soci::use(ints.back()));
    } else {
      texts.emplace_back();
      for (size_t i = begin; i < end; ++i) texts.back().push_back(points[i]->param(spec.name));
      ins.exchange(soci::use(texts.back()));
    }
  }
  ins.alloc();
  ins.prepare(std::string(dialect_.insert_ignore()) + " INTO kosmatau_parameters (" + cols + ") VALUES (" + marks +
              ")" + dialect_.ignore_end());
  ins.define_and_bind();
  ins.execute(true);
}

}  // namespace pdr
