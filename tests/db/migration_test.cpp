// Opening a database the predecessor created (its tables, FLOAT columns, no unique keys,
// duplicate rows, its status values) on SQLite, MariaDB and PostgreSQL.
#include <gtest/gtest.h>

#include <filesystem>

#include "db/schema.h"
#include "pdr/db_manager.h"
#include "pdr/grid.h"
#include "pdr/job_store.h"
#include "pdr/parameters.h"
#include "pdr/settings.h"
#include "support/backend.h"

namespace pdr {
namespace {

// Outputs are local files; no owner is known to be gone.
RegisterOptions local_checks() {
  RegisterOptions o;
  o.output_exists = [](const std::string& path) { return std::filesystem::exists(path); };
  o.owner_gone = [](const std::string&, long long) { return false; };
  return o;
}

class PredecessorMigrationTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool mysql() const { return GetParam() == "mysql"; }
  bool pg() const { return GetParam() == "postgresql"; }

  void SetUp() override {
    backend_.open(GetParam());
    if (HasFatalFailure() || IsSkipped()) return;
    db_ = backend_.settings();
    create_predecessor_database();
  }

  void exec(const std::string& sql) { backend_.exec(sql); }
  long long count(const std::string& sql) { return backend_.count(sql); }

  // The predecessor's DDL as SQLAlchemy generated it: FLOAT, BOOL, no unique keys (on
  // PostgreSQL: SERIAL ids, TIMESTAMP, FLOAT as double precision, BOOLEAN).
  void create_predecessor_database() {
    const std::string id = mysql() ? "id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY"
                           : pg()  ? "id SERIAL NOT NULL PRIMARY KEY"
                                   : "id INTEGER NOT NULL PRIMARY KEY";
    const std::string datetime = pg() ? "TIMESTAMP WITHOUT TIME ZONE" : "DATETIME";
    auto run = [&](std::string sql) {
      for (size_t at = sql.find("DATETIME"); at != std::string::npos; at = sql.find("DATETIME", at + datetime.size())) {
        sql.replace(at, 8, datetime);
      }
      backend_.exec(sql);
    };
    run("CREATE TABLE chemical_databases (" + id +
        ", chem_rates_file_name VARCHAR(255) NOT NULL, "
        "chem_rates_full_path VARCHAR(255), database_origin VARCHAR(50))");
    run("CREATE TABLE json_templates (" + id +
        ", name VARCHAR(255) NOT NULL, path VARCHAR(512) NOT NULL, "
        "description TEXT, hash VARCHAR(64), sha256_sum VARCHAR(64) UNIQUE, created_at DATETIME)");
    run("CREATE TABLE kosmatau_executables (" + id +
        ", code_revision VARCHAR(50), compilation_date DATETIME, "
        "executable_file_name VARCHAR(255) NOT NULL, executable_full_path VARCHAR(255), sha256_sum VARCHAR(64), "
        "comment VARCHAR(250))");
    run("CREATE TABLE model_names (" + id +
        ", model_name VARCHAR(255) NOT NULL, model_path VARCHAR(255) NOT NULL, "
        "model_description VARCHAR(1000))");
    run("CREATE TABLE users (" + id + ", username VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL)");
    std::string params = "CREATE TABLE kosmatau_parameters (" + id + ", model_name_id INTEGER, time_created DATETIME";
    for (const auto& p : parameter_specs()) {
      const std::string q = mysql() ? "`" + std::string(p.name) + "`" : "\"" + std::string(p.name) + "\"";
      params += ", " + q +
                (p.type == pdr::ParamType::Real      ? " FLOAT"
                 : p.type == pdr::ParamType::Integer ? " INTEGER"
                                                     : " TEXT");
    }
    run(params + ")");
    run("CREATE TABLE pdr_model_jobs (" + id +
        ", model_name_id INTEGER, model_job_name VARCHAR(255) NOT NULL, "
        "user_id INTEGER, kosmatau_parameters_id INTEGER, kosmatau_executable_id INTEGER, chemical_database_id "
        "INTEGER, onion_species VARCHAR(255), pending BOOL, active BOOL, status VARCHAR(50), time_of_start "
        "DATETIME, time_of_finish DATETIME, execution_time DATETIME, token VARCHAR(250), output_directory "
        "VARCHAR(255), output_hdf4_file VARCHAR(255), output_textout_file VARCHAR(255), output_chemchk_file "
        "VARCHAR(255), output_mcdrt_zip_file VARCHAR(255), output_ctrl_ind_file VARCHAR(255), output_hdf5_file "
        "VARCHAR(250), input_pdrnew_inp_file VARCHAR(255), input_json_file VARCHAR(512), output_json_file "
        "VARCHAR(512), log_file VARCHAR(255), time_created DATETIME, time_updated DATETIME)");
    run("CREATE TABLE hdf_files (" + id +
        ", job_id INTEGER, pdrexe_id INTEGER, parameter_id INTEGER, "
        "model_name_id INTEGER, file_name VARCHAR(255) NOT NULL, full_path VARCHAR(255), path VARCHAR(255), "
        "modification_time DATETIME, sha256_sum VARCHAR(64), file_size INTEGER, corrupt BOOL, comments TEXT, "
        "file_name_hdf5_s VARCHAR(255) NOT NULL, full_path_hdf5_s VARCHAR(255), path_hdf5_s VARCHAR(255), "
        "modification_time_hdf5_s DATETIME, sha256_sum_hdf5_s VARCHAR(64), file_size_hdf5_s INTEGER, "
        "file_name_hdf5_c VARCHAR(255) NOT NULL, full_path_hdf5_c VARCHAR(255), path_hdf5_c VARCHAR(255), "
        "modification_time_hdf5_c DATETIME, sha256_sum_hdf5_c VARCHAR(64), file_size_hdf5_c INTEGER)");
    run("CREATE TABLE json_files (" + id +
        ", name VARCHAR(255) NOT NULL, path VARCHAR(512) NOT NULL, "
        "archived_path VARCHAR(512), sha256_sum VARCHAR(64) UNIQUE, created_at DATETIME, template_id INTEGER, "
        "job_id INTEGER)");
    // Rows as the predecessor left them: a model name twice (its get_or_create race), a
    // parameter row twice, a grid point run twice, a 'problem' job still active, a job stuck running.
    run("INSERT INTO model_names (id, model_name, model_path) VALUES (1, 'old', '/s/old'), (2, 'old', '/s/old')");
    run("INSERT INTO users (id, username, email) VALUES (1, 'Markus', 'm@x')");
    run("INSERT INTO kosmatau_executables (id, executable_file_name) VALUES (1, 'pdrexe')");
    run("INSERT INTO chemical_databases (id, chem_rates_file_name) VALUES (1, 'chem.dat')");
    run("INSERT INTO kosmatau_parameters (id, model_name_id, xnsur, sint, rtot, species) VALUES "
        "(1, 1, 1000.0, 10.0, 2.4578e17, 'H H2'), (2, 1, 1000.0, 10.0, 2.4578e17, 'H H2'), "
        "(3, 1, 10000.0, 10.0, 1.1408e17, 'H H2')");
    run("INSERT INTO pdr_model_jobs (id, model_name_id, model_job_name, kosmatau_parameters_id, pending, active, "
        "status) VALUES (1, 1, '100_30_-10_10_00', 1, FALSE, FALSE, 'finished'), (2, 1, '100_30_-10_10_00', 1, "
        "FALSE, FALSE, 'skipped'), (3, 1, '100_30_-10_10_00', 2, TRUE, FALSE, 'pending'), (4, 1, "
        "'100_40_-10_10_00', 3, FALSE, TRUE, 'problem'), (5, 1, '100_40_-10_10_00', 3, FALSE, TRUE, 'running')");
    // The rows above name their ids, which PostgreSQL's sequences do not see (the predecessor's
    // own inserts never name one): the sequences go on after them.
    if (pg()) {
      for (const char* t : {"model_names", "users", "kosmatau_executables", "chemical_databases", "kosmatau_parameters",
                            "pdr_model_jobs"}) {
        backend_.count(std::string("SELECT setval(pg_get_serial_sequence('") + t + "', 'id'), (SELECT MAX(id) FROM " +
                       t + "))");
      }
    }
  }

