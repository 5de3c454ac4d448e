// The job store against real databases: every test runs on SQLite (a file) and on MariaDB (a
// throwaway server started by the tests).
#include "pdr/job_store.h"

#include <gtest/gtest.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "db/db_error.h"
#include "db/dialect.h"
#include "db/schema.h"
#include "db/soci_job_store.h"
#include "db/statement_cache.h"
#include "pdr/db_manager.h"
#include "pdr/grid.h"
#include "pdr/settings.h"
#include "support/backend.h"
#include "support/history_check.h"
#include "support/mariadb.h"
#include "support/temp_dir.h"
#include "util/text.h"

namespace pdr {
namespace {

class JobStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_.open(GetParam());
    if (HasFatalFailure() || IsSkipped()) return;
    db_ = backend_.settings();
    manager_ = std::make_unique<DbManager>(db_);
    auto store = open_job_store(*manager_);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store.value());
    prov_.model_name = "m1";
    prov_.model_path = dir_ / "storage/m1";
    prov_.username = "u";
    prov_.email = "u@x";
    prov_.exe_file_name = "mockpdr";
    prov_.exe_dir = "/base";
    prov_.exe_sha256 = "abc";
    prov_.exe_revision = "r1";
    prov_.chem_file_name = "chem.dat";
    prov_.chem_full_path = "/base/pdrinpdata/chem.dat";
    prov_.chem_origin = "UDfA12";
    prov_.onion_species = "CO C+";
  }

  // Every test also checks that the counters the triggers keep equal the rows, whatever the
  // test did to the jobs.
  void TearDown() override {
    if (!store_ || HasFatalFailure() || IsSkipped()) return;
    auto models = store_->model_names();
    ASSERT_TRUE(models.ok()) << models.status().message();
    for (const auto& m : models.value()) {
      auto c = store_->check_counts(m);
      ASSERT_TRUE(c.ok()) << c.status().message();
      EXPECT_TRUE(c->kept_by_triggers) << c->note;
      EXPECT_EQ(c->counters, c->rows) << "model " << m;
    }
    // ... and that every job's history agrees with its state (unless the test changed job rows
    // with SQL, as a script would: pdr_run writes history for its own changes only).
    if (!history_incomplete_) {
      test::expect_history_agrees([&](const std::string& sql) { return count(sql); }, /*finished_once=*/false);
    }
  }

  // One job's history as "event/state/attempt/epoch/token" words.
  // The events of one job of model m1, oldest first.
  Result<std::vector<JobEvent>> events_of(long long job_id) {
    HistoryQuery q;
    q.model = "m1";
    q.job = std::to_string(job_id);
    return store_->job_history(q);
  }

  Result<std::vector<JobEvent>> events_named(const std::string& name) {
    HistoryQuery q;
    q.model = "m1";
    q.job = name;
    return store_->job_history(q);
  }

  std::vector<std::string> history_of(long long job_id) {
    auto events = events_of(job_id);
    EXPECT_TRUE(events.ok()) << events.status().message();
    std::vector<std::string> out;
    if (!events.ok()) return out;
    for (const auto& e : events.value()) {
      out.push_back(e.event + "/" + e.state + "/" + std::to_string(e.attempt) + "/" + std::to_string(e.lease_epoch) +
                    "/" + e.token);
    }
    return out;
  }

  std::vector<GridPoint> points(std::vector<std::string> dens) {
    Settings s;
    s.model.metal = {"100"};
    s.model.dens = std::move(dens);
    s.model.mass = {"-10"};
    s.model.chi = {"10", "20"};
    s.model.alpha = "1.5";
    s.model.rcore = "0.2";
    s.model.chemistry = "H H2 CO ";
    return plan_grid(s)->points;
  }

  void drop_count_triggers() {
    for (const char* t : {"trg_pdr_jobs_count_insert", "trg_pdr_jobs_count_update", "trg_pdr_jobs_count_delete"}) {
      exec(std::string("DROP TRIGGER ") + t + (backend_.postgresql() ? " ON pdr_model_jobs" : ""));
    }
  }

  // Marks the database as left by an older pdr_run at `version` and opens it again (a new
  // manager, as a new process would); the open must upgrade it to the current version.
  JobStore* reopen_at_version(int version) {
    exec("DELETE FROM schema_version");
    exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(version) + ")");
    other_manager_ = std::make_unique<DbManager>(db_);
    auto store = open_job_store(*other_manager_);
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (!store.ok()) return nullptr;
    other_store_ = std::move(store.value());
    EXPECT_EQ(count("SELECT MAX(version) FROM schema_version"), kSchemaVersion);
    return other_store_.get();
  }

  long long count(const std::string& sql) { return backend_.count(sql); }
  void exec(const std::string& sql) { backend_.exec(sql); }

  // Outputs are local files; the only owner known to be gone is pid 999999999 (cannot exist).
  static RegisterOptions options() {
    RegisterOptions o;
    o.output_exists = [](const std::string& path) { return std::filesystem::exists(path); };
    o.owner_gone = [](const std::string&, long long pid) { return pid == 999999999; };
    return o;
  }

  RegisterReport register_points(const std::vector<GridPoint>& p) {
    RegisterReport r;
    Status st = store_->register_grid(prov_, p, &r, options());
    EXPECT_TRUE(st.ok()) << st.message();
    return r;
  }

  test::BackendDatabase backend_;
  const test::TempDir& dir_ = backend_.dir();
  DatabaseSettings db_;
  std::unique_ptr<DbManager> manager_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<DbManager> other_manager_;  // reopen_at_version
  std::unique_ptr<JobStore> other_store_;
  Provenance prov_;
  const Owner owner_{"h", 1, "tok1"};
  bool history_incomplete_ = false;  // the test changed job states with SQL or pruned the history
};

TEST_P(JobStoreTest, RegisteringTwiceCreatesRowsOnce) {
  auto r1 = register_points(points({"30", "40"}));
  EXPECT_EQ(r1.points, 4u);
  EXPECT_EQ(r1.created, 4u);
  EXPECT_EQ(r1.pending, 4u);
  auto r2 = register_points(points({"30.0", "40", "50"}));
  EXPECT_EQ(r2.created, 2u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs"), 6);
  EXPECT_EQ(count("SELECT COUNT(*) FROM kosmatau_parameters"), 6);
  EXPECT_EQ(count("SELECT COUNT(*) FROM model_names"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM users"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM kosmatau_executables"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM chemical_databases"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE pending = TRUE AND active = FALSE AND status = 'pending'"),
            6);
  EXPECT_EQ(count("SELECT MAX(version) FROM schema_version"), kSchemaVersion);
}

// The parameter rows of a grid are written in the order of their hashes, in batches, and the
// job rows in the grid's order: every job must still point at the row of its own values, and
// each value must be in its own column. 5,600 points over all four axes: two batches of each.
TEST_P(JobStoreTest, EveryJobOfABigGridPointsAtTheParameterRowOfItsOwnValues) {
  Settings s;
  s.model.metal = {"100", "50"};
  s.model.mass = {"-10", "0"};
  for (int d = 0; d < 35; ++d) s.model.dens.push_back(std::to_string(d));
  for (int c = 0; c < 40; ++c) s.model.chi.push_back(std::to_string(c));
  s.model.alpha = "1.5";
  s.model.rcore = "0.2";
  s.model.chemistry = "H H2 CO ";
  const auto grid = plan_grid(s);
  ASSERT_TRUE(grid.ok()) << grid.status().message();
  const auto& pts = grid->points;
  ASSERT_EQ(pts.size(), 5600u);
  std::unordered_map<std::string, const GridPoint*> by_name;
  for (const auto& p : pts) by_name[p.job_name] = &p;
  // Every job's row: its hash, its five own values each in its column, and a base value.
  auto check_rows = [&]() {
    auto sql = backend_.session();
    soci::rowset<soci::row> rs =
        (sql->prepare << "SELECT j.model_job_name, p.parameter_hash, p.zmetal, p.xnsur, p.mass, p.sint, p.rtot, "
                         "p.alpha FROM pdr_model_jobs j JOIN kosmatau_parameters p ON p.id = j.kosmatau_parameters_id");
    size_t seen = 0, wrong = 0;
    for (const auto& row : rs) {
      ++seen;
      const GridPoint* p = by_name.at(row.get<std::string>(0));
      const bool same = row.get<std::string>(1) == p->param_hash && row.get<double>(2) == std::stod(p->zmetal) &&
                        row.get<double>(3) == std::stod(p->xnsur) && row.get<double>(4) == std::stod(p->mass_value) &&
                        row.get<double>(5) == std::stod(p->sint) && row.get<double>(6) == std::stod(p->rtot) &&
                        row.get<double>(7) == 1.5;
      if (!same && wrong++ == 0) ADD_FAILURE() << "job " << row.get<std::string>(0) << " has another point's values";
    }
    EXPECT_EQ(seen, pts.size());
    EXPECT_EQ(wrong, 0u);
  };
  auto r = register_points(pts);
  EXPECT_EQ(r.created, pts.size());
  EXPECT_EQ(r.pending, pts.size());
  check_rows();
  // Registering the same grid again adds nothing and leaves every job on its row.
  auto again = register_points(pts);
  EXPECT_EQ(again.created, 0u);
  EXPECT_EQ(again.pending, pts.size());
  EXPECT_EQ(count("SELECT COUNT(*) FROM kosmatau_parameters"), static_cast<long long>(pts.size()));
  check_rows();
}

// The predecessor named a job by its values as typed ("5", "5.0"), pdr_run by their canonical
// text ("05"): a point the model has under such a name keeps that job, its name and outputs.
TEST_P(JobStoreTest, APointThePredecessorNamedByItsValuesAsTypedKeepsItsJob) {
  const auto pts = points({"5", "30"});
  const auto first = register_points(pts);
  history_incomplete_ = true;
  auto claimed = store_->claim_jobs(first.model_id, 1, owner_);  // a job with a history
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  ASSERT_EQ(claimed->front().name, "100_05_-10_10_00");
  exec(
      "UPDATE pdr_model_jobs SET model_job_name = '100_5_-10_10_00', status = 'finished', pending = FALSE WHERE "
      "model_job_name = '100_05_-10_10_00'");
  exec(
      "UPDATE pdr_model_jobs SET model_job_name = '100_5.0_-10_20_00', status = 'finished', pending = FALSE WHERE "
      "model_job_name = '100_05_-10_20_00'");
  std::filesystem::create_directories(prov_.model_path + "/pdrgrid");
  std::filesystem::create_directories(prov_.model_path + "/oniongrid");
  for (const std::string name : {"100_5_-10_10_00", "100_5.0_-10_20_00"}) {
    test::write_text(prov_.model_path + "/pdrgrid/pdrstruct" + name + ".hdf5", "x");
    for (const char* species : {"CO", "C+"}) {
      test::write_text(prov_.model_path + "/oniongrid/TEXTOUT" + name + "_" + species, "x");
    }
  }
  auto again = register_points(pts);
  EXPECT_EQ(again.created, 0u);
  EXPECT_EQ(again.respelled, 2u);
  EXPECT_EQ(again.already_finished, 2u);
  EXPECT_EQ(again.pending, 2u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs"), 4);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE model_job_name IN ('100_05_-10_10_00', "
                  "'100_05_-10_20_00')"),
            0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 2);
  // Its history is found by either spelling; one that names no job of the model is an error.
  for (const std::string name : {"100_05_-10_10_00", "100_5_-10_10_00", "100_5.00_-10_10_00"}) {
    auto events = events_named(name);
    ASSERT_TRUE(events.ok()) << name << ": " << events.status().message();
    ASSERT_FALSE(events->empty()) << name;
    EXPECT_EQ(events->front().job_name, "100_5_-10_10_00") << name;
  }
  EXPECT_FALSE(events_named("100_06_-10_10_00").ok());
  // A job whose stored name is canonical is found by another spelling too (it was not: only a
  // stored name of the predecessor's spelling was compared).
  auto other = events_named("100_30.0_-10_10_00");
  EXPECT_TRUE(other.ok()) << other.status().message();
}

// A job records the program that ran it: a job claimed by a process of another build (a rerun
// after the program changed) names that build, not the one it was registered with.
TEST_P(JobStoreTest, AClaimRecordsTheProgramThatRunsTheAttempt) {
  auto r = register_points(points({"30"}));
  Provenance other = prov_;
  other.exe_dir = "/base2";
  other.exe_sha256 = "def";
  ASSERT_TRUE(store_->use_json_template(other).ok());
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(jobs->size(), 1u);
  const std::string of_exe =
      "SELECT COUNT(*) FROM pdr_model_jobs j JOIN kosmatau_executables e ON e.id = j.kosmatau_executable_id WHERE ";
  EXPECT_EQ(count(of_exe + "e.sha256_sum = 'def' AND j.id = " + std::to_string(jobs->front().id)), 1);
  EXPECT_EQ(count(of_exe + "e.sha256_sum = 'abc' AND j.status = 'pending'"), 1) << "the other job is not touched";
}

