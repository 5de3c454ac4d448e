// What a finished job recorded: job_files, its output columns, hdf_files and json_files.
#include "db/soci_job_store.h"
#include "db/statement_cache.h"

namespace pdr {

// A failed attempt's TEXTOUT, kept in storage, is where the predecessor's columns point.
void SociJobStore::record_log(Session& sql, const StatusChange& c) {
  for (const auto& f : c.files) {
    if (f.kind != "output_textout_file") continue;
    sql << "UPDATE pdr_model_jobs SET output_textout_file = :p, log_file = :l WHERE id = :id", soci::use(f.path),
        soci::use(f.path), soci::use(c.job_id);
  }
}

// A finished job's files: job_files (pdr_run's record; the state UPDATE set the job's output
// columns), then the predecessor's hdf_files and json_files rows (best effort: their keys must
// not cost the job).
void SociJobStore::record_files(Session& sql, const StatusChange& c) {
  std::map<std::string, const StoredFile*> by_kind;
  for (const auto& f : c.files) by_kind[f.kind] = &f;
  if (!c.files.empty()) record_job_files(sql, c.job_id, c.files);
  std::vector<std::pair<std::string, std::function<void()>>> provenance;
  auto h4 = by_kind.find("output_hdf4_file"), hs = by_kind.find("pdrstruct"), hc = by_kind.find("pdrchem");
  if (h4 != by_kind.end() && hs != by_kind.end() && hc != by_kind.end()) {
    provenance.emplace_back("hdf_files row of job " + std::to_string(c.job_id),
                            [&] { record_hdf_files(sql, c.job_id, *h4->second, *hs->second, *hc->second); });
  }
  auto js = by_kind.find("input_json_file");
  if (js != by_kind.end()) {
    provenance.emplace_back("json_files row of job " + std::to_string(c.job_id),
                            [&] { record_json_file(sql, c.job_id, *js->second); });
  }
  // Both under one savepoint; should either fail, each again under its own.
  if (provenance.size() > 1 && best_effort(
                                   sql, "provenance rows",
                                   [&] {
                                     for (const auto& w : provenance) w.second();
                                   },
                                   true)) {
    return;
  }
  for (const auto& [what, write] : provenance) best_effort(sql, what, write);
}

// The job's file rows in one statement: each statement is a round trip to a server, and a job
// stores a dozen files.
void SociJobStore::record_job_files(Session& sql, long long job_id, const std::vector<StoredFile>& files) {
  std::string q = "INSERT INTO job_files (job_id, kind, path, sha256_sum, file_size, modification_time) VALUES ";
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string n = std::to_string(i);
    q +=
        (i ? ", " : "") + std::string("(:j") + n + ", :k" + n + ", :p" + n + ", :s" + n + ", :z" + n + ", :t" + n + ")";
  }
  std::unique_ptr<ReusableStatement> fresh;
  ReusableStatement& ins = reusable_statement(sql, q, fresh);  // kept: the same files each job
  for (const auto& f : files) {
    ins.use(job_id);
    ins.use(f.kind);
    ins.use(f.path);
    ins.use(f.sha256);
    ins.use(f.size);
    ins.use(f.mtime, f.mtime.empty() ? soci::i_null : soci::i_ok);  // NULL when unknown
  }
  run_kept(sql, ins, q);
}

// The predecessor's hdf_files row: the HDF4 output and the two HDF5 structure files.
void SociJobStore::record_hdf_files(Session& sql, long long job_id, const StoredFile& hdf4, const StoredFile& structure,
                                    const StoredFile& chemistry) {
  static const std::string q =
      "INSERT INTO hdf_files (job_id, pdrexe_id, parameter_id, model_name_id, "
      "file_name, full_path, path, modification_time, sha256_sum, file_size, "
      "file_name_hdf5_s, full_path_hdf5_s, path_hdf5_s, modification_time_hdf5_s, sha256_sum_hdf5_s, file_size_hdf5_s, "
      "file_name_hdf5_c, full_path_hdf5_c, path_hdf5_c, modification_time_hdf5_c, sha256_sum_hdf5_c, file_size_hdf5_c) "
      "SELECT id, kosmatau_executable_id, kosmatau_parameters_id, model_name_id, "
      ":a1, :a2, :a3, :a4, :a5, :a6, :b1, :b2, :b3, :b4, :b5, :b6, :c1, :c2, :c3, :c4, :c5, :c6 "
      "FROM pdr_model_jobs WHERE id = :id";
  std::unique_ptr<ReusableStatement> fresh;
  ReusableStatement& ins = reusable_statement(sql, q, fresh);
  for (const StoredFile* f : {&hdf4, &structure, &chemistry}) {
    const auto slash = f->path.find_last_of('/');
    ins.use(f->path.substr(slash + 1));
    ins.use(f->path);
    ins.use(f->path.substr(0, slash));
    ins.use(f->mtime, f->mtime.empty() ? soci::i_null : soci::i_ok);  // '' is no DATETIME in strict mode
    ins.use(f->sha256);
    ins.use(f->size);
  }
  ins.use(job_id);
  run_kept(sql, ins, q);
}

// The predecessor's json_files row of the job's rendered pdr_config.json.
void SociJobStore::record_json_file(Session& sql, long long job_id, const StoredFile& f) {
  // The predecessor's json_files has UNIQUE(sha256_sum): a byte-identical config (the same
  // point of another model) is already recorded, and that row stays as it is.
  // created_at by the database's UTC clock, as the predecessor sets it (its table has no default).
  const std::string q = std::string(dialect_.insert_ignore()) +
                        " INTO json_files (name, path, archived_path, sha256_sum, template_id, job_id, created_at) "
                        "VALUES (:n, :p, :a, :s, :t, :j, " +
                        dialect_.now() + ")" + dialect_.ignore_end();
  std::unique_ptr<ReusableStatement> fresh;
  ReusableStatement& ins = reusable_statement(sql, q, fresh);
  ins.use(f.path.substr(f.path.find_last_of('/') + 1));
  ins.use(f.path);
  ins.use(f.path);
  ins.use(f.sha256);
  ins.use(json_template_id_, json_template_id_ > 0 ? soci::i_ok : soci::i_null);
  ins.use(job_id);
  run_kept(sql, ins, q);
}

}  // namespace pdr