  test::BackendDatabase backend_;
  DatabaseSettings db_;
};

// The predecessor skipped a point whose output file was there, also when a failed run ('problem')
// left it: a skipped row after such a failure of the same name, with no finished one, is no
// finish; the failed row is the job (and runs again). A skipped row alone is done.
TEST_P(PredecessorMigrationTest, ASkippedRowAfterAFailedRunIsNoFinish) {
  exec(
      "INSERT INTO pdr_model_jobs (id, model_name_id, model_job_name, kosmatau_parameters_id, pending, active, "
      "status) VALUES (6, 1, '100_50_-10_10_00', 3, FALSE, TRUE, 'problem'), (7, 1, '100_50_-10_10_00', 3, FALSE, "
      "FALSE, 'skipped'), (8, 1, '100_60_-10_10_00', 3, FALSE, FALSE, 'skipped'), (9, 1, '100_70_-10_10_00', 3, "
      "FALSE, FALSE, 'skipped'), (10, 1, '100_70_-10_10_00', 3, FALSE, FALSE, 'exception')");
  if (pg()) backend_.count("SELECT setval(pg_get_serial_sequence('pdr_model_jobs', 'id'), 10)");
  DbManager manager(db_);
  auto store = open_job_store(manager);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 6 AND duplicate_key = 0"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 7 AND duplicate_key = 7"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 8 AND duplicate_key = 0"), 1);
  // A failure after the skip, one that never ran the program ('exception': its database
  // write failed), proves nothing about the file: the skip stays the job.
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 9 AND duplicate_key = 0"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 10 AND duplicate_key = 10"), 1);
  EXPECT_EQ(store.value()->migration().duplicate_jobs, 5);
}