// MySQL compares model names without case (and trailing spaces): a name it takes for another
// model's is refused as that, not as a model stored elsewhere. The other databases tell them apart.
TEST_P(JobStoreTest, AModelNameTheServerTakesForAnotherModelsIsRefusedAsThat) {
  register_points(points({"30"}));
  Provenance upper = prov_;
  upper.model_name = "M1";
  upper.model_path = dir_ / "storage/M1";
  RegisterReport r;
  Status st = store_->register_grid(upper, points({"30"}), &r, options());
  if (GetParam() != "mysql") {
    EXPECT_TRUE(st.ok()) << st.message();
    return;
  }
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("model 'M1' is model 'm1' on this MySQL server"), std::string::npos) << st.message();
  EXPECT_EQ(count("SELECT COUNT(*) FROM model_names"), 1);
}

// Failed is every status word but the other states' words: the predecessor's words, any
// unknown word, one that sorts before or after all of them, and the empty string.
TEST_P(JobStoreTest, FailedIsEveryWordButTheOtherStates) {
  register_points(points({"30", "40", "50", "60", "70", "80"}));
  history_incomplete_ = true;
  const std::vector<std::string> failed = {"exception_runtime", "ERROR", "problem", "aaa", "zzz", "", "failed"};
  const std::vector<std::string> others = {"pending", "running", "finished", "skipped", "cancelled"};
  // One pending job at a time gets the next word; the last one stays pending.
  for (const auto& words : {failed, others}) {
    for (const auto& w : words) {
      if (w == "pending") continue;
      exec("UPDATE pdr_model_jobs SET status = '" + w +
           "' WHERE id = (SELECT m FROM (SELECT MIN(id) AS m FROM pdr_model_jobs WHERE status = 'pending') t)");
    }
  }
  ASSERT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE " + status_sql(JobState::Failed)),
            static_cast<long long>(failed.size()));
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_failures_v WHERE model_name = 'm1'"),
            static_cast<long long>(failed.size()));
  for (const auto& w : others) {
    EXPECT_EQ(
        count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = '" + w + "' AND " + status_sql(JobState::Failed)), 0)
        << w;
  }
}

TEST_P(JobStoreTest, FloatingColumnsKeepDoublePrecision) {
  register_points(points({"31"}));
  char literal[64];
  std::snprintf(literal, sizeof literal, "%.17g", std::pow(10.0, 3.1));
  // Equal to the double: a single-precision FLOAT column would not be.
  EXPECT_EQ(count(std::string("SELECT COUNT(*) FROM kosmatau_parameters WHERE xnsur = ") + literal), 2);
}

TEST_P(JobStoreTest, ClaimMovesPendingToRunningOnce) {
  auto r = register_points(points({"30", "40"}));
  auto a = store_->claim_jobs(r.model_id, 3, owner_);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 3u);
  auto b = store_->claim_jobs(r.model_id, 3, Owner{"h", 2, "tok2"});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ(b->front().attempt, 1);
  auto c = store_->claim_jobs(r.model_id, 3, owner_);
  EXPECT_TRUE(c->empty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' AND pending = FALSE AND active = TRUE "
                  "AND attempts = 1 AND host = 'h' AND time_of_start IS NOT NULL"),
            4);
}

TEST_P(JobStoreTest, SingleClaimWorks) {
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 1u);
}

// The outcome of `job`'s attempt as its owner `token` records it; a failure is retried.
Outcome outcome(const ClaimedJob& job, const std::string& token, JobState state, const std::string& error = "",
                Stage stage = Stage::None, const std::string& cause = "") {
  Outcome o;
  o.job_id = job.id;
  o.epoch = job.epoch;
  o.token = token;
  o.state = state;
  o.error = error;
  o.stage = stage;
  o.cause = cause;
  o.retry = state == JobState::Failed;
  o.earlier_files = job.earlier_files;  // as the runner passes it on
  return o;
}

// A failure recorded as it is (failed for good), not retried.
Outcome failure(const ClaimedJob& job, int exit_code, const std::string& error, Stage stage, const std::string& cause) {
  Outcome o = outcome(job, "tok1", JobState::Failed, error, stage, cause);
  o.exit_code = exit_code;
  o.retry = false;
  return o;
}

TEST_P(JobStoreTest, StatusChangesAreConditionalOnStateAndOwner) {
  auto r = register_points(points({"30"}));
  auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
  EXPECT_FALSE(store_->record_outcome(outcome(jobs->front(), "someone-else", JobState::Finished))->applied);
  const Outcome fail = failure(jobs->front(), 3, "pdr: exit code 3", Stage::Pdr, "exit code 3");
  EXPECT_TRUE(store_->record_outcome(fail)->applied);
  EXPECT_FALSE(store_->record_outcome(fail)->applied) << "replaying a change must be harmless";
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND exit_code = 3 AND "
                  "error = 'pdr: exit code 3' AND pending = FALSE AND active = FALSE AND time_of_finish IS NOT NULL "
                  "AND token IS NULL AND error_stage = 'pdr' AND error_cause = 'exit code 3'"),
            1);
}

// Finishes of jobs that ended together share one transaction: each is recorded as alone (files
// too), one whose lease was taken over is rejected without stopping the others, and a replay
// of the batch changes nothing.
TEST_P(JobStoreTest, FinishesRecordedTogetherAreEachRecordedAsAlone) {
  auto r = register_points(points({"30", "40"}));
  auto jobs = store_->claim_jobs(r.model_id, 3, owner_);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 3u);
  std::vector<Outcome> batch;
  for (const auto& job : *jobs) batch.push_back(outcome(job, "tok1", JobState::Finished));
  batch[0].files = {StoredFile{"output_hdf4_file", dir_ / "pdr.hdf", "aa", 7, "", ""}};
  batch[1].token = "someone-else";
  auto rec = store_->record_finishes(batch);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  ASSERT_EQ(rec->size(), 3u);
  EXPECT_TRUE(rec->at(0).applied);
  EXPECT_FALSE(rec->at(1).applied);
  EXPECT_TRUE(rec->at(2).applied);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 2);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' AND id = " + std::to_string(jobs->at(1).id)),
      1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files WHERE job_id = " + std::to_string(jobs->at(0).id)), 1);
  EXPECT_EQ(store_->state_counts(r.model_id)->at("finished"), 2);
  // A replay (the answer to the COMMIT was lost): the finished ones under their epoch count as
  // applied, nothing is written twice.
  auto again = store_->record_finishes(batch);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->at(0).applied);
  EXPECT_FALSE(again->at(1).applied);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files WHERE job_id = " + std::to_string(jobs->at(0).id)), 1);
  EXPECT_EQ(store_->state_counts(r.model_id)->at("finished"), 2);
  batch[1].state = JobState::Failed;
  EXPECT_FALSE(store_->record_finishes(batch).ok()) << "only finishes share a transaction";
}

TEST_P(JobStoreTest, FinishingRecordsFilesAndOutputColumns) {
  auto r = register_points(points({"30"}));
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  const long long id = jobs->front().id;
  const std::string hdf = dir_ / "pdr.hdf";
  test::write_text(hdf, "x");
  Outcome done = outcome(jobs->front(), "tok1", JobState::Finished);
  done.files = {StoredFile{"output_hdf4_file", hdf, "aa", 5000000000LL, "2026-01-01 00:00:00", ""},
                StoredFile{"pdrstruct", dir_ / "s.hdf5", "bb", 2, "", ""},
                StoredFile{"pdrchem", dir_ / "c.hdf5", "cc", 3, "", ""},
                StoredFile{"onion", dir_ / "o.smli", "dd", 4, "", ""}};
  auto applied = store_->record_outcome(done);
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  ASSERT_TRUE(applied->applied);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files WHERE job_id = " + std::to_string(id)), 4);
  EXPECT_EQ(count("SELECT file_size FROM hdf_files WHERE job_id = " + std::to_string(id)), 5000000000LL);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE output_hdf4_file IS NOT NULL AND "
                  "output_chemchk_file IS NULL"),
            1);
}

