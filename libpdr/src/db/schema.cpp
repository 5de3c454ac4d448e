#include "db/schema.h"

#include "pdr/parameters.h"

namespace pdr {

std::vector<std::string> schema_statements(const Dialect& d) {
  const std::string id = d.id_column();
  const std::string opts = d.table_options();
  std::string params = "CREATE TABLE IF NOT EXISTS kosmatau_parameters (" + id +
                       ", model_name_id INTEGER NOT NULL REFERENCES model_names(id)"
                       ", time_created DATETIME DEFAULT CURRENT_TIMESTAMP";
  for (const auto& spec : parameter_specs()) {
    const char* type = spec.type == ParamType::Real      ? "DOUBLE"
                       : spec.type == ParamType::Integer ? "INTEGER"
                       : (std::string(spec.name) == "fuvstring") ? "VARCHAR(50)"
                                                                 : "TEXT";
    params += ", " + d.quote(spec.name) + " " + type;
  }
  params += ", parameter_hash CHAR(64) NOT NULL, UNIQUE (model_name_id, parameter_hash))" + opts;

  return {
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)" + opts,
      "CREATE TABLE IF NOT EXISTS chemical_databases (" + id +
          ", chem_rates_file_name VARCHAR(255) NOT NULL, chem_rates_full_path VARCHAR(255) NOT NULL DEFAULT ''"
          ", database_origin VARCHAR(50) NOT NULL DEFAULT ''"
          ", UNIQUE (chem_rates_file_name, chem_rates_full_path, database_origin))" + opts,
      "CREATE TABLE IF NOT EXISTS json_templates (" + id +
          ", name VARCHAR(255) NOT NULL, path VARCHAR(512) NOT NULL, description TEXT, hash VARCHAR(64)"
          ", sha256_sum VARCHAR(64) UNIQUE, created_at DATETIME DEFAULT CURRENT_TIMESTAMP)" + opts,
      "CREATE TABLE IF NOT EXISTS kosmatau_executables (" + id +
          ", code_revision VARCHAR(50), compilation_date DATETIME, executable_file_name VARCHAR(255) NOT NULL"
          ", executable_full_path VARCHAR(255) NOT NULL DEFAULT '', sha256_sum VARCHAR(64) NOT NULL DEFAULT ''"
          ", comment VARCHAR(250)"
          ", UNIQUE (executable_file_name, executable_full_path, sha256_sum))" + opts,
      "CREATE TABLE IF NOT EXISTS model_names (" + id +
          ", model_name VARCHAR(255) NOT NULL, model_path VARCHAR(255) NOT NULL"
          ", model_description VARCHAR(1000), UNIQUE (model_name))" + opts,
      "CREATE TABLE IF NOT EXISTS users (" + id +
          ", username VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL, UNIQUE (username, email))" + opts,
      params,
      "CREATE TABLE IF NOT EXISTS pdr_model_jobs (" + id +
          ", model_name_id INTEGER NOT NULL REFERENCES model_names(id)"
          ", model_job_name VARCHAR(255) NOT NULL"
          ", user_id INTEGER REFERENCES users(id)"
          ", kosmatau_parameters_id INTEGER NOT NULL REFERENCES kosmatau_parameters(id)"
          ", kosmatau_executable_id INTEGER REFERENCES kosmatau_executables(id)"
          ", chemical_database_id INTEGER REFERENCES chemical_databases(id)"
          ", onion_species TEXT"
          ", pending BOOLEAN NOT NULL DEFAULT 1, active BOOLEAN NOT NULL DEFAULT 0"
          ", status VARCHAR(50) NOT NULL DEFAULT 'pending'"
          ", time_of_start DATETIME, time_of_finish DATETIME, execution_time DATETIME"
          ", token VARCHAR(250), output_directory VARCHAR(255)"
          ", output_hdf4_file VARCHAR(255), output_textout_file VARCHAR(255)"
          ", output_chemchk_file VARCHAR(255), output_mcdrt_zip_file VARCHAR(255)"
          ", output_ctrl_ind_file VARCHAR(255), output_hdf5_file VARCHAR(250)"
          ", input_pdrnew_inp_file VARCHAR(255), input_json_file VARCHAR(512), output_json_file VARCHAR(512)"
          ", log_file VARCHAR(255)"
          ", time_created DATETIME DEFAULT CURRENT_TIMESTAMP, time_updated DATETIME"
          ", attempts INTEGER NOT NULL DEFAULT 0, host VARCHAR(255), pid INTEGER, exit_code INTEGER, error TEXT"
          ", UNIQUE (model_name_id, kosmatau_parameters_id))" + opts,
      "CREATE INDEX IF NOT EXISTS idx_jobs_model_status ON pdr_model_jobs (model_name_id, status)",
      "CREATE INDEX IF NOT EXISTS idx_jobs_name ON pdr_model_jobs (model_job_name)",
      "CREATE TABLE IF NOT EXISTS hdf_files (" + id +
          ", job_id INTEGER REFERENCES pdr_model_jobs(id), pdrexe_id INTEGER REFERENCES kosmatau_executables(id)"
          ", parameter_id INTEGER REFERENCES kosmatau_parameters(id), model_name_id INTEGER REFERENCES model_names(id)"
          ", file_name VARCHAR(255) NOT NULL, full_path VARCHAR(255), path VARCHAR(255), modification_time DATETIME"
          ", sha256_sum VARCHAR(64), file_size BIGINT, corrupt BOOLEAN DEFAULT 0, comments TEXT"
          ", file_name_hdf5_s VARCHAR(255) NOT NULL, full_path_hdf5_s VARCHAR(255), path_hdf5_s VARCHAR(255)"
          ", modification_time_hdf5_s DATETIME, sha256_sum_hdf5_s VARCHAR(64), file_size_hdf5_s BIGINT"
          ", file_name_hdf5_c VARCHAR(255) NOT NULL, full_path_hdf5_c VARCHAR(255), path_hdf5_c VARCHAR(255)"
          ", modification_time_hdf5_c DATETIME, sha256_sum_hdf5_c VARCHAR(64), file_size_hdf5_c BIGINT"
          ", UNIQUE (job_id))" + opts,
      "CREATE TABLE IF NOT EXISTS json_files (" + id +
          ", name VARCHAR(255) NOT NULL, path VARCHAR(512) NOT NULL, archived_path VARCHAR(512)"
          ", sha256_sum VARCHAR(64), created_at DATETIME DEFAULT CURRENT_TIMESTAMP"
          ", template_id INTEGER REFERENCES json_templates(id), job_id INTEGER REFERENCES pdr_model_jobs(id)"
          ", UNIQUE (job_id))" + opts,
      "CREATE TABLE IF NOT EXISTS job_files (" + id +
          ", job_id INTEGER NOT NULL REFERENCES pdr_model_jobs(id), kind VARCHAR(64) NOT NULL"
          ", path VARCHAR(1024) NOT NULL, sha256_sum VARCHAR(64) NOT NULL, file_size BIGINT NOT NULL"
          ", modification_time DATETIME)" + opts,
      "CREATE INDEX IF NOT EXISTS idx_job_files_job ON job_files (job_id)",
  };
}

}  // namespace pdr