TEST_P(PredecessorMigrationTest, IsAdditiveReportsDuplicatesAndKeepsOldQueriesWorking) {
  DbManager manager(db_);
  auto store = open_job_store(manager);
  ASSERT_TRUE(store.ok()) << store.status().message();
  const MigrationReport m = store.value()->migration();
  EXPECT_TRUE(m.from_predecessor);
  EXPECT_GT(m.columns_added, 5);
  EXPECT_EQ(m.duplicate_parameters, 1);
  // One job per (model, job name): 100_30_-10_10_00 keeps its finished row, 100_40_-10_10_00
  // its newest.
  EXPECT_EQ(m.duplicate_jobs, 3);
  ASSERT_EQ(m.unique_keys_skipped.size(), 1u);
  EXPECT_EQ(m.unique_keys_skipped[0], "model_names (model_name, model_path)");
  if (mysql()) {
    EXPECT_GT(m.columns_widened, 50);
    EXPECT_EQ(count("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                    "TABLE_NAME = 'kosmatau_parameters' AND DATA_TYPE = 'float'"),
              0);
  }
  // No row lost.
  EXPECT_EQ(count("SELECT COUNT(*) FROM model_names"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM kosmatau_parameters"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs"), 5);
  // The predecessor's rows keep their words and flags: its monitoring queries answer as before.
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE pending = TRUE"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE active = TRUE"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'problem'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 5 AND status = 'running'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'cancelled'"), 0);
  // The job of each name: the finished row, and the newest row of the other name.
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE duplicate_key = 0 AND id IN (1, 5)"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE duplicate_key = id AND id IN (2, 3, 4)"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN kosmatau_parameters p ON p.id = "
                  "j.kosmatau_parameters_id JOIN model_names m ON m.id = j.model_name_id WHERE m.model_name = 'old'"),
            5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM schema_version"), 1);

  // The migrated database is used like a new one, and opening it again changes nothing.
  Settings s;
  s.model.metal = {"100"};
  s.model.dens = {"30"};
  s.model.mass = {"-10"};
  s.model.chi = {"10"};
  s.model.alpha = "1.5";
  s.model.rcore = "0.2";
  s.model.chemistry = "H H2";
  Provenance prov;
  prov.model_name = "new";
  prov.model_path = "/s/new";
  prov.username = "u";
  prov.exe_file_name = "mockpdr";
  prov.chem_file_name = "chem.dat";
  RegisterReport r;
  Status st = store.value()->register_grid(prov, plan_grid(s)->points, &r, local_checks());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(r.created, 1u);
  // The old model's points went through FLOAT: the same names now mean other values, so a grid
  // that would write over the old outputs is refused, and the duplicates stay as they are.
  prov.model_name = "old";
  prov.model_path = "/s/old";
  Settings olds = s;
  olds.model.dens = {"30", "40"};
  Status refused = store.value()->register_grid(prov, plan_grid(olds)->points, &r, local_checks());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("model 'old' already has point 100_30_-10_10_00 with other parameters"),
            std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find(" in the database, "), std::string::npos) << refused.message();
  // Nothing of the old model changed; its duplicates are never claimed.
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 3 AND status = 'pending' AND duplicate_key = 3"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 4 AND status = 'problem'"), 1);
  DbManager again(db_);
  auto reopened = open_job_store(again);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_FALSE(reopened.value()->migration().from_predecessor);
  EXPECT_EQ(reopened.value()->migration().unique_keys_skipped.size(), 1u) << "still reported while duplicates last";
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs"), 6);
  // The job counters start from the migrated rows (duplicates not counted).
  for (const char* model : {"old", "new"}) {
    auto c = reopened.value()->check_counts(model);
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_TRUE(c->kept_by_triggers) << c->note;
    EXPECT_EQ(c->counters, c->rows) << model;
  }
  EXPECT_EQ(count("SELECT SUM(n) FROM pdr_job_counts"),
            count("SELECT COUNT(*) FROM pdr_model_jobs WHERE duplicate_key = 0"));
}