TEST_P(JobStoreTest, ReRegisteringChecksOutputsAndRequeuesFailures) {
  auto r = register_points(points({"30"}));  // two points
  auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
  const std::string present = dir_ / "present.hdf";
  test::write_text(present, "x");
  Outcome ok = outcome(jobs.value()[0], "tok1", JobState::Finished);
  ok.files = {StoredFile{"output_hdf4_file", present, "aa", 1, "", ""}};
  ASSERT_TRUE(store_->record_outcome(ok)->applied);
  ASSERT_TRUE(
      store_->record_outcome(failure(jobs.value()[1], 1, "pdr: exit code 1", Stage::Pdr, "exit code 1"))->applied);

  auto again = register_points(points({"30"}));
  EXPECT_EQ(again.already_finished, 1u);
  EXPECT_EQ(again.requeued, 1u);
  EXPECT_EQ(again.pending, 1u);

  std::filesystem::remove(present);
  auto third = register_points(points({"30"}));
  EXPECT_EQ(third.outputs_missing, 1u);
  EXPECT_EQ(third.pending, 2u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE error LIKE 'output missing:%'"), 1);
}

// A finish is recorded before its outputs move from their staged names to their final ones: a
// registration or verify in between must not take it for a lost output and run the job again.
// Only while the run that finished it may be at work (running or lost, heard from within twice a
// lease and at least two minutes, as long as a run that ended is silent) and the
// finish is not older than that; a run that ended no longer stores anything.
TEST_P(JobStoreTest, AFinishWhoseRunMayStillStoreItsOutputsIsNotTakenBack) {
  auto r = register_points(points({"30"}));
  ASSERT_TRUE(store_->record_run(r.model_id, owner_, 1, "running", PoolStats{}).ok());
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(jobs->size(), 1u);
  const long long id = jobs->front().id;
  Outcome done = outcome(jobs->front(), owner_.token, JobState::Finished);
  done.files = {StoredFile{"output_hdf4_file", dir_ / "not-yet-promoted.hdf", "aa", 1, "", ""}};
  ASSERT_TRUE(store_->record_outcome(done)->applied);
  auto storing = register_points(points({"30"}));
  EXPECT_EQ(storing.outputs_storing, 1u);
  EXPECT_EQ(storing.outputs_missing, 0u);
  EXPECT_EQ(storing.onion_not_queued, 0u);
  // --force-onion leaves it too, and says so.
  RegisterOptions onion = options();
  onion.force_onion = true;
  RegisterReport forced;
  ASSERT_TRUE(store_->register_grid(prov_, points({"30"}), &forced, onion).ok());
  EXPECT_EQ(forced.onion_not_queued, 1u);
  EXPECT_EQ(forced.onion_requeued, 0u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  auto verify = store_->requeue_finished(id, "output missing");
  ASSERT_TRUE(verify.ok()) << verify.status().message();
  EXPECT_FALSE(verify.value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  // Marked lost by a reaper (silent for a lease), but not yet as long as a run that ended,
  // whose node may be gone: it may still be renaming them.
  exec("UPDATE pdr_runs SET state = 'lost'");
  Dialect dialect;
  dialect.mysql = backend_.mysql();
  dialect.pg = backend_.postgresql();
  exec("UPDATE pdr_model_jobs SET time_of_finish = " + dialect.now_plus(-90) + " WHERE status = 'finished'");
  EXPECT_EQ(register_points(points({"30"})).outputs_storing, 1u);
  EXPECT_FALSE(store_->requeue_finished(id, "output missing").value());
  // Its run ended: the output is lost, and the job runs again.
  ASSERT_TRUE(store_->record_run(r.model_id, owner_, 1, "finished", PoolStats{}).ok());
  auto requeued = store_->requeue_finished(id, "output missing");
  ASSERT_TRUE(requeued.ok());
  EXPECT_TRUE(requeued.value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending'"), 2);
}

TEST_P(JobStoreTest, AbandonedRunningJobsOfThisHostGoBackToPending) {
  auto r = register_points(points({"30"}));
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  // pid 999999999 cannot exist.
  auto jobs = store_->claim_jobs(r.model_id, 2, Owner{host, 999999999, "dead"});
  ASSERT_EQ(jobs->size(), 2u);
  auto again = register_points(points({"30"}));
  EXPECT_EQ(again.requeued, 2u);
  EXPECT_EQ(again.pending, 2u);
}

TEST_P(JobStoreTest, ReleaseReturnsOnlyTheOwnersJobs) {
  auto r = register_points(points({"30", "40"}));
  ASSERT_EQ(store_->claim_jobs(r.model_id, 2, owner_)->size(), 2u);
  ASSERT_EQ(store_->claim_jobs(r.model_id, 1, Owner{"h", 2, "other"})->size(), 1u);
  auto n = store_->release_jobs(owner_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running'"), 1);
}

// An outage journal is replayed only on a database its process worked on: one that recorded
// its run, holds one of its jobs, or has one of its events (its claims after a run it could not
// record).
TEST_P(JobStoreTest, AnOwnerIsKnownOnlyWhereItWorked) {
  auto r = register_points(points({"30", "40", "50"}));
  EXPECT_FALSE(store_->knows_owner("never-here").value());
  ASSERT_TRUE(store_->record_run(r.model_id, owner_, 1, "running", PoolStats{}).ok());
  EXPECT_TRUE(store_->knows_owner(owner_.token).value());
  const Owner holder{"h", 2, "holder"};
  ASSERT_EQ(store_->claim_jobs(r.model_id, 1, holder)->size(), 1u);
  EXPECT_TRUE(store_->knows_owner("holder").value());
  const Owner gone{"h", 3, "gone"};
  ASSERT_EQ(store_->claim_jobs(r.model_id, 1, gone)->size(), 1u);
  ASSERT_TRUE(store_->release_jobs(gone).ok());  // it holds nothing now; its events stay
  EXPECT_TRUE(store_->knows_owner("gone").value());
  EXPECT_FALSE(store_->knows_owner("never-here").value());
}

TEST_P(JobStoreTest, StatusReportCountsEveryState) {
  auto r = register_points(points({"30", "40"}));
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_TRUE(
      store_->record_outcome(failure(jobs->front(), 2, "onion CO: exit code 2", Stage::Onion, "CO: exit code 2"))
          ->applied);
  auto rep = store_->status_report("m1");
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->total, 4);
  EXPECT_EQ(rep->by_status.at("pending"), 3);
  EXPECT_EQ(rep->by_status.at("failed"), 1);
  EXPECT_EQ(rep->by_status.at("cancelled"), 0);
  ASSERT_EQ(rep->failed.size(), 1u);
  EXPECT_EQ(rep->failed[0].error, "onion CO: exit code 2");
  EXPECT_EQ(rep->failed[0].stage, "onion") << "read from the row, not from the error text";
  EXPECT_EQ(rep->failed[0].exit_code, 2);
  auto missing = store_->status_report("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "no model named 'nope' in the database");
}

TEST_P(JobStoreTest, StatusReadsCountersThatFollowEveryChangeAndCanBeRewritten) {
  auto r = register_points(points({"30", "40", "50"}));
  auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  ASSERT_TRUE(store_->record_outcome(outcome(jobs->at(0), "tok1", JobState::Finished)).ok());
  // Changes made by hand with SQL are counted too: the triggers see every writer.
  history_incomplete_ = true;
  exec(
      "UPDATE pdr_model_jobs SET status = 'skipped' WHERE status = 'pending' AND id = (SELECT m FROM (SELECT "
      "MAX(id) AS m FROM pdr_model_jobs) t)");
  exec(
      "DELETE FROM pdr_model_jobs WHERE id = (SELECT m FROM (SELECT MIN(id) AS m FROM pdr_model_jobs WHERE "
      "status = 'pending') t)");
  // A row kept as a duplicate (duplicate_key != 0) is not a job of the grid.
  exec("UPDATE pdr_model_jobs SET duplicate_key = id WHERE id = " + std::to_string(jobs->at(1).id));
  auto rep = store_->status_report("m1");
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->total, 4);
  EXPECT_EQ(rep->by_status.at("finished"), 1);
  EXPECT_EQ(rep->by_status.at("running"), 0);
  EXPECT_EQ(rep->by_status.at("skipped"), 1);
  EXPECT_EQ(rep->by_status.at("pending"), 2);
  auto counts = store_->state_counts(r.model_id);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->at("pending"), 2);
  EXPECT_EQ(counts->count("running"), 0u);
  // status reads the counters, not the rows: a counter set wrong shows, doctor sees it, and a
  // recount puts it right.
  exec(
      "UPDATE pdr_job_counts SET n = n + 5 WHERE status = 'pending' AND model_name_id = " + std::to_string(r.model_id) +
      " AND id = (SELECT m FROM (SELECT MIN(id) AS m FROM pdr_job_counts WHERE "
      "status = 'pending') t)");
  EXPECT_EQ(store_->status_report("m1")->by_status.at("pending"), 7);
  auto check = store_->check_counts("m1");
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->kept_by_triggers);
  EXPECT_EQ(check->counters.at("pending"), 7);
  EXPECT_EQ(check->rows.at("pending"), 2);
  auto rewritten = store_->recount_jobs();
  ASSERT_TRUE(rewritten.ok()) << rewritten.status().message();
  EXPECT_TRUE(rewritten.value());
  EXPECT_EQ(store_->status_report("m1")->by_status.at("pending"), 2);
}

// status lists failed jobs by the failure words the counters hold (SQLite reads every row of the
// model for "not one of the other states"): its own word and the predecessor's, none when the
// model has no failure.
TEST_P(JobStoreTest, StatusListsTheFailedJobsOfEveryFailureWord) {
  auto r = register_points(points({"30", "40", "50"}));
  auto none = store_->status_report("m1");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->failed.empty());
  auto jobs = store_->claim_jobs(r.model_id, 3, owner_);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 3u);
  Outcome failed = outcome(jobs->at(0), "tok1", JobState::Failed, "pdr exited with 3", Stage::Pdr);
  failed.retry = false;
  ASSERT_TRUE(store_->record_outcome(failed).ok());
  history_incomplete_ = true;
  exec("UPDATE pdr_model_jobs SET status = 'exception_runtime' WHERE id = " + std::to_string(jobs->at(1).id));
  auto rep = store_->status_report("m1");
  ASSERT_TRUE(rep.ok());
  std::set<std::string> names;
  for (const auto& j : rep->failed) names.insert(j.name);
  EXPECT_EQ(names, (std::set<std::string>{jobs->at(0).name, jobs->at(1).name}));
  ASSERT_EQ(rep->running.size(), 1u);
  EXPECT_EQ(rep->running.front().name, jobs->at(2).name);
  EXPECT_EQ(rep->by_status.at("failed"), 2);
}

TEST_P(JobStoreTest, ParametersRoundTripThroughTheRow) {
  auto p = points({"30"});
  auto r = register_points(p);
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  auto values = store_->load_parameters(jobs->front().params_id);
  ASSERT_TRUE(values.ok()) << values.status().message();
  EXPECT_EQ(values->at("xnsur"), "1000");
  EXPECT_EQ(values->at("Niter"), "60");
  EXPECT_EQ(values->at("species"), "H H2 CO ");
  EXPECT_EQ(values->at("fuvstring"), "Lyalpha.fuv");
  for (const auto& kv : p[0].params()) EXPECT_EQ(values->at(kv.first), kv.second) << kv.first;
}

TEST_P(JobStoreTest, ModelStorageLocationCannotChangeSilently) {
  register_points(points({"30"}));
  prov_.model_path = "/elsewhere/m1";
  RegisterReport r;
  Status st = store_->register_grid(prov_, points({"30"}), &r, options());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kUsage);
  EXPECT_NE(st.message().find("already stores its outputs in"), std::string::npos);
}

TEST_P(JobStoreTest, NewerSchemaIsRefused) {
  exec("INSERT INTO schema_version (version) VALUES (99)");
  DbManager other(db_);
  auto store = open_job_store(other);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos);
}

// A MariaDB account that may not CREATE TRIGGER (a shared production server often grants no
// TRIGGER privilege, or logs binary without log_bin_trust_function_creators).
class MysqlJobStoreTest : public JobStoreTest {};
// Tests of what only a server has (sessions that write at once).
class ServerJobStoreTest : public JobStoreTest {};
class PostgresqlJobStoreTest : public JobStoreTest {};

// A statement a session kept that its server connection does not have (a proxy that pools
// transactions hands each one another connection): the error is one to retry, and from then on
// this process keeps no statement (a process per test: the switch stays off in this one).
TEST_P(PostgresqlJobStoreTest, AKeptStatementTheServerLostEndsKeeping) {
  auto sql = backend_.session();
  keep_statements(sql.get());
  *sql << "CREATE TABLE kept_t (v INTEGER)";
  const std::string q = "INSERT INTO kept_t (v) VALUES (:v)";
  {
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(*sql, q, fresh);
    EXPECT_EQ(fresh, nullptr) << "kept";
    st.use(1LL);
    run_kept(*sql, st, q);
  }
  *sql << "DEALLOCATE ALL";  // as another server connection would have nothing
  {
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(*sql, q, fresh);
    st.use(2LL);
    try {
      run_kept(*sql, st, q);
      ADD_FAILURE() << "the server no longer has the statement";
    } catch (const std::exception& e) {
      EXPECT_EQ(db_error_status(e, "insert").kind(), ErrorKind::kTransient) << e.what();
    }
  }
  {
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(*sql, q, fresh);
    EXPECT_NE(fresh, nullptr) << "no longer kept";
    st.use(3LL);
    run_kept(*sql, st, q);
  }
  int rows = 0;
  *sql << "SELECT COUNT(*) FROM kept_t WHERE v IN (1, 3)", soci::into(rows);
  EXPECT_EQ(rows, 2);
  close_statements(sql.get());
}

TEST_P(MysqlJobStoreTest, WithoutTheTriggerPrivilegeStatusCountsTheRows) {
  auto r = register_points(points({"30", "40"}));
  ASSERT_EQ(store_->claim_jobs(r.model_id, 1, owner_)->size(), 1u);
  drop_count_triggers();
  const std::string grant = " TRIGGER ON " + backend_.database() + ".* ";
  test::MariaDb::shared().sql("REVOKE" + grant + "FROM 'pdr'@'127.0.0.1'");
  {
    DbManager other(db_);
    auto store = open_job_store(other);
    ASSERT_TRUE(store.ok()) << store.status().message();
    EXPECT_FALSE(store.value()->server_info()->job_counters);
    auto check = store.value()->check_counts("m1");
    ASSERT_TRUE(check.ok());
    EXPECT_FALSE(check->kept_by_triggers);
    EXPECT_NE(check->note.find("CREATE TRIGGER refused"), std::string::npos) << check->note;
    EXPECT_NE(check->note.find("(MySQL error 1142)"), std::string::npos) << check->note;
    // Changes the counters cannot see: status counts the rows.
    history_incomplete_ = true;
    exec("UPDATE pdr_model_jobs SET status = 'skipped' WHERE status = 'pending'");
    auto rep = store.value()->status_report("m1");
    ASSERT_TRUE(rep.ok());
    EXPECT_EQ(rep->by_status.at("skipped"), 3);
    EXPECT_EQ(rep->by_status.at("pending"), 0);
    EXPECT_EQ(rep->by_status.at("running"), 1);
    EXPECT_EQ(count("SELECT skipped FROM pdr_progress_v WHERE model_name = 'm1'"), 3) << "the view counts rows";
    EXPECT_FALSE(store.value()->recount_jobs().value());
    EXPECT_EQ(count("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"), 0)
        << "no partial set of triggers";
  }
  // Granted again: the next open creates the triggers and counts the rows once.
  test::MariaDb::shared().sql("GRANT" + grant + "TO 'pdr'@'127.0.0.1'");
  DbManager again(db_);
  auto store = open_job_store(again);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_TRUE(store.value()->server_info()->job_counters);
  EXPECT_EQ(store.value()->status_report("m1")->by_status.at("skipped"), 3);
  EXPECT_EQ(count("SELECT SUM(n) FROM pdr_job_counts WHERE status = 'skipped'"), 3);
  exec("UPDATE pdr_job_counts SET n = n + 10 WHERE status = 'skipped' AND n > 0");
  EXPECT_GT(count("SELECT skipped FROM pdr_progress_v WHERE model_name = 'm1'"), 3) << "the view reads the counters";
  EXPECT_TRUE(store.value()->recount_jobs().value());
}

