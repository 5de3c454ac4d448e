// The switch from the Python pdr_run, tried with what that tool itself wrote (fixtures made by
// running its commit f9be23d5, tests/data/predecessor/README.md): its grids continue with
// nothing recomputed and none of its rows or files changed, its own write statements still
// succeed on a database pdr_run created or opened, and its queries read the same answers.
#include <gtest/gtest.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pdr/db_manager.h"
#include "pdr/job_reports.h"
#include "pdr/job_store.h"
#include "support/echo_log.h"
#include "support/mariadb.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& rel) { return std::string(PDR_SOURCE_DIR) + "/tests/data/predecessor/" + rel; }

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// The tables the predecessor has, with the columns it wrote (read from its own SQLite file).
std::map<std::string, std::vector<std::string>> predecessor_columns() {
  std::map<std::string, std::vector<std::string>> out;
  soci::session s(*soci::factory_sqlite3(), "db=" + fixture("sqlite/pdr.db"));
  std::vector<std::string> tables;
  soci::rowset<std::string> rs = (s.prepare << "SELECT name FROM sqlite_master WHERE type = 'table'");
  for (const auto& t : rs) tables.push_back(t);
  for (const auto& t : tables) {
    soci::rowset<soci::row> cols = (s.prepare << "PRAGMA table_info(" + t + ")");
    for (const auto& c : cols) out[t].push_back(c.get<std::string>(1));
  }
  return out;
}

// A field as text. `float_digits`: a MySQL FLOAT column reads with six digits, the same value
// widened to DOUBLE with all of them; compared at six.
std::string field(const soci::row& row, std::size_t i, bool float_digits = false) {
  if (row.get_indicator(i) == soci::i_null) return "NULL";
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_double: {
      char buf[64];
      if (float_digits) {
        std::snprintf(buf, sizeof buf, "%.6g", row.get<double>(i));
        return buf;
      }
      auto r = std::to_chars(buf, buf + sizeof buf, row.get<double>(i));
      return std::string(buf, r.ptr);
    }
    case soci::dt_integer:
      return std::to_string(row.get<int>(i));
    case soci::dt_long_long:
      return std::to_string(row.get<long long>(i));
    case soci::dt_unsigned_long_long:
      return std::to_string(row.get<unsigned long long>(i));
    case soci::dt_date: {
      std::tm t = row.get<std::tm>(i);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t);
      return buf;
    }
    default:
      return row.get<std::string>(i);
  }
}

// Every row of the predecessor's tables, its own columns only, in id order.
std::vector<std::string> predecessor_rows(soci::session& s, bool mysql) {
  std::vector<std::string> out;
  for (const auto& [table, cols] : predecessor_columns()) {
    std::string list;
    for (const auto& c : cols) list += (list.empty() ? "" : ", ") + (mysql ? "`" + c + "`" : "\"" + c + "\"");
    soci::rowset<soci::row> rs = (s.prepare << "SELECT " + list + " FROM " + table + " ORDER BY id");
    for (const auto& row : rs) {
      std::string line = table + ":";
      for (std::size_t i = 0; i < row.size(); ++i) line += " " + field(row, i, mysql);
      out.push_back(line);
    }
  }
  return out;
}

// Content and modification time of every file under `dir`.
std::map<std::string, std::string> tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    out[e.path().string()] =
        test::read_text(e.path().string()) + "@" + std::to_string(e.last_write_time().time_since_epoch().count());
  }
  return out;
}

// SQLAlchemy's echo shortens long values ("HE+ HE ... (195 characters truncated) ... JS "): the
// whole text is one the predecessor wrote into its fixture database (the species list).
std::string untruncate(const std::string& text) {
  const std::string mark = " characters truncated) ... ";
  const size_t m = text.find(mark);
  if (m == std::string::npos) return text;
  const size_t open = text.rfind(" ... (", m);
  const std::string head = text.substr(0, open), tail = text.substr(m + mark.size());
  const size_t cut = std::stoul(text.substr(open + 6, m - open - 6));
  soci::session s(*soci::factory_sqlite3(), "db=" + fixture("sqlite/pdr.db"));
  soci::rowset<std::string> rs = (s.prepare << "SELECT DISTINCT species FROM kosmatau_parameters");
  for (const auto& whole : rs) {
    if (whole.size() == head.size() + cut + tail.size() && whole.compare(0, head.size(), head) == 0 &&
        whole.compare(whole.size() - tail.size(), tail.size(), tail) == 0) {
      return whole;
    }
  }
  ADD_FAILURE() << "no whole value for " << text;
  return text;
}