// A database of schema version 3 (NOT NULL parameter_hash and duplicate_key, jobs unique by
// parameter row, unique keys on hdf_files/json_files job_id) is upgraded so that the
// predecessor's inserts succeed, and two jobs of one name that version allowed are told apart.
class SchemaThreeUpgradeTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool mysql() const { return GetParam() == "mysql"; }
  void SetUp() override {
    backend_.open(GetParam());
    if (HasFatalFailure() || IsSkipped()) return;
    Dialect d;
    d.mysql = mysql();
    for (auto table : schema_tables()) {
      for (auto& c : table.columns) {
        if (c.name == "parameter_hash") c.type = "CHAR(64) NOT NULL";
        if (c.name == "duplicate_key") c.type = "INTEGER NOT NULL DEFAULT 0";
      }
      exec(create_table_sql(table, d));
    }
    exec("CREATE UNIQUE INDEX uq_jobs ON pdr_model_jobs (model_name_id, kosmatau_parameters_id, duplicate_key)");
    exec("CREATE UNIQUE INDEX uq_hdf_files_job ON hdf_files (job_id)");
    exec("CREATE UNIQUE INDEX uq_model_names ON model_names (model_name)");
    exec("INSERT INTO schema_version (version) VALUES (3)");
    exec("INSERT INTO model_names (id, model_name, model_path) VALUES (1, 'm1', '/s/m1')");
    exec(
        "INSERT INTO kosmatau_parameters (id, model_name_id, parameter_hash, xnsur) VALUES (1, 1, 'h1', 1000), "
        "(2, 1, 'h2', 1000.00001), (3, 1, 'h3', 10000)");
    exec(
        "INSERT INTO pdr_model_jobs (id, model_name_id, model_job_name, kosmatau_parameters_id, status) VALUES "
        "(1, 1, '100_30_-10_10_00', 1, 'finished'), (2, 1, '100_30_-10_10_00', 2, 'pending'), "
        "(3, 1, '100_40_-10_10_00', 3, 'pending')");
  }
  void exec(const std::string& sql) { backend_.exec(sql); }
  long long count(const std::string& sql) { return backend_.count(sql); }
  test::BackendDatabase backend_;
};

TEST_P(SchemaThreeUpgradeTest, LetsThePredecessorInsertAndTellsTwoJobsOfOneNameApart) {
  {
    DbManager manager(backend_.settings());
    auto store = open_job_store(manager);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto c = store.value()->check_counts("m1");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->counters, c->rows);
    EXPECT_EQ(c->rows.at("finished"), 1);
    EXPECT_EQ(c->rows.at("pending"), 1);
  }
  EXPECT_EQ(count("SELECT MAX(version) FROM schema_version"), kSchemaVersion);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs"), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 1 AND duplicate_key = 0"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 2 AND duplicate_key = 2"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE id = 3 AND duplicate_key = 0"), 1);
  // The predecessor's inserts name none of pdr_run's columns.
  exec("INSERT INTO kosmatau_parameters (model_name_id, xnsur) VALUES (1, 10000)");
  exec(
      "INSERT INTO pdr_model_jobs (model_name_id, model_job_name, kosmatau_parameters_id, pending, active, status) "
      "VALUES (1, '100_30_-10_10_00', 1, 1, 0, 'pending')");
  exec("INSERT INTO hdf_files (job_id, file_name, file_name_hdf5_s, file_name_hdf5_c) VALUES (1, 'a', 'b', 'c')");
  exec("INSERT INTO hdf_files (job_id, file_name, file_name_hdf5_s, file_name_hdf5_c) VALUES (1, 'a', 'b', 'c')");
  exec("INSERT INTO model_names (model_name, model_path) VALUES ('m1', '/elsewhere/m1')");
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE duplicate_key IS NULL"), 1);
  if (!mysql()) {
    EXPECT_EQ(count("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('uq_jobs', 'uq_hdf_files_job', "
                    "'uq_model_names')"),
              0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"), 3);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SchemaThreeUpgradeTest, ::testing::Values("sqlite", "mysql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

INSTANTIATE_TEST_SUITE_P(Backends, PredecessorMigrationTest, ::testing::Values("sqlite", "mysql", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace pdr