INSTANTIATE_TEST_SUITE_P(Backends, MysqlJobStoreTest, ::testing::Values("mysql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

INSTANTIATE_TEST_SUITE_P(Backends, PostgresqlJobStoreTest, ::testing::Values("postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

INSTANTIATE_TEST_SUITE_P(Backends, ServerJobStoreTest, ::testing::Values("mysql", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreTest, ::testing::Values("sqlite", "mysql", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(MysqlLoginTest, UnixSocketWithoutPassword) {
  auto& server = test::MariaDb::shared();
  PDR_REQUIRE_MARIADB(server);
  DatabaseSettings db;
  db.type = "mysql";
  db.unix_socket = server.socket();
  db.database = "pdr_test";
  db.username = "nopass";
  DbManager manager(db);
  auto store = open_job_store(manager);
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto names = store.value()->model_names();
  EXPECT_TRUE(names.ok()) << names.status().message();
}

TEST(MysqlLoginTest, AccessDeniedIsPermanentAndHidesThePassword) {
  auto& server = test::MariaDb::shared();
  PDR_REQUIRE_MARIADB(server);
  DatabaseSettings db = server.settings("pdr_test");
  db.password = "Not-The-Password'\\x";
  DbManager manager(db);
  auto store = open_job_store(manager);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().kind(), ErrorKind::kPermanent);
  EXPECT_EQ(store.status().code(), 1045);
  EXPECT_EQ(store.status().message().find("Not-The-Password"), std::string::npos) << store.status().message();
}

// PostgreSQL refusals at connect: told apart by the SQLSTATE the server sent, never by words.
// PostgreSQL's time settings as current_setting shows them, read in ms (doctor's warnings).
TEST(PostgresqlSettingTest, TimeSettingsAreReadInMilliseconds) {
  EXPECT_EQ(SociJobStore::pg_setting_ms("0"), 0);
  EXPECT_EQ(SociJobStore::pg_setting_ms("250ms"), 250);
  EXPECT_EQ(SociJobStore::pg_setting_ms("10s"), 10000);
  EXPECT_EQ(SociJobStore::pg_setting_ms("5min"), 300000);
  EXPECT_EQ(SociJobStore::pg_setting_ms("2h"), 7200000);
  EXPECT_EQ(SociJobStore::pg_setting_ms("1d"), 86400000);
  EXPECT_EQ(SociJobStore::pg_setting_ms("-1"), 0);
  EXPECT_EQ(SociJobStore::pg_setting_ms("7us"), 0);
  EXPECT_EQ(SociJobStore::pg_setting_ms(""), 0);
}

TEST(PostgresqlLoginTest, AWrongPasswordOrUnknownDatabaseIsPermanentAndHidesThePassword) {
  auto& server = test::PostgreSql::shared();
  PDR_REQUIRE_POSTGRESQL(server);
  DatabaseSettings db = server.settings("pdr_test");
  db.password = "Not-The Password'\\x";
  {
    DbManager manager(db);
    auto store = open_job_store(manager);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().kind(), ErrorKind::kPermanent) << store.status().message();
    EXPECT_EQ(pg_sqlstate(store.status().code()), "28P01") << store.status().message();
    EXPECT_EQ(store.status().message().find("Not-The"), std::string::npos) << store.status().message();
    EXPECT_NE(store.status().message().find("SQLSTATE 28P01"), std::string::npos) << store.status().message();
  }
  db = server.settings("no_such_database");
  DbManager manager(db);
  auto store = open_job_store(manager);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().kind(), ErrorKind::kPermanent);
  EXPECT_EQ(pg_sqlstate(store.status().code()), "3D000") << store.status().message();
}

TEST(PostgresqlLoginTest, APasswordWithSpacesAndQuotesConnects) {
  auto& server = test::PostgreSql::shared();
  PDR_REQUIRE_POSTGRESQL(server);
  const std::string password = "a b'c\\d\"e%f&g=h";
  server.sql("DROP DATABASE IF EXISTS odd_db; DROP ROLE IF EXISTS odd");
  server.sql("CREATE ROLE odd LOGIN PASSWORD 'a b''c\\d\"e%f&g=h'");
  server.sql("CREATE DATABASE odd_db OWNER odd");
  DatabaseSettings db = server.settings("odd_db");
  db.username = "odd";
  db.password = password;
  DbManager manager(db);
  auto store = open_job_store(manager);
  ASSERT_TRUE(store.ok()) << store.status().message();
  // The URI's parameters reached the server (the session names itself).
  EXPECT_EQ(server.number("SELECT COUNT(*) FROM pg_stat_activity WHERE usename = 'odd' AND application_name = "
                          "'pdr_run'"),
            1);
  EXPECT_EQ(manager.stats().failed, 0);
}

TEST(PostgresqlLoginTest, NoServerIsTransient) {
  DatabaseSettings db;
  db.type = "postgresql";
  db.host = "127.0.0.1";
  db.port = 1;  // nothing listens there
  db.database = "x";
  db.username = "u";
  db.connect_timeout = 2;
  DbManager manager(db);
  auto lease = manager.borrow();
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().kind(), ErrorKind::kTransient) << lease.status().message();
  EXPECT_TRUE(is_connection_lost(lease.status().code()));
}

// A statement a session keeps runs again with the values given to it each time (NULLs
// included); one that failed is not kept; a session that keeps none gets a new one each time.
TEST(StatementCacheTest, AKeptStatementRunsAgainWithItsNewValues) {
  test::TempDir dir;
  soci::session sql(*soci::factory_sqlite3(), "db=" + (dir / "kept.db"));
  sql << "CREATE TABLE t (id INTEGER, name TEXT, x REAL)";
  keep_statements(&sql);
  const std::string insert = "INSERT INTO t (id, name, x) VALUES (:id, :name, :x)";
  ReusableStatement* first = nullptr;
  for (long long i = 1; i <= 3; ++i) {
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(sql, insert, fresh);
    EXPECT_EQ(fresh, nullptr) << "kept by the session";
    if (first == nullptr) first = &st;
    EXPECT_EQ(&st, first);
    st.use(i);
    st.use("n" + std::to_string(i), i == 2 ? soci::i_null : soci::i_ok);
    st.use(0.5 * static_cast<double>(i));
    run_kept(sql, st, insert);
    EXPECT_EQ(st.affected_rows(), 1);
  }
  int nulls = 0;
  double sum = 0;
  sql << "SELECT COUNT(*) FROM t WHERE name IS NULL AND id = 2", soci::into(nulls);
  sql << "SELECT SUM(x) FROM t WHERE name IN ('n1', 'n3')", soci::into(sum);
  EXPECT_EQ(nulls, 1);
  EXPECT_DOUBLE_EQ(sum, 2.0);
  // A query over a list of ids, padded to the next power of two with 0 (no row).
  EXPECT_EQ(id_placeholders("i", 3), ":i0, :i1, :i2, :i3");
  EXPECT_EQ(id_placeholders("i", 0), "");
  for (const std::vector<long long>& ids : {std::vector<long long>{3, 1, 2}, std::vector<long long>{2}}) {
    const std::string q = "SELECT x FROM t WHERE id IN (" + id_placeholders("i", ids.size()) + ") ORDER BY id";
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(sql, q, fresh);
    use_ids(st, ids);
    st.query(q);
    std::vector<double> seen;
    while (st.fetch()) seen.push_back(st.row().get<double>(0));
    EXPECT_EQ(seen.size(), ids.size());
    if (ids.size() == 1) {
      EXPECT_EQ(seen, std::vector<double>{1.0});
    }
  }
  const std::string bad = "INSERT INTO missing (v) VALUES (:v)";
  {
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(sql, bad, fresh);
    st.use(1LL);
    EXPECT_THROW(run_kept(sql, st, bad), soci::soci_error);
  }
  sql << "CREATE TABLE missing (v INTEGER)";
  {
    std::unique_ptr<ReusableStatement> fresh;
    ReusableStatement& st = reusable_statement(sql, bad, fresh);
    st.use(7LL);
    run_kept(sql, st, bad);  // compiled anew: the failed one was not kept
  }
  int seven = 0;
  sql << "SELECT COUNT(*) FROM missing WHERE v = 7", soci::into(seven);
  EXPECT_EQ(seven, 1);
  close_statements(&sql);
  std::unique_ptr<ReusableStatement> fresh;
  (void)reusable_statement(sql, insert, fresh);
  EXPECT_NE(fresh, nullptr) << "a session that keeps none";
}

TEST(DbManagerTest, OneManagerPerProcessEvenUnderRacingThreads) {
  test::TempDir dir;
  DatabaseSettings db;
  db.type = "sqlite";
  db.path = dir / "one.db";
  std::vector<DbManager*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] { seen[i] = process_db_manager(db).value(); });
  }
  for (auto& t : threads) t.join();
  for (DbManager* m : seen) EXPECT_EQ(m, seen[0]);
  DatabaseSettings other = db;
  other.path = dir / "two.db";
  auto second = process_db_manager(other);
  ASSERT_FALSE(second.ok()) << "a different database must not be silently ignored";
}

TEST_P(JobStoreTest, PoolLendsAtMostPoolSizeSessions) {
  DatabaseSettings small = db_;
  small.pool_size = 1;
  small.max_overflow = 1;
  small.pool_timeout = 1;
  DbManager m(small);
  auto a = m.borrow();
  auto b = m.borrow();
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(m.stats().in_use, 2);
  auto c = m.borrow();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().kind(), ErrorKind::kTransient);
  EXPECT_NE(c.status().message().find("no database session free after 1 s"), std::string::npos);
  {
    auto gone = std::move(b.value());  // returned: beyond pool_size, so closed rather than kept
  }
  EXPECT_EQ(m.stats().idle, 0);
  EXPECT_EQ(m.stats().in_use, 1);
}

TEST_P(JobStoreTest, ConcurrentClaimersNeverShareAJob) {
  auto r = register_points(points({"30", "31", "32", "33", "34", "35", "36", "37", "38", "39"}));
  std::vector<std::vector<ClaimedJob>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      DbManager m(db_);
      auto s = open_job_store(m);
      for (;;) {
        auto c = s.value()->claim_jobs(r.model_id, 2, Owner{"h", t, "t" + std::to_string(t)});
        ASSERT_TRUE(c.ok()) << c.status().message();
        if (c->empty()) break;
        for (auto& j : c.value()) got[static_cast<size_t>(t)].push_back(j);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<long long> ids;
  size_t total = 0;
  for (const auto& g : got) {
    total += g.size();
    for (const auto& j : g) ids.insert(j.id);
  }
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(ids.size(), 20u);
}

// --- leases, fencing, retries ---

TEST_P(JobStoreTest, ClaimTakesALeaseByTheDatabaseClock) {
  auto r = register_points(points({"30"}));
  auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ(jobs->front().epoch, 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE lease_epoch = 1 AND lease_expires_at IS NOT NULL "
                  "AND heartbeat_at IS NOT NULL AND lease_expires_at > heartbeat_at"),
            2);
  auto held = store_->renew_leases(owner_, {});
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->size(), 2u);
  EXPECT_EQ(held->at(jobs->front().id), 1);
  EXPECT_EQ(store_->renew_leases(Owner{"h", 2, "other"}, {})->size(), 0u);
  EXPECT_EQ(store_->reap_expired().value(), 0) << "live leases are not reaped";
}