// Runs the predecessor's write statements again, with its paths mapped to this test's.
void replay(soci::session& s, const std::string& log, const std::string& from, const std::string& to) {
  const auto statements = test::read_echo_log(fixture("sql/" + log));
  int writes = 0;
  for (const auto& st : statements) {
    if (!test::is_write(st)) continue;
    ++writes;
    std::deque<std::string> texts;
    std::deque<long long> ints;
    std::deque<double> reals;
    std::deque<soci::indicator> inds;
    soci::statement q(s);
    for (const auto& v : st.params) {
      switch (v.kind) {
        case test::EchoValue::Kind::Null:
          texts.emplace_back();
          inds.push_back(soci::i_null);
          q.exchange(soci::use(texts.back(), inds.back()));
          break;
        case test::EchoValue::Kind::Integer:
          ints.push_back(v.integer);
          q.exchange(soci::use(ints.back()));
          break;
        case test::EchoValue::Kind::Real:
          reals.push_back(v.real);
          q.exchange(soci::use(reals.back()));
          break;
        case test::EchoValue::Kind::Text:
          texts.push_back(replace_all(untruncate(v.text), from, to));
          q.exchange(soci::use(texts.back()));
          break;
      }
    }
    try {
      s << "BEGIN";
      q.alloc();
      q.prepare(st.sql);
      q.define_and_bind();
      q.execute(true);
      s << "COMMIT";
    } catch (const std::exception& e) {
      ADD_FAILURE() << log << ": the predecessor's statement failed: " << e.what() << "\n" << st.sql;
      return;
    }
  }
  EXPECT_GT(writes, 5) << log;
}

// A model's jobs by status word, duplicates apart.
long long jobs(soci::session& s, const std::string& where) {
  long long n = -1;
  s << "SELECT COUNT(*) FROM pdr_model_jobs WHERE " + where, soci::into(n);
  return n;
}

class PredecessorTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::copy(fixture("sqlite/store"), dir_ / "store", fs::copy_options::recursive); }

  bool start_mysql() {
    auto& server = test::MariaDb::shared();
    if (!server.available()) {
      if (std::getenv("CI") != nullptr) ADD_FAILURE() << server.error();
      return false;
    }
    mysql_ = true;
    database_ = server.create_database();
    return true;
  }

  std::unique_ptr<soci::session> session() {
    if (!mysql_) return std::make_unique<soci::session>(*soci::factory_sqlite3(), "db=" + (dir_ / "pdr.db"));
    auto& server = test::MariaDb::shared();
    return std::make_unique<soci::session>(*soci::factory_mysql(),
                                           "host=127.0.0.1 port=" + std::to_string(server.port()) + " db=" + database_ +
                                               " user=pdr password='" + server.password() + "'");
  }

  // Where the fixture's run kept its outputs, mapped to this test's copy of them.
  std::string fixture_store() const {
    return mysql_ ? "/tmp/pdr_fixture/mariadb/store" : "/tmp/pdr_fixture/sqlite/store";
  }

  void load_sqlite(const std::string& file) { fs::copy_file(fixture("sqlite/" + file), dir_ / "pdr.db"); }
  void load_dump(const std::string& file) {
    const std::string out = test::MariaDb::shared().source(database_, fixture("mariadb/" + file));
    ASSERT_EQ(out.find("ERROR"), std::string::npos) << out;
  }

  // The fixture's absolute paths are those of the machine that made it.
  void map_paths() {
    auto s = session();
    const std::string from = fixture_store(), to = dir_ / "store";
    auto set = [&](const std::string& table, const std::vector<std::string>& cols) {
      std::string assign;
      for (const auto& c : cols)
        assign += (assign.empty() ? "" : ", ") + c + " = REPLACE(" + c + ", '" + from + "', '" + to + "')";
      *s << "UPDATE " + table + " SET " + assign;
    };
    set("model_names", {"model_path"});
    set("pdr_model_jobs",
        {"output_directory", "output_hdf4_file", "output_textout_file", "output_chemchk_file", "output_mcdrt_zip_file",
         "output_ctrl_ind_file", "input_pdrnew_inp_file", "input_json_file", "log_file"});
    set("hdf_files", {"full_path", "path", "full_path_hdf5_s", "path_hdf5_s", "full_path_hdf5_c", "path_hdf5_c"});
  }

  // The predecessor's own YAML file, with this test's paths.
  std::string write_config() {
    const std::string config = mysql_ ? "mysql.yaml" : "sqlite.yaml";
    std::string yaml = test::read_text(fixture("configs/" + config));
    yaml = replace_all(yaml, "/tmp/pdr_fixture/sqlite/pdr.db", dir_ / "pdr.db");
    yaml = replace_all(yaml, fixture_store(), dir_ / "store");
    yaml = replace_all(yaml, "/tmp/mockbase", PDR_MOCK_BASE);
    test::write_text(dir_ / "config.yaml", yaml);
    return dir_ / "config.yaml";
  }

  test::RunResult run(const std::vector<std::string>& grid, const std::string& model = "m1") {
    std::vector<std::string> args = {"--config", write_config(), "--model-name", model};
    args.insert(args.end(), grid.begin(), grid.end());
    std::vector<std::string> env;
    if (mysql_) env = test::MariaDb::shared().env(database_);
    return test::run_pdr_run(dir_.path(), args, env);
  }

  const std::vector<std::string> grid12_ = {"--dens", "30", "35", "40", "--chi", "10", "20", "--mass", "-10", "00"};
  const std::vector<std::string> grid16_ = {"--dens", "30", "35",     "40",  "45", "--chi",
                                            "10",     "20", "--mass", "-10", "00"};
  test::TempDir dir_;
  bool mysql_ = false;
  std::string database_;
};