// A run that renewed nothing for a whole lease (SIGKILLed) is marked lost by whoever reaps; a
// live one is not, and one that comes back says again that it runs.
TEST_P(JobStoreTest, ARunSilentForALeaseIsLostAndComesBackWhenItRenews) {
  auto r = register_points(points({"30"}));
  const Owner dead{"h", 11, "dead-run"}, live{"h", 12, "live-run"};
  ASSERT_TRUE(store_->record_run(r.model_id, dead, 4, "running", PoolStats{}).ok());
  ASSERT_TRUE(store_->record_run(r.model_id, live, 4, "running", PoolStats{}).ok());
  ASSERT_TRUE(store_->record_run(r.model_id, Owner{"h", 13, "done-run"}, 4, "finished", PoolStats{}).ok());
  exec("UPDATE pdr_runs SET updated_at = '2000-01-01 00:00:00' WHERE token IN ('dead-run', 'done-run')");
  ASSERT_TRUE(store_->reap_expired().ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_runs WHERE token = 'dead-run' AND state = 'lost'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_runs WHERE token = 'live-run' AND state = 'running'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_runs WHERE token = 'done-run' AND state = 'finished'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_workers_v WHERE token = 'dead-run'"), 0);
  ASSERT_TRUE(store_->renew_leases(dead, {}).ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_runs WHERE token = 'dead-run' AND state = 'running'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_workers_v WHERE token = 'dead-run'"), 1);
}

TEST_P(JobStoreTest, ExpiredLeaseReturnsTheJobAndFencesTheOldOwner) {
  store_->set_policy(JobPolicy{30, 3, 0, 10});  // no retry delay: the reaped job is claimable at once
  auto r = register_points(points({"30"}));
  auto first = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(first->size(), 1u);
  const ClaimedJob old = first->front();
  exec("UPDATE pdr_model_jobs SET lease_expires_at = '2000-01-01 00:00:00' WHERE id = " + std::to_string(old.id));
  auto left = store_->backlog(r.model_id);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->pending, 1);
  EXPECT_EQ(left->unproven, 1) << "an expired lease may come back";
  EXPECT_EQ(left->running, 1);
  EXPECT_EQ(store_->reap_expired().value(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND token IS NULL AND "
                  "error LIKE 'lease expired: owner h pid 1 %'"),
            1);
  // The same job claimed again by another process, and again by the first one.
  const Owner other{"h2", 7, "tok2"};
  auto second = store_->claim_jobs(r.model_id, 2, other);
  ASSERT_EQ(second->size(), 2u);
  const ClaimedJob taken = second->front().id == old.id ? second->front() : second->back();
  EXPECT_EQ(taken.epoch, 2);
  EXPECT_EQ(taken.attempt, 2);
  EXPECT_EQ(store_->renew_leases(owner_, {})->count(old.id), 0u) << "the old owner sees its lease gone";
  auto late = store_->record_outcome(outcome(old, owner_.token, JobState::Finished));
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->applied) << "a late outcome of a taken-over job is rejected";
  auto now = store_->record_outcome(outcome(taken, other.token, JobState::Finished));
  EXPECT_TRUE(now->applied);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND lease_epoch = 2"), 1);

  // Same token, older epoch: also rejected.
  exec("UPDATE pdr_model_jobs SET lease_expires_at = '2000-01-01 00:00:00' WHERE status = 'running'");
  ASSERT_EQ(store_->reap_expired().value(), 1);
  auto again = store_->claim_jobs(r.model_id, 1, other);
  ASSERT_EQ(again->size(), 1u);
  ClaimedJob stale = again->front();
  stale.epoch -= 1;
  EXPECT_FALSE(store_->record_outcome(outcome(stale, other.token, JobState::Finished))->applied);
  EXPECT_TRUE(store_->record_outcome(outcome(again->front(), other.token, JobState::Finished))->applied);
}

// Every change of a job is in its history, in order, with who made it and why: a job reaped
// from a dead owner, claimed again by another, the dead owner's late finish rejected, finished.
TEST_P(JobStoreTest, EveryChangeOfAJobIsInItsHistory) {
  store_->set_policy(JobPolicy{30, 3, 0, 10});
  auto r = register_points(points({"30"}));
  auto first = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(first->size(), 1u);
  const ClaimedJob old = first->front();
  exec("UPDATE pdr_model_jobs SET lease_expires_at = '2000-01-01 00:00:00' WHERE id = " + std::to_string(old.id));
  ASSERT_EQ(store_->reap_expired().value(), 1);
  const Owner other{"h2", 7, "tok2"};
  auto second = store_->claim_jobs(r.model_id, 1, other);
  ASSERT_EQ(second->size(), 1u);
  ASSERT_EQ(second->front().id, old.id);
  EXPECT_FALSE(store_->record_outcome(outcome(old, owner_.token, JobState::Finished))->applied);
  ASSERT_TRUE(store_->record_outcome(outcome(second->front(), other.token, JobState::Finished))->applied);
  EXPECT_EQ(history_of(old.id),
            (std::vector<std::string>{"claimed/running/1/1/tok1", "reaped/pending/1/1/tok1", "claimed/running/2/2/tok2",
                                      "rejected//1/1/tok1", "finished/finished/2/2/tok2"}));
  HistoryQuery q;
  q.model = "m1";
  q.job = second->front().name;  // by name too
  auto events = store_->job_history(q);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 5u);
  const JobEvent& reaped = events->at(1);
  EXPECT_EQ(reaped.host, host_name()) << "the reaper, this process";
  EXPECT_EQ(reaped.stage, "lease");
  EXPECT_NE(reaped.detail.find("lease of host h pid 1 expired, last heartbeat"), std::string::npos) << reaped.detail;
  EXPECT_NE(reaped.detail.find("retry in"), std::string::npos) << reaped.detail;
  EXPECT_EQ(events->at(0).stage, "pdr") << "a claim names the stage it starts at";
  EXPECT_EQ(events->at(0).job_name, second->front().name);
  EXPECT_EQ(events->at(3).exit_code, std::nullopt);
  // Filters: one kind of event; the newest n.
  q.job.clear();
  q.event = "claimed";
  EXPECT_EQ(store_->job_history(q)->size(), 2u) << "two claims of this job; the other point never ran";
  q.event.clear();
  q.last = 2;
  auto last = store_->job_history(q);
  ASSERT_EQ(last->size(), 2u);
  EXPECT_EQ(last->back().event, "finished");
  q.last = 0;
  q.since = "2999-01-01 00:00:00";
  EXPECT_TRUE(store_->job_history(q)->empty());
  q.since.clear();
  q.job = "no_such_job";
  EXPECT_EQ(store_->job_history(q).status().kind(), ErrorKind::kUsage);
  // The registration is one event of the grid, not one per job.
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_events WHERE job_id IS NULL AND event = 'registered'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_events WHERE job_id IS NOT NULL AND event = 'registered'"), 0);
}

// A finish and the claim after it in one transaction: both written, each job's history whole (the
// outcome's stage starts, then its end; the claim of the next), also when the finish had lost its
// lease (rejected: the claim still happens).
TEST_P(JobStoreTest, FinishesAndTheNextClaimLandTogether) {
  store_->set_policy(JobPolicy{30, 3, 0, 10});
  auto r = register_points(points({"30", "40"}));  // 4 jobs
  auto first = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(first->size(), 2u);
  const auto now = std::chrono::steady_clock::now();
  Outcome a = outcome(first->at(0), owner_.token, JobState::Finished);
  a.stage_starts = {StageStart{a.job_id, a.epoch, Stage::Pdr, "", now - std::chrono::seconds(3)},
                    StageStart{a.job_id, a.epoch, Stage::Onion, "C+", now - std::chrono::seconds(2)},
                    StageStart{a.job_id, a.epoch, Stage::Onion, "13C'O", now - std::chrono::seconds(1)}};
  Outcome b = outcome(first->at(1), "someone else", JobState::Finished);  // not the owner: rejected
  auto both = store_->record_finishes_and_claim({a, b}, r.model_id, 2, owner_);
  ASSERT_TRUE(both.ok()) << both.status().message();
  ASSERT_EQ(both->recorded.size(), 2u);
  EXPECT_TRUE(both->recorded[0].applied);
  EXPECT_FALSE(both->recorded[1].applied);
  ASSERT_EQ(both->claimed.size(), 2u);
  for (const auto& job : both->claimed) {
    EXPECT_NE(job.id, a.job_id);
    EXPECT_NE(job.id, b.job_id);
    ASSERT_NE(job.params, nullptr) << "the claimed points' parameters come with the claim";
    EXPECT_EQ(history_of(job.id), (std::vector<std::string>{"claimed/running/1/1/tok1"}));
  }
  EXPECT_EQ(history_of(a.job_id), (std::vector<std::string>{"claimed/running/1/1/tok1", "started/running/1/1/tok1",
                                                            "started/running/1/1/tok1", "started/running/1/1/tok1",
                                                            "finished/finished/1/1/tok1"}));
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'started' AND detail = '13C''O'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'started' AND detail IS NULL"), 1);
  EXPECT_EQ(history_of(b.job_id).back(), "rejected//0/1/someone else");
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running'"), 3);
  // Nothing left to claim: the finishes alone.
  Outcome c = outcome(both->claimed[0], owner_.token, JobState::Finished);
  auto last = store_->record_finishes_and_claim({c}, r.model_id, 2, owner_);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_TRUE(last->recorded[0].applied);
  EXPECT_TRUE(last->claimed.empty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 2);
}

// Every transaction on a session that is then closed (a lifetime of 0 s: each borrow makes a new
// one, often at the address of the last): on SQLite the statements a session kept go with it, and
// a new session compiles its own. Each claim still brings its own points' parameters.
TEST_P(JobStoreTest, KeptStatementsGoWithTheirSessions) {
  DatabaseSettings brief = db_;
  brief.pool_recycle = 0;
  brief.pool_size = 1;
  DbManager m(brief);
  auto opened = open_job_store(m);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  JobStore& store = *opened.value();
  auto p = points({"30", "40", "50"});  // 6 jobs
  auto r = register_points(p);
  std::map<std::string, ParameterValues> wanted;
  for (const auto& point : p) wanted[point.job_name] = point.params();
  std::vector<Outcome> done;
  std::set<long long> finished;
  for (int round = 0; round < 10; ++round) {
    auto next = store.record_finishes_and_claim(done, r.model_id, round % 2 + 1, owner_);  // claims of 1 and 2
    ASSERT_TRUE(next.ok()) << next.status().message();
    for (const auto& rec : next->recorded) EXPECT_TRUE(rec.applied);
    for (const auto& o : done) finished.insert(o.job_id);
    done.clear();
    for (const auto& job : next->claimed) {
      ASSERT_NE(job.params, nullptr);
      for (const auto& [name, value] : wanted.at(job.name))
        EXPECT_EQ(job.params->at(name), value) << job.name << " " << name;
      done.push_back(outcome(job, owner_.token, JobState::Finished));
    }
    if (done.empty()) break;
  }
  EXPECT_EQ(finished.size(), 6u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 6);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'claimed'"), 6);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'finished'"), 6);
  EXPECT_GE(m.stats().replaced, 5) << "sessions were closed between the transactions";
}

// A claim says whether the job has file rows of an earlier finish (a first attempt has none, and
// its finish has nothing to clear); a finish of a job that has them replaces them.
TEST_P(JobStoreTest, AFinishReplacesTheFileRowsOfAnEarlierFinish) {
  store_->set_policy(JobPolicy{30, 5, 0, 10});  // a failure is claimable again at once
  auto r = register_points(points({"30"}));     // 2 jobs
  auto first = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(first->size(), 2u);
  const std::string hdf = dir_ / "pdr.hdf";
  test::write_text(hdf, "x");
  auto files = [&](const std::string& tag) {
    return std::vector<StoredFile>{StoredFile{"output_hdf4_file", hdf, tag, 1, "", ""},
                                   StoredFile{"pdrstruct", dir_ / ("s" + tag), tag, 2, "", ""},
                                   StoredFile{"pdrchem", dir_ / ("c" + tag), tag, 3, "", ""},
                                   StoredFile{"onion", dir_ / ("o" + tag), tag, 4, "", ""}};
  };
  for (const auto& job : *first) {
    EXPECT_FALSE(job.earlier_files) << "a first attempt";
    Outcome done = outcome(job, owner_.token, JobState::Finished);
    done.files = files("a");
    ASSERT_TRUE(store_->record_outcome(done)->applied);
  }
  const std::string id = std::to_string(first->front().id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files WHERE job_id = " + id), 4);
  // Queued again by hand as a row of the Python pdr_run (no lease epoch), its rows still there.
  exec("UPDATE pdr_model_jobs SET status = 'pending', pending = (1 = 1), lease_epoch = 0 WHERE id = " + id);
  auto again = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_TRUE(again->front().earlier_files) << "its file rows are seen";
  Outcome done = outcome(again->front(), owner_.token, JobState::Finished);
  done.files = files("b");
  done.files.pop_back();  // no onion output this time
  ASSERT_TRUE(store_->record_outcome(done)->applied);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files WHERE job_id = " + id), 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files WHERE job_id = " + id + " AND sha256_sum = 'a'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM hdf_files WHERE job_id = " + id), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files"), 7) << "the other job's rows stay";
  // A job claimed before is not taken at its word (another session may have finished it while
  // the claim ran): a failed attempt queued again, without file rows, clears at its finish.
  auto fresh = register_points(points({"40"}));
  auto once = store_->claim_jobs(fresh.model_id, 1, owner_);
  ASSERT_EQ(once->size(), 1u);
  EXPECT_FALSE(once->front().earlier_files);
  ASSERT_EQ(store_
                ->record_outcome(outcome(once->front(), owner_.token, JobState::Failed, "pdr: exit code 3", Stage::Pdr,
                                         "exit code 3"))
                ->state,
            JobState::Pending);
  auto twice = store_->claim_jobs(fresh.model_id, 1, owner_);
  ASSERT_EQ(twice->size(), 1u);
  EXPECT_TRUE(twice->front().earlier_files);
}

// An attempt's stages are in its history: written by the heartbeat while it holds the job, or
// with its outcome; each once, dated when it happened, never for an attempt that lost its job.
TEST_P(JobStoreTest, StageStartsAreInTheHistoryOnce) {
  store_->set_policy(JobPolicy{30, 3, 0, 10});
  auto r = register_points(points({"30"}));
  auto claimed = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(claimed->size(), 2u);
  const ClaimedJob job = claimed->front();
  const ClaimedJob lost = claimed->back();
  const auto now = std::chrono::steady_clock::now();
  const StageStart pdr{job.id, job.epoch, Stage::Pdr, "", now - std::chrono::seconds(5)};
  ASSERT_TRUE(store_->renew_leases(owner_, {pdr}).ok());
  ASSERT_TRUE(store_->renew_leases(owner_, {pdr}).ok()) << "a beat written again (a cut commit) adds nothing";
  // Another owner's beat does not write for a job it does not hold; nor does an old epoch.
  const StageStart other{lost.id, lost.epoch, Stage::Pdr, "", now};
  ASSERT_TRUE(store_->renew_leases(Owner{"h2", 7, "tok2"}, {other}).ok());
  ASSERT_TRUE(store_->renew_leases(owner_, {StageStart{lost.id, lost.epoch + 1, Stage::Pdr, "", now}}).ok());
  EXPECT_EQ(history_of(lost.id), (std::vector<std::string>{"claimed/running/1/1/tok1"}));
  // The outcome brings the rest (and the one the beat wrote, which stays single).
  Outcome done = outcome(job, owner_.token, JobState::Finished);
  done.stage_starts = {pdr, StageStart{job.id, job.epoch, Stage::Onion, "CO", now - std::chrono::seconds(2)},
                       StageStart{job.id, job.epoch, Stage::Storage, "", now}};
  ASSERT_TRUE(store_->record_outcome(done)->applied);
  EXPECT_EQ(history_of(job.id), (std::vector<std::string>{"claimed/running/1/1/tok1", "started/running/1/1/tok1",
                                                          "started/running/1/1/tok1", "started/running/1/1/tok1",
                                                          "finished/finished/1/1/tok1"}));
  auto events = events_of(job.id);
  ASSERT_EQ(events->size(), 5u);
  EXPECT_EQ(events->at(1).stage, "pdr");
  EXPECT_EQ(events->at(2).stage, "onion");
  EXPECT_EQ(events->at(2).detail, "CO");
  EXPECT_EQ(events->at(3).stage, "storage");
  // Dated when they happened: the pdr start 5 s before the storage start, not when written.
  EXPECT_LT(events->at(1).at, events->at(2).at);
  EXPECT_LT(events->at(2).at, events->at(3).at);
  // A hand-back writes its stages with the attempt it ended (the row's attempt is undone).
  Outcome back = outcome(lost, owner_.token, JobState::Pending, "interrupted");
  back.stage_starts = {StageStart{lost.id, lost.epoch, Stage::Pdr, "", now}};
  ASSERT_TRUE(store_->record_outcome(back)->applied);
  EXPECT_EQ(history_of(lost.id), (std::vector<std::string>{"claimed/running/1/1/tok1", "started/running/1/1/tok1",
                                                           "released/pending/1/1/tok1"}));
  // A late outcome of an attempt that lost its job writes no stage.
  Outcome late = outcome(lost, owner_.token, JobState::Finished);
  late.stage_starts = {StageStart{lost.id, lost.epoch, Stage::Onion, "CO", now}};
  EXPECT_FALSE(store_->record_outcome(late)->applied);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'started' AND job_id = " + std::to_string(lost.id)), 1);
}

// The report reads every job of a model with its point, state, host, times and failure.
TEST_P(JobStoreTest, TheReportReadsEveryJobOfTheModel) {
  store_->set_policy(JobPolicy{30, 1, 0, 10});
  auto r = register_points(points({"30", "40"}));
  auto claimed = store_->claim_jobs(r.model_id, 3, owner_);
  ASSERT_EQ(claimed->size(), 3u);
  ASSERT_TRUE(store_->record_outcome(outcome(claimed->at(0), owner_.token, JobState::Finished))->applied);
  Outcome bad =
      outcome(claimed->at(1), owner_.token, JobState::Failed, "onion CO: exit code 4", Stage::Onion, "CO: exit code 4");
  bad.exit_code = 4;
  bad.retry = false;
  ASSERT_TRUE(store_->record_outcome(bad)->applied);
  auto data = store_->report_data("m1");
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->model, "m1");
  EXPECT_EQ(data->now.size(), 19u) << data->now;
  ASSERT_EQ(data->jobs.size(), static_cast<size_t>(count("SELECT COUNT(*) FROM pdr_model_jobs")));
  std::map<std::string, int> states;
  for (const auto& j : data->jobs) ++states[j.state];
  EXPECT_EQ(states["finished"], 1);
  EXPECT_EQ(states["failed"], 1);
  EXPECT_EQ(states["running"], 1);
  const ReportJob& done = data->jobs.at(0);
  EXPECT_EQ(done.id, claimed->at(0).id);
  EXPECT_EQ(done.host, "h");
  EXPECT_GE(done.started_ago, done.finished_ago);
  EXPECT_GE(done.finished_ago, 0);
  EXPECT_TRUE(done.dens == 30 || done.dens == 40) << done.dens;
  const ReportJob& failed = data->jobs.at(1);
  EXPECT_EQ(failed.stage, "onion");
  EXPECT_EQ(failed.cause, "CO: exit code 4");
  EXPECT_EQ(failed.exit_code, 4);
  EXPECT_EQ(data->jobs.at(2).finished_ago, -1) << "running";
  EXPECT_EQ(store_->report_data("nope").status().kind(), ErrorKind::kUsage);
}

// Failures, retries, hand-backs, verify and pdr_run retry each leave their event.
TEST_P(JobStoreTest, FailuresRetriesAndRequeuesAreInTheHistory) {
  store_->set_policy(JobPolicy{30, 5, 0, 10});
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(a->size(), 2u);
  const ClaimedJob job = a->front();
  Outcome fail = outcome(job, owner_.token, JobState::Failed, "pdr: exit code 7", Stage::Pdr, "exit code 7");
  fail.exit_code = 7;
  ASSERT_EQ(store_->record_outcome(fail)->state, JobState::Pending);
  auto b = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(b->size(), 1u);
  Outcome again = outcome(b->front(), owner_.token, JobState::Failed, "pdr: exit code 7", Stage::Pdr, "exit code 7");
  again.exit_code = 7;
  ASSERT_EQ(store_->record_outcome(again)->state, JobState::Failed);
  ASSERT_EQ(store_->retry_failed("m1").value(), 1);
  // The other job: handed back (interrupted), then claimed, finished and requeued by verify.
  ASSERT_EQ(store_->release_jobs(owner_).value(), 1);
  auto c = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(c->size(), 2u);
  const ClaimedJob second = c->front().id == job.id ? c->back() : c->front();
  ASSERT_TRUE(store_->record_outcome(outcome(second, owner_.token, JobState::Finished))->applied);
  ASSERT_TRUE(store_->requeue_finished(second.id, "output missing: /x").value());
  EXPECT_EQ(history_of(job.id),
            (std::vector<std::string>{"claimed/running/1/1/tok1", "retry/pending/1/1/tok1", "claimed/running/2/2/tok1",
                                      "failed/exception_runtime/2/2/tok1", "requeued/pending/0/2/",
                                      "claimed/running/1/3/tok1"}));
  EXPECT_EQ(history_of(second.id), (std::vector<std::string>{"claimed/running/1/1/tok1", "released/pending/1/1/tok1",
                                                             "claimed/running/1/2/tok1", "finished/finished/1/2/tok1",
                                                             "requeued/pending/0/2/"}))
      << "queued again after its finish: a fresh set of attempts";
  auto events = events_of(job.id);
  ASSERT_EQ(events->size(), 6u);
  EXPECT_EQ(events->at(3).stage, "pdr");
  EXPECT_EQ(events->at(3).exit_code, 7);
  EXPECT_NE(events->at(1).detail.find("may run again in"), std::string::npos) << events->at(1).detail;
  EXPECT_EQ(events->at(4).detail, "queued again by pdr_run retry");
  EXPECT_EQ(events_of(second.id)->back().stage, "verify");
  // status shows a failed job with its last three events.
  auto d = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_FALSE(d->empty());
  for (const auto& j : d.value()) {
    ASSERT_TRUE(store_->record_outcome(failure(j, 3, "onion CO: exit code 3", Stage::Onion, "exit code 3")).ok());
  }
  auto status = store_->status_report("m1");
  ASSERT_TRUE(status.ok());
  ASSERT_FALSE(status->failed.empty());
  ASSERT_EQ(status->failed.front().last_events.size(), 3u);
  EXPECT_EQ(status->failed.front().last_events.back().event, "failed");
  EXPECT_EQ(status->failed.front().last_events.back().stage, "onion");
}

// Old events of models with nothing left to run are pruned; a model at work keeps its history.
TEST_P(JobStoreTest, PruningKeepsTheHistoryOfModelsAtWork) {
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(a->size(), 2u);
  for (const auto& j : a.value())
    ASSERT_TRUE(store_->record_outcome(outcome(j, owner_.token, JobState::Finished))->applied);
  prov_.model_name = "m2";
  prov_.model_path = dir_ / "storage/m2";
  register_points(points({"40"}));
  const long long m1_events = count(
      "SELECT COUNT(*) FROM pdr_job_events e JOIN model_names m ON m.id = "
      "e.model_name_id WHERE m.model_name = 'm1'");
  EXPECT_EQ(m1_events, 6) << "registering, registered, two claims, two finishes";
  EXPECT_EQ(store_->prune_history(3600).value(), 0) << "nothing older than an hour";
  exec("UPDATE pdr_job_events SET at = '2000-01-01 00:00:00.000'");
  history_incomplete_ = true;
  // A grid's registration events stay: the last one tells whether a registration was left open
  // (pruning a killed registration's "registering" made status and a worker stop saying so).
  EXPECT_EQ(store_->prune_history(3600).value(), m1_events - 2) << "m1 is done; m2 has pending jobs";
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_events"), 4) << "m2's registration and m1's stay";
  exec("DELETE FROM pdr_job_events WHERE event = 'registered' AND model_name_id = " + std::to_string(r.model_id));
  EXPECT_EQ(store_->prune_history(3600).value(), 0);
  EXPECT_NE(store_->open_registration(r.model_id).value(), "") << "a registration left open is still told";
}

// A finish replayed after its first write landed (the COMMIT's answer was lost) is recognised
// as already recorded, by its lease epoch: only that attempt can have finished the job under it.
// A finish of an older epoch is never taken for it.
TEST_P(JobStoreTest, AReplayedFinishIsRecognisedByItsOwnEpochOnly) {
  store_->set_policy(JobPolicy{30, 3, 0, 10});
  auto r = register_points(points({"30"}));
  auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(jobs->size(), 2u);
  Outcome done = outcome(jobs->front(), owner_.token, JobState::Finished);
  StoredFile f;
  f.kind = "output_textout_file";
  f.path = "/store/TEXTOUT";
  f.sha256 = "abc";
  done.files.push_back(f);
  ASSERT_TRUE(store_->record_outcome(done)->applied);
  auto replayed = store_->record_outcome(done);
  ASSERT_TRUE(replayed.ok());
  EXPECT_TRUE(replayed->applied) << "the same attempt's finish, written once already";
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_files WHERE job_id = " + std::to_string(done.job_id)), 1);

  // The other job: its first owner's lease expires, a second owner finishes it under epoch 2.
  const ClaimedJob old = jobs->back();
  exec("UPDATE pdr_model_jobs SET lease_expires_at = '2000-01-01 00:00:00' WHERE id = " + std::to_string(old.id));
  ASSERT_EQ(store_->reap_expired().value(), 1);
  const Owner other{"h2", 7, "tok2"};
  auto taken = store_->claim_jobs(r.model_id, 1, other);
  ASSERT_EQ(taken->size(), 1u);
  ASSERT_TRUE(store_->record_outcome(outcome(taken->front(), other.token, JobState::Finished))->applied);
  EXPECT_FALSE(store_->record_outcome(outcome(old, owner_.token, JobState::Finished))->applied)
      << "a finish of epoch 1 taken for the finish of epoch 2";
}