TEST_F(PredecessorTest, ItsSqliteGridContinuesWithNothingRecomputedAndNothingOfItsChanged) {
  load_sqlite("pdr_after_extend.db");
  map_paths();
  fs::copy_file(dir_ / "pdr.db", dir_ / "untouched.db");
  std::vector<std::string> rows;
  {
    auto s = session();
    rows = predecessor_rows(*s, false);
  }
  const auto files = tree(dir_ / "store");

  const auto r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("16 points (0 new), 16 already done, 0 queued again, 0 pending"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("0 finished, 0 failed, 16 already done"), std::string::npos) << r.out;
  EXPECT_EQ(tree(dir_ / "store"), files) << "a file of the predecessor was written";
  auto s = session();
  const auto after = predecessor_rows(*s, false);
  ASSERT_GE(after.size(), rows.size());
  for (const auto& row : rows) EXPECT_NE(std::find(after.begin(), after.end(), row), after.end()) << "changed: " << row;
  EXPECT_EQ(jobs(*s, "1 = 1"), 28) << "no job row added";
  // The 12 'skipped' rows of its extension are kept, marked as repeats of the finished jobs.
  EXPECT_EQ(jobs(*s, "duplicate_key = 0 AND status = 'finished'"), 16);
  EXPECT_EQ(jobs(*s, "duplicate_key = id AND status = 'skipped'"), 12);

  // Its own queries (the SELECTs of its extension run) read the same on the database pdr_run used.
  soci::session untouched(*soci::factory_sqlite3(), "db=" + (dir_ / "untouched.db"));
  int selects = 0;
  for (const auto& st : test::read_echo_log(fixture("sql/extend_model.log"))) {
    if (st.sql.rfind("SELECT", 0) != 0 || st.sql.find("sqlite_master") != std::string::npos) continue;
    ++selects;
    auto answer = [&](soci::session& db) {
      std::deque<std::string> texts;
      std::deque<long long> ints;
      std::deque<double> reals;
      std::string out;
      soci::statement q(db);
      soci::row row;
      q.exchange(soci::into(row));
      for (const auto& v : st.params) {
        if (v.kind == test::EchoValue::Kind::Integer) {
          ints.push_back(v.integer);
          q.exchange(soci::use(ints.back()));
        } else if (v.kind == test::EchoValue::Kind::Real) {
          reals.push_back(v.real);
          q.exchange(soci::use(reals.back()));
        } else {
          texts.push_back(replace_all(v.text, fixture_store(), dir_ / "store"));
          q.exchange(soci::use(texts.back()));
        }
      }
      q.alloc();
      q.prepare(st.sql);
      q.define_and_bind();
      q.execute(false);
      while (q.fetch()) {
        for (std::size_t i = 0; i < row.size(); ++i) out += field(row, i) + "|";
        out += "\n";
      }
      return out;
    };
    EXPECT_EQ(answer(*s), answer(untouched)) << st.sql;
  }
  EXPECT_GT(selects, 50);
}