TEST_P(JobStoreTest, HandingAJobBackDoesNotUseAnAttempt) {
  auto r = register_points(points({"30"}));
  for (int i = 0; i < 3; ++i) {
    auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
    ASSERT_EQ(jobs->size(), 2u);
    // One interrupted attempt handed back by its owner, one released with the others.
    ASSERT_TRUE(
        store_->record_outcome(outcome(jobs->front(), owner_.token, JobState::Pending, "interrupted"))->applied);
    ASSERT_EQ(store_->release_jobs(owner_).value(), 1);
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0"), 2);
  // An expired lease does use one, and waits the retry delay like a failure.
  store_->set_policy(JobPolicy{30, 3, 60, 10});
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  exec("UPDATE pdr_model_jobs SET lease_expires_at = '2000-01-01 00:00:00' WHERE status = 'running'");
  ASSERT_EQ(store_->reap_expired().value(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 1 AND retry_at IS NOT "
                  "NULL"),
            1);
}

// Error text quotes program output, cut to a length: a character cut in half is no reason for
// MySQL (utf8mb4, strict) to refuse the outcome.
TEST_P(JobStoreTest, AnErrorCutInTheMiddleOfACharacterIsStillRecorded) {
  store_->set_policy(JobPolicy{30, 1, 0, 10});
  auto r = register_points(points({"30"}));
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(jobs->size(), 1u);
  auto recorded = store_->record_outcome(outcome(jobs->front(), owner_.token, JobState::Failed,
                                                 "pdr: exit code 2 (last output: T = 5 \xE2\x84\x83 \xE2\x84)"));
  ASSERT_TRUE(recorded.ok()) << recorded.status().message();
  EXPECT_TRUE(recorded->applied);
  EXPECT_EQ(
      count(
          "SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND error LIKE '%T = 5 \xE2\x84\x83 ?"
          "?)%'"),
      1);
}

TEST_P(JobStoreTest, ExpiredLeaseOnTheLastAttemptFails) {
  store_->set_policy(JobPolicy{30, 1, 0, 10});
  auto r = register_points(points({"30"}));
  auto jobs = store_->claim_jobs(r.model_id, 1, owner_);
  exec("UPDATE pdr_model_jobs SET lease_expires_at = '2000-01-01 00:00:00' WHERE status = 'running'");
  EXPECT_EQ(store_->reap_expired().value(), 1);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND error LIKE 'lease expired%' "
            "AND error LIKE '%(attempt 1 of 1)'"),
      1);
}

TEST_P(JobStoreTest, FailureIsRetriedAndQuarantinedWhenItRepeats) {
  store_->set_policy(JobPolicy{30, 5, 0, 10});
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 1, owner_);
  auto first = store_->record_outcome(outcome(a->front(), owner_.token, JobState::Failed,
                                              "pdr: exit code 7 (last output: x)", Stage::Pdr, "exit code 7"));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->applied);
  EXPECT_EQ(first->state, JobState::Pending);
  EXPECT_EQ(first->error,
            "attempt 1 of 5 failed: pdr: exit code 7 (last output: x); back to pending, may run again in 0 s");
  auto b = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ(b->front().id, a->front().id) << "retry_delay 0: claimable at once";
  EXPECT_EQ(b->front().attempt, 2);
  auto second = store_->record_outcome(outcome(b->front(), owner_.token, JobState::Failed,
                                               "pdr: exit code 7 (last output: y)", Stage::Pdr, "exit code 7"));
  EXPECT_EQ(second->state, JobState::Failed);
  EXPECT_EQ(second->error, "pdr: exit code 7 (last output: y) (failed the same way twice; not tried again)");
  // pdr_run retry: fresh attempts.
  EXPECT_EQ(store_->retry_failed("m1").value(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 0 AND "
                  "last_error IS NULL AND error = 'queued again by pdr_run retry' AND error_stage IS NULL"),
            2 - 1);
  EXPECT_EQ(store_->retry_failed("m1").value(), 0);
}

// A job the predecessor left running has no owner on record: a plain retry leaves it alone,
// --ownerless queues it again; a job pdr_run runs (with an owner) stays running either way.
TEST_P(JobStoreTest, RetryOwnerlessQueuesOnlyJobsLeftRunningWithoutAnOwner) {
  auto r = register_points(points({"30", "40"}));
  auto a = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(a->size(), 2u);
  exec("UPDATE pdr_model_jobs SET token = NULL WHERE id = " + std::to_string(a->front().id));
  EXPECT_EQ(store_->retry_failed("m1").value(), 0);
  EXPECT_EQ(store_->retry_failed("m1", /*ownerless=*/true).value(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND error = 'left running without an "
                  "owner; queued again by pdr_run retry' AND id = " +
                  std::to_string(a->front().id)),
            1);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' AND id = " + std::to_string(a->back().id)),
      1);
  EXPECT_EQ(store_->retry_failed("m1", /*ownerless=*/true).value(), 0);
}

TEST_P(JobStoreTest, DifferentFailuresUseUpTheAttempts) {
  store_->set_policy(JobPolicy{30, 3, 0, 10});
  auto r = register_points(points({"30"}));
  struct Attempt {
    const char* error;
    Stage stage;
    const char* cause;
  };
  // The same cause in another stage is another failure.
  const Attempt attempts[] = {{"pdr: exit code 2", Stage::Pdr, "exit code 2"},
                              {"onion: exit code 2", Stage::Onion, "exit code 2"},
                              {"pdr: killed by signal 9", Stage::Pdr, "killed by signal 9"}};
  RecordedOutcome last;
  for (const auto& a : attempts) {
    auto c = store_->claim_jobs(r.model_id, 1, owner_);
    ASSERT_EQ(c->size(), 1u);
    last =
        store_->record_outcome(outcome(c->front(), owner_.token, JobState::Failed, a.error, a.stage, a.cause)).value();
  }
  EXPECT_EQ(last.state, JobState::Failed);
  EXPECT_EQ(last.error, "pdr: killed by signal 9 (attempt 3 of 3)");
}

TEST_P(JobStoreTest, ALostLeaseBetweenTwoFailuresDoesNotHideTheFirst) {
  // A lost owner is a failure of its own (stage lease): the job fails for good only when two
  // failures in a row are the same.
  store_->set_policy(JobPolicy{30, 5, 0, 10});
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(store_
                ->record_outcome(
                    outcome(a->front(), owner_.token, JobState::Failed, "pdr: exit code 7", Stage::Pdr, "exit code 7"))
                ->state,
            JobState::Pending);
  ASSERT_EQ(store_->claim_jobs(r.model_id, 1, owner_)->size(), 1u);
  exec("UPDATE pdr_model_jobs SET lease_expires_at = '2000-01-01 00:00:00' WHERE status = 'running'");
  ASSERT_EQ(store_->reap_expired().value(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND error_stage = 'lease'"), 1);
  auto c = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'running' AND error_stage = 'lease'"), 1)
      << "the last failure stays recorded while the job runs again";
  auto third = store_->record_outcome(
      outcome(c->front(), owner_.token, JobState::Failed, "pdr: exit code 7", Stage::Pdr, "exit code 7"));
  EXPECT_EQ(third->state, JobState::Pending) << third->error;
}

TEST_P(JobStoreTest, AFinishWhoseOutputsCannotTakeTheirNamesIsRevokedAsAStorageFailure) {
  store_->set_policy(JobPolicy{30, 2, 0, 10});
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 1, owner_);
  const Outcome done = outcome(a->front(), owner_.token, JobState::Finished);
  ASSERT_TRUE(store_->record_outcome(done)->applied);
  Outcome why = done;
  why.stage = Stage::Storage;
  why.cause = "rename refused";
  why.error = "storage: rename refused";
  auto revoked = store_->revoke_finish(why);
  ASSERT_TRUE(revoked.ok()) << revoked.status().message();
  EXPECT_TRUE(revoked->applied);
  EXPECT_EQ(revoked->state, JobState::Pending) << "attempt 1 of 2";
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND error_stage = 'storage' AND "
                  "error_cause = 'rename refused'"),
            1);
  EXPECT_FALSE(store_->revoke_finish(why)->applied) << "only a finish is revoked";
  // The next attempt finishes under a new epoch: the old finish's revocation no longer applies.
  auto b = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(b->size(), 1u);
  ASSERT_TRUE(store_->record_outcome(outcome(b->front(), owner_.token, JobState::Finished))->applied);
  EXPECT_FALSE(store_->revoke_finish(why)->applied);
  // The failure stays recorded after the finish: revoked the same way again, it is failed for good.
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND error_stage = 'storage'"), 1);
  Outcome again = why;
  again.epoch = b->front().epoch;
  auto second = store_->revoke_finish(again);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->applied);
  EXPECT_EQ(second->state, JobState::Failed) << second->error;
  EXPECT_NE(second->error.find("failed the same way twice"), std::string::npos) << second->error;
}

TEST_P(JobStoreTest, VerifyRequeuesOnlyFinishedJobs) {
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(a->size(), 2u);
  EXPECT_FALSE(store_->requeue_finished(a->front().id, "output missing").value()) << "running, not finished";
  ASSERT_TRUE(store_->record_outcome(outcome(a->front(), owner_.token, JobState::Finished))->applied);
  EXPECT_TRUE(store_->still_finished(a->front().id, a->front().epoch).value());
  EXPECT_FALSE(store_->still_finished(a->front().id, a->front().epoch + 1).value()) << "another attempt's epoch";
  EXPECT_TRUE(store_->requeue_finished(a->front().id, "output missing: /x").value());
  EXPECT_FALSE(store_->still_finished(a->front().id, a->front().epoch).value())
      << "queued again: a settle must not rename the older attempt's outputs over the next one's";
  EXPECT_FALSE(store_->requeue_finished(a->front().id, "output missing: /x").value()) << "a replay changes nothing";
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND error = 'verify: output missing: "
                  "/x' AND error_stage = 'verify'"),
            1);
}

// A model of a million jobs: pdr_progress_v sums the counter rows instead of grouping the jobs,
// and finds the first start and last finish through the model's time indexes.
TEST_P(JobStoreTest, ProgressViewReadsTheCountersAndTheTimesOfTheModel) {
  auto r = register_points(points({"30", "40"}));
  auto a = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(a->size(), 1u);
  ASSERT_TRUE(store_->record_outcome(outcome(a->front(), owner_.token, JobState::Finished, "")).ok());
  ASSERT_EQ(store_->claim_jobs(r.model_id, 1, owner_)->size(), 1u);
  EXPECT_EQ(count("SELECT total FROM pdr_progress_v WHERE model_name = 'm1'"), 4);
  EXPECT_EQ(count("SELECT finished FROM pdr_progress_v WHERE model_name = 'm1'"), 1);
  EXPECT_EQ(count("SELECT running FROM pdr_progress_v WHERE model_name = 'm1'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_progress_v WHERE model_name = 'm1' AND first_start IS NOT NULL AND "
                  "last_finish IS NOT NULL AND first_start <= last_finish"),
            1);
  exec("UPDATE pdr_job_counts SET n = n + 10 WHERE status = 'pending' AND n > 0");
  EXPECT_EQ(count("SELECT pending FROM pdr_progress_v WHERE model_name = 'm1'"), 12) << "read from the counters";
  EXPECT_TRUE(store_->recount_jobs().value());
  EXPECT_EQ(count("SELECT pending FROM pdr_progress_v WHERE model_name = 'm1'"), 2);
}

// A process that created the count triggers and ended before it counted (MySQL commits each
// CREATE TRIGGER at once) left triggers over counters that do not match the rows: without the
// mark of a count they are not read, and the next process that opens the database counts.
TEST_P(JobStoreTest, TriggersLeftWithoutACountAreCountedByTheNextProcess) {
  auto r = register_points(points({"30", "40"}));
  ASSERT_EQ(store_->claim_jobs(r.model_id, 3, owner_)->size(), 3u);
  exec("DELETE FROM pdr_job_counts");
  other_manager_ = std::make_unique<DbManager>(db_);
  auto read_only = open_job_store(*other_manager_, /*create_schema=*/false);
  ASSERT_TRUE(read_only.ok()) << read_only.status().message();
  auto before = read_only.value()->status_report("m1");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->by_status.at("running"), 3) << "the rows are counted, not the empty counters";
  auto store = open_job_store(*other_manager_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(count("SELECT SUM(n) FROM pdr_job_counts WHERE status = 'running'"), 3);
  EXPECT_EQ(count("SELECT SUM(n) FROM pdr_job_counts WHERE status = 'pending'"), 1);
  EXPECT_TRUE(store.value()->server_info()->job_counters);
}