// A run or a worker whose storage.base_dir is not where the model's outputs are is refused
// before the predecessor's tables are migrated: not a byte of its database changes.
TEST_F(PredecessorTest, AStorageElsewhereIsRefusedBeforeItsDatabaseIsMigrated) {
  load_sqlite("pdr.db");  // paths not mapped: its outputs are recorded under /tmp/pdr_fixture
  const std::string before = test::read_text(dir_ / "pdr.db");
  const std::string config = write_config();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"worker", "--config", config, "--model-name", "m1"},
        std::vector<std::string>{"--config", config, "--model-name", "m1", "--dens", "30", "--chi", "10"}}) {
    auto r = test::run_pdr_run(dir_.path(), args);
    EXPECT_EQ(r.code, 2) << args[0] << r.err;
    EXPECT_NE(r.err.find("model 'm1' already stores its outputs in " + fixture_store() + "/m1"), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("columns added"), std::string::npos) << r.err;
    EXPECT_EQ(test::read_text(dir_ / "pdr.db"), before) << args[0];
  }
}

TEST_F(PredecessorTest, OnlyWhatIsMissingOfItsOutputsRunsAgainAndVerifyChecksItsChecksums) {
  load_sqlite("pdr_after_extend.db");
  map_paths();
  const std::string store = dir_ / "store";
  auto r = test::run_pdr_run(dir_.path(), {"verify", "--config", write_config(), "--model-name", "m1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("model m1: 16 finished jobs, 128 outputs checked, 0 jobs back to pending"), std::string::npos)
      << r.out;

  // One HDF file changed, one onion log gone: those two jobs, and only they, run again.
  test::write_text(store + "/m1/pdrgrid/pdrchem100_35_-10_10_00.hdf5", "damaged");
  fs::remove(store + "/m1/oniongrid/TEXTOUT100_40_00_20_00_C+");
  auto before = tree(store);
  r = test::run_pdr_run(dir_.path(), {"verify", "--config", write_config(), "--model-name", "m1"});
  ASSERT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("output changed (size): " + store + "/m1/pdrgrid/pdrchem100_35_-10_10_00.hdf5; back to pending"),
            std::string::npos)
      << r.out;
  // What it did not hash is checked for being there, as a registration would.
  EXPECT_NE(r.out.find("output missing: " + store + "/m1/oniongrid/TEXTOUT100_40_00_20_00_C+; back to pending"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(", 2 jobs back to pending"), std::string::npos) << r.out;
  r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 finished, 0 failed, 14 already done"), std::string::npos) << r.out;
  const auto after = tree(store);
  for (const auto& [path, content] : before) {
    if (path.find("100_35_-10_10_00") != std::string::npos || path.find("100_40_00_20_00") != std::string::npos)
      continue;
    EXPECT_EQ(after.at(path), content) << "rewritten: " << path;
  }
  EXPECT_EQ(after.count(store + "/m1/oniongrid/TEXTOUT100_40_00_20_00_C+"), 1u);
  auto s = session();
  EXPECT_EQ(jobs(*s, "duplicate_key = 0 AND status = 'finished'"), 16);
}

// Its database as pdr_run's schema 3 left it (NOT NULL DEFAULT 0 duplicate_key added to its
// table, which has foreign keys from hdf_files and json_files): upgraded in place.
TEST_F(PredecessorTest, ItsDatabaseMigratedBySchemaThreeIsUpgradedInPlace) {
  load_sqlite("pdr_after_extend.db");
  map_paths();
  {
    auto s = session();
    *s << "ALTER TABLE pdr_model_jobs ADD COLUMN \"duplicate_key\" INTEGER NOT NULL DEFAULT 0";
    *s << "ALTER TABLE kosmatau_parameters ADD COLUMN \"parameter_hash\" CHAR(64)";
    *s << "UPDATE pdr_model_jobs SET duplicate_key = id WHERE status = 'skipped'";
    *s << "CREATE TABLE schema_version (id INTEGER PRIMARY KEY AUTOINCREMENT, \"version\" INTEGER NOT NULL)";
    *s << "INSERT INTO schema_version (version) VALUES (3)";
    *s << "CREATE VIEW people_watch AS SELECT model_job_name, status FROM pdr_model_jobs";
  }
  const auto r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("16 points (0 new), 16 already done"), std::string::npos) << r.err;
  auto s = session();
  std::string ddl;
  *s << "SELECT sql FROM sqlite_master WHERE name = 'pdr_model_jobs'", soci::into(ddl);
  EXPECT_NE(ddl.find("\"duplicate_key\" INTEGER,"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("FOREIGN KEY(kosmatau_parameters_id) REFERENCES kosmatau_parameters (id)"), std::string::npos)
      << ddl;
  long long n = -1;
  *s << "SELECT COUNT(*) FROM people_watch", soci::into(n);
  EXPECT_EQ(n, 28);
  *s << "SELECT MAX(version) FROM schema_version", soci::into(n);
  EXPECT_EQ(n, kSchemaVersion);
  std::string check;
  *s << "PRAGMA integrity_check", soci::into(check);
  EXPECT_EQ(check, "ok");
}

TEST_F(PredecessorTest, ItsFailureWordsStayAndItsFailedPointRunsAgainWithItsLogRecorded) {
  load_sqlite("pdr.db");
  map_paths();
  const auto files = tree(dir_ / "store");
  auto r = run(grid16_);
  // The model has a failed job (its point is not in this grid): said, and not rewritten.
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("16 finished, 1 failed, 0 pending"), std::string::npos) << r.out;
  {
    auto s = session();
    EXPECT_EQ(jobs(*s, "id = 29 AND status = 'exception_runtime' AND error IS NULL"), 1);
  }
  EXPECT_EQ(tree(dir_ / "store"), files);

  r = run({"--dens", "50", "--chi", "10", "--mass", "-10"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto s = session();
  EXPECT_EQ(jobs(*s,
                 "id = 29 AND status = 'finished' AND log_file = output_textout_file AND log_file LIKE "
                 "'%/m1/pdrgrid/TEXTOUT100_50_-10_10_00'"),
            1);
  long long json = -1;
  *s << "SELECT COUNT(*) FROM json_files WHERE job_id = 29", soci::into(json);
  EXPECT_EQ(json, 1);
}

TEST_F(PredecessorTest, ItsMariaDbGridContinuesDespiteItsFloatColumnsAndItsUniqueKeys) {
  if (!start_mysql()) GTEST_SKIP() << "no MariaDB";
  load_dump("dump_after_extend.sql");
  map_paths();
  std::vector<std::string> rows;
  {
    auto s = session();
    rows = predecessor_rows(*s, true);
  }
  const auto files = tree(dir_ / "store");
  auto r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("16 points (0 new), 16 already done"), std::string::npos) << r.err;
  EXPECT_EQ(tree(dir_ / "store"), files);
  {
    auto s = session();
    const auto after = predecessor_rows(*s, true);
    for (const auto& row : rows)
      EXPECT_NE(std::find(after.begin(), after.end(), row), after.end()) << "changed: " << row;
    EXPECT_EQ(jobs(*s, "1 = 1"), 28);
  }
  // A point whose output is gone runs again, with its exact values (not the FLOAT ones).
  fs::remove(dir_ / "store/m1/pdrgrid/pdrstruct100_35_-10_10_00.hdf5");
  r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 finished, 0 failed, 15 already done"), std::string::npos) << r.out;
  {
    auto s = session();
    EXPECT_EQ(jobs(*s,
                   "model_job_name = '100_35_-10_10_00' AND duplicate_key = 0 AND status = 'finished' AND "
                   "kosmatau_parameters_id IN (SELECT id FROM kosmatau_parameters WHERE "
                   "ABS(xnsur - 3162.2776601683795) < 1e-9)"),
              1);
  }
  // The same grid as another model: byte-identical configs meet the predecessor's UNIQUE
  // json_files.sha256_sum; the jobs finish regardless.
  r = run(grid16_, "m2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("16 finished, 0 failed, 0 pending, 0 running"), std::string::npos) << r.out;
}

// Three processes opening the predecessor's MariaDB database at once: MySQL's schema changes
// commit as they go, so one migrates it and creates the job counters while the others wait; none
// fails on the others' work, the counts are the rows', and only one says it migrated.
TEST_F(PredecessorTest, ItsMariaDbDatabaseOpenedByThreeProcessesAtOnceIsMigratedOnce) {
  if (!start_mysql()) GTEST_SKIP() << "no MariaDB";
  load_dump("dump_after_extend.sql");
  map_paths();
  std::vector<std::string> args = {"--config", write_config(), "--model-name", "m1", "--register-only"};
  args.insert(args.end(), grid16_.begin(), grid16_.end());
  std::vector<std::pair<pid_t, std::string>> started;
  for (int i = 0; i < 3; ++i) {
    const std::string cwd = dir_ / ("p" + std::to_string(i));
    fs::create_directories(cwd);
    started.emplace_back(test::start_pdr_run(cwd, args, test::MariaDb::shared().env(database_)), cwd);
  }
  int migrated = 0;
  for (const auto& [pid, cwd] : started) {
    const auto r = test::finish_pdr_run(pid, cwd);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("16 points (0 new), 16 already done"), std::string::npos) << r.err;
    if (r.err.find("opened a database of the Python pdr_run") != std::string::npos) ++migrated;
  }
  EXPECT_EQ(migrated, 1);
  auto s = session();
  EXPECT_EQ(jobs(*s, "1 = 1"), 28);
  long long mismatched = -1;
  *s << "SELECT COUNT(*) FROM (SELECT status, COUNT(*) AS n FROM pdr_model_jobs WHERE duplicate_key = 0 GROUP BY "
        "status) r LEFT JOIN (SELECT status, SUM(n) AS n FROM pdr_job_counts GROUP BY status) c ON c.status = "
        "r.status WHERE c.n IS NULL OR c.n <> r.n",
      soci::into(mismatched);
  EXPECT_EQ(mismatched, 0);
}

// A process that waits for another's schema change says so at once and names the holder, and
// goes on when the lock is given up.
TEST_F(PredecessorTest, AProcessWaitingForTheSchemaLockNamesWhoHoldsIt) {
  if (!start_mysql()) GTEST_SKIP() << "no MariaDB";
  load_dump("dump_after_extend.sql");
  map_paths();
  auto holder = session();
  long long got = 0, me = 0;
  *holder << "SELECT GET_LOCK(SHA1(CONCAT('pdr_run schema ', DATABASE())), 0), CONNECTION_ID()", soci::into(got),
      soci::into(me);
  ASSERT_EQ(got, 1);
  std::vector<std::string> args = {"--config", write_config(), "--model-name", "m1", "--register-only"};
  args.insert(args.end(), grid16_.begin(), grid16_.end());
  const std::string cwd = dir_ / "waiting";
  fs::create_directories(cwd);
  const pid_t pid = test::start_pdr_run(cwd, args, test::MariaDb::shared().env(database_));
  const std::string said =
      "waiting for another process that changes the database schema: server session " + std::to_string(me) + " of ";
  bool seen = false;
  for (int i = 0; i < 600 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = test::read_text(cwd + "/.stderr").find(said) != std::string::npos;
  }
  EXPECT_TRUE(seen) << test::read_text(cwd + "/.stderr");
  long long columns = -1;
  *holder << "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = "
             "'kosmatau_parameters' AND COLUMN_NAME = 'parameter_hash'",
      soci::into(columns);
  EXPECT_EQ(columns, 0) << "nothing migrated while the lock is held";
  *holder << "DO RELEASE_LOCK(SHA1(CONCAT('pdr_run schema ', DATABASE())))";
  const auto r = test::finish_pdr_run(pid, cwd);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("opened a database of the Python pdr_run"), std::string::npos) << r.err;
}

// The predecessor's statements of a new model and of an extension, run on a database pdr_run
// created, and on one it opened, then pdr_run goes on with what they wrote.
TEST_F(PredecessorTest, ItsWritesSucceedOnASqliteDatabasePdrRunCreatedAndOneItOpened) {
  {
    DatabaseSettings db;
    db.type = "sqlite";
    db.path = dir_ / "pdr.db";
    DbManager manager(db);
    ASSERT_TRUE(open_job_store(manager).ok());
  }
  {
    auto s = session();
    replay(*s, "new_model.log", fixture_store(), dir_ / "store");
    replay(*s, "extend_model.log", fixture_store(), dir_ / "store");
    replay(*s, "failed_job.log", fixture_store(), dir_ / "store");
  }
  auto r = run(grid16_);
  EXPECT_EQ(r.code, 1) << r.err << r.out;  // its failed point is a job of the model
  EXPECT_NE(r.err.find("16 points (0 new), 16 already done"), std::string::npos) << r.err;
  {
    auto s = session();
    EXPECT_EQ(jobs(*s, "duplicate_key = 0"), 17);
    EXPECT_EQ(jobs(*s, "duplicate_key = id AND status = 'skipped'"), 12);
  }

  // Opened by pdr_run (which continued its 12 points), then extended by the predecessor.
  fs::remove(dir_ / "pdr.db");
  load_sqlite("pdr_after_new_model.db");
  map_paths();
  r = run(grid12_);
  ASSERT_EQ(r.code, 0) << r.err;
  {
    auto s = session();
    replay(*s, "extend_model.log", fixture_store(), dir_ / "store");
  }
  // Its rows are in no count until the next registration takes them in: doctor says so (it
  // said the counters equal the rows).
  auto doctor = test::run_pdr_run(dir_.path(), {"doctor", "--config", write_config()});
  EXPECT_NE(doctor.out.find("WARN  job counts: kept by triggers, equal to the rows of 1 model(s), but "),
            std::string::npos)
      << doctor.out;
  EXPECT_NE(doctor.out.find(" the Python pdr_run wrote since the last registration are in no count"), std::string::npos)
      << doctor.out;
  r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("16 points (0 new), 16 already done"), std::string::npos) << r.err;
  doctor = test::run_pdr_run(dir_.path(), {"doctor", "--config", write_config()});
  EXPECT_NE(doctor.out.find("OK    job counts: kept by triggers"), std::string::npos) << doctor.out;
}

TEST_F(PredecessorTest, ItsWritesSucceedOnAMariaDbDatabasePdrRunCreatedAndOneItOpened) {
  if (!start_mysql()) GTEST_SKIP() << "no MariaDB";
  {
    DbManager manager(test::MariaDb::shared().settings(database_));
    ASSERT_TRUE(open_job_store(manager).ok());
  }
  {
    auto s = session();
    *s << "SET SESSION sql_mode = 'STRICT_TRANS_TABLES'";
    replay(*s, "mariadb_new_model.log", fixture_store(), dir_ / "store");
    replay(*s, "mariadb_extend_model.log", fixture_store(), dir_ / "store");
  }
  auto r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("16 points (0 new), 16 already done"), std::string::npos) << r.err;

  // Opened (migrated) by pdr_run, then extended by the predecessor. (Not after a pdr_run
  // registration: its INSERT IGNOREs use up AUTO_INCREMENT values, so the predecessor's new rows
  // would get other ids than the literal ones in its log; the predecessor itself uses the ids
  // it gets.)
  database_ = test::MariaDb::shared().create_database();
  load_dump("dump.sql");
  map_paths();
  {
    DbManager manager(test::MariaDb::shared().settings(database_));
    auto store = open_job_store(manager);
    ASSERT_TRUE(store.ok()) << store.status().message();
    EXPECT_TRUE(store.value()->migration().from_predecessor);
  }
  {
    auto s = session();
    *s << "SET SESSION sql_mode = 'STRICT_TRANS_TABLES'";
    replay(*s, "mariadb_extend_model.log", fixture_store(), dir_ / "store");
  }
  r = run(grid16_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("16 points (0 new), 16 already done"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pdr