TEST_P(JobStoreTest, RetryDelayHoldsTheJobBack) {
  store_->set_policy(JobPolicy{30, 3, 3600, 10});
  auto r = register_points(points({"30"}));
  auto a = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ(store_->record_outcome(outcome(a->front(), owner_.token, JobState::Failed, "pdr: exit code 1"))->state,
            JobState::Pending);
  EXPECT_TRUE(store_->claim_jobs(r.model_id, 2, owner_)->empty()) << "not before retry_at";
  EXPECT_EQ(store_->backlog(r.model_id)->pending, 1) << "a waiting retry keeps the grid open";
}

TEST_P(JobStoreTest, MonitoringViewsShowJobsProgressFailuresAndWorkers) {
  store_->set_policy(JobPolicy{30, 1, 0, 10});
  auto r = register_points(points({"30", "40"}));
  auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_EQ(jobs->size(), 2u);
  ASSERT_TRUE(store_
                  ->record_outcome(outcome(jobs->front(), owner_.token, JobState::Failed, "onion CO: exit code 2",
                                           Stage::Onion, "CO: exit code 2"))
                  .ok());
  ASSERT_TRUE(store_->record_run(r.model_id, owner_, 2, "running", PoolStats{}).ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_jobs_v WHERE model_name = 'm1' AND xnsur > 0 AND sint > 0"), 4);
  EXPECT_EQ(count("SELECT total FROM pdr_progress_v WHERE model_name = 'm1'"), 4);
  EXPECT_EQ(count("SELECT pending FROM pdr_progress_v WHERE model_name = 'm1'"), 2);
  EXPECT_EQ(count("SELECT running FROM pdr_progress_v WHERE model_name = 'm1'"), 1);
  EXPECT_EQ(count("SELECT failed FROM pdr_progress_v WHERE model_name = 'm1'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_failures_v WHERE error = 'onion CO: exit code 2 (attempt 1 of 1)' AND "
                  "error_stage = 'onion'"),
            1);
  EXPECT_EQ(count("SELECT running_jobs FROM pdr_workers_v WHERE token = 'tok1' AND model_name = 'm1'"), 1);
  auto info = store_->server_info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->schema_version, kSchemaVersion);
  EXPECT_TRUE(info->job_counters);
  EXPECT_TRUE(info->skip_locked) << info->version;
  EXPECT_FALSE(info->version.empty());
}

TEST_P(JobStoreTest, AClaimReadsPendingRowsNotTheFinishedOnesBeforeThem) {
  std::vector<std::string> dens;
  for (int i = 0; i < 1500; ++i) dens.push_back(std::to_string(i));
  auto r = register_points(points(dens));
  ASSERT_EQ(r.created, 3000);
  // Most of a grid done: every row but the last ten is finished.
  history_incomplete_ = true;
  exec(
      "UPDATE pdr_model_jobs SET status = 'finished', pending = FALSE WHERE id <= (SELECT MAX(id) - 10 FROM "
      "(SELECT id FROM pdr_model_jobs) t)");
  const long long first_pending = count("SELECT MIN(id) FROM pdr_model_jobs WHERE status = 'pending'");
  const bool mysql = GetParam() == "mysql";
  // The server's count of index rows read (the test's own server: nothing else reads it).
  const std::string rows_read =
      "SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN "
      "('HANDLER_READ_NEXT', 'HANDLER_READ_RND_NEXT')";
  const long long before = mysql ? count(rows_read) : 0;
  auto jobs = store_->claim_jobs(r.model_id, 2, owner_);
  const long long after = mysql ? count(rows_read) : 0;
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ(jobs->front().id, first_pending) << "the lowest pending id first";
  if (mysql) {
    EXPECT_LT(after - before, 500) << "the claim walked past the finished rows";
  }
}

// On MySQL a claim goes on after the last job its process claimed (the purge's delete-marked
// index entries of claimed rows are not walked again); a job queued again below that by someone
// else is claimed within a second, or at once when nothing is pending after it; one this store
// queued again is claimed in its turn. SQLite and PostgreSQL always claim the lowest id.
TEST_P(JobStoreTest, AJobQueuedAgainBelowTheLastClaimIsClaimedWithinASecond) {
  auto r = register_points(points({"30", "40", "50"}));  // 6 jobs
  auto first = store_->claim_jobs(r.model_id, 3, owner_);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 3u);
  const long long low = first->front().id;
  // Another process hands the lowest one back (not this store).
  history_incomplete_ = true;
  exec("UPDATE pdr_model_jobs SET status = 'pending', pending = TRUE, token = NULL WHERE id = " + std::to_string(low));
  const bool mysql = GetParam() == "mysql";
  auto next = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_TRUE(next.ok()) << next.status().message();
  ASSERT_EQ(next->size(), 1u);
  if (mysql) {
    EXPECT_GT(next->front().id, first->back().id) << "MySQL goes on after the last claimed job";
  } else {
    EXPECT_EQ(next->front().id, low) << "the lowest pending id first";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto after_a_second = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_TRUE(after_a_second.ok());
  ASSERT_EQ(after_a_second->size(), 1u);
  if (mysql) {
    EXPECT_EQ(after_a_second->front().id, low) << "a second later the claim looks from the first job";
  }
  // Nothing pending after the last claimed job: the lowest pending one, at once.
  auto rest = store_->claim_jobs(r.model_id, 6, owner_);
  ASSERT_TRUE(rest.ok());
  std::set<long long> claimed;
  for (const auto& j : *first) claimed.insert(j.id);
  for (const auto* batch : {&*next, &*after_a_second, &*rest}) {
    for (const auto& j : *batch) claimed.insert(j.id);
  }
  EXPECT_EQ(claimed.size(), 6u) << "every job claimed, the one queued again too";
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending'"), 0);
  auto none = store_->claim_jobs(r.model_id, 2, owner_);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(JobStoreTest, AVersionTwoDatabaseGetsCountersFromItsRows) {
  auto r = register_points(points({"30", "40"}));
  ASSERT_EQ(store_->claim_jobs(r.model_id, 3, owner_)->size(), 3u);
  drop_count_triggers();
  exec(std::string("DROP TABLE pdr_job_counts") + (backend_.postgresql() ? " CASCADE" : ""));
  JobStore* store = reopen_at_version(2);
  ASSERT_NE(store, nullptr);
  auto rep = store->status_report("m1");
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->by_status.at("running"), 3);
  EXPECT_EQ(rep->by_status.at("pending"), 1);
  EXPECT_EQ(count("SELECT SUM(n) FROM pdr_job_counts WHERE status = 'running'"), 3);
}

// Schema 4's MySQL count triggers added with INSERT ... SELECT (a table-level AUTO-INC lock per
// change): a version-4 database gets the triggers of this version, and its counts stay exact.
TEST_P(JobStoreTest, AVersionFourDatabaseGetsTriggersThatTakeNoTableLock) {
  auto r = register_points(points({"30", "40"}));
  ASSERT_EQ(store_->claim_jobs(r.model_id, 3, owner_)->size(), 3u);
  if (GetParam() == "mysql") {
    drop_count_triggers();
    exec(
        "CREATE TRIGGER trg_pdr_jobs_count_update AFTER UPDATE ON pdr_model_jobs FOR EACH ROW INSERT INTO "
        "pdr_job_counts (model_name_id, shard, status, n) SELECT NEW.model_name_id, 0, NEW.status, 0 FROM DUAL "
        "WHERE 1 = 0 ON DUPLICATE KEY UPDATE n = n");
  }
  JobStore* store = reopen_at_version(4);
  ASSERT_NE(store, nullptr);
  if (GetParam() == "mysql") {
    EXPECT_EQ(count("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND "
                    "EVENT_OBJECT_TABLE = 'pdr_model_jobs'"),
              3);
    EXPECT_EQ(count("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND "
                    "EVENT_OBJECT_TABLE = 'pdr_model_jobs' AND ACTION_STATEMENT LIKE '%SELECT%'"),
              0);
  }
  auto jobs = store->claim_jobs(r.model_id, 1, owner_);
  ASSERT_EQ(jobs->size(), 1u);
  Outcome failed;
  failed.job_id = jobs->front().id;
  failed.epoch = jobs->front().epoch;
  failed.token = owner_.token;
  failed.state = JobState::Failed;
  failed.stage = Stage::Pdr;
  failed.cause = "exit code 1";
  failed.error = "pdr: exit code 1";
  ASSERT_TRUE(store->record_outcome(failed)->applied);
  auto rep = store->status_report("m1");
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->by_status.at("running"), 3);
  EXPECT_EQ(rep->by_status.at("failed"), 1);
  EXPECT_EQ(rep->by_status.at("pending"), 0);
  auto check = store->check_counts("m1");
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->kept_by_triggers);
  EXPECT_EQ(check->counters, check->rows);
}

// Up to schema 8 a server's count triggers added to one of 16 shards (the session's id modulo
// 16), which sessions shared: a finish and a claim in one transaction could deadlock another
// session on them. A version-8 database gets triggers that add to the session's own shard, a
// run's start folds the rows of sessions not in a transaction into shard 0, and the counts stay
// exact.
TEST_P(ServerJobStoreTest, AVersionEightDatabaseGetsACounterShardOfEachSessionsOwn) {
  auto r = register_points(points({"30", "40"}));
  auto first = store_->claim_jobs(r.model_id, 3, owner_);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 3u);
  Dialect d;
  d.mysql = GetParam() == "mysql";
  d.pg = !d.mysql;
  const std::string shared = d.mysql ? "CONNECTION_ID() % 16" : "pg_backend_pid() % 16";
  {  // the triggers schema 8 made
    auto session = backend_.session();
    for (const auto& t : schema_triggers(d)) {
      auto old = [&](std::string sql) {
        const std::string now = count_shard_sql(d);
        for (size_t at = 0; (at = sql.find(now, at)) != std::string::npos; at += shared.size()) {
          sql.replace(at, now.size(), shared);
        }
        return sql;
      };
      if (d.pg) {
        *session << old(t.function);
      } else {
        *session << "DROP TRIGGER " + t.name;
        *session << old(t.sql);
      }
    }
  }
  const std::string old_triggers =
      d.mysql ? "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND "
                "EVENT_OBJECT_TABLE = 'pdr_model_jobs' AND ACTION_STATEMENT LIKE '%ID() \\% 16%'"
              : "SELECT COUNT(*) FROM pg_proc WHERE proname LIKE 'pdr_count%' AND prosrc LIKE '%pid() \\% 16%'";
  ASSERT_EQ(count(old_triggers), d.mysql ? 3 : 2) << "the schema-8 triggers were not installed";
  ASSERT_GT(count("SELECT COUNT(*) FROM pdr_job_counts WHERE shard <> 0"), 0);
  JobStore* store = reopen_at_version(8);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(count(old_triggers), 0) << "a trigger still adds to a shared shard";
  // Two sessions (of two processes) add to rows of their own.
  ASSERT_TRUE(store->record_outcome(outcome(first->at(0), owner_.token, JobState::Finished))->applied);
  ASSERT_TRUE(store_->record_outcome(outcome(first->at(1), owner_.token, JobState::Finished))->applied);
  auto last = store_->claim_jobs(r.model_id, 1, owner_);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 1u);
  const std::string finished_shards = "SELECT COUNT(DISTINCT shard) FROM pdr_job_counts WHERE status = 'finished'";
  EXPECT_EQ(count(finished_shards), 2);
  // The end of a run leaves the rows of a model still at work as they are.
  ASSERT_TRUE(store->record_run(r.model_id, owner_, 1, "finished", PoolStats{}).ok());
  EXPECT_EQ(count(finished_shards), 2);
  // Once the model is settled, the end of a run leaves one row per state.
  for (const auto& job : {first->at(2), last->front()}) {
    ASSERT_TRUE(store_->record_outcome(outcome(job, owner_.token, JobState::Finished))->applied);
  }
  ASSERT_TRUE(store->record_run(r.model_id, owner_, 1, "finished", PoolStats{}).ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_job_counts WHERE shard <> 0"), 0);
  EXPECT_EQ(count("SELECT n FROM pdr_job_counts WHERE shard = 0 AND status = 'finished'"), 4);
  EXPECT_EQ(count("SELECT SUM(n) FROM pdr_job_counts WHERE status <> 'finished'"), 0);
  auto rep = store->status_report("m1");
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->by_status.at("finished"), 4);
  EXPECT_EQ(rep->by_status.at("pending"), 0);
}

TEST_P(JobStoreTest, AVersionOneDatabaseGetsTheViews) {
  exec("DROP VIEW pdr_jobs_v");
  exec("DROP VIEW pdr_workers_v");
  ASSERT_NE(reopen_at_version(1), nullptr);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_jobs_v"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_workers_v"), 0);
}

}  // namespace
}  // namespace pdr
