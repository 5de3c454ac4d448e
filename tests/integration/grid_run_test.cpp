// Whole grids run by the real pdr_run binary with the mock model on a real SQLite file.
#include <gtest/gtest.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "pdr/settings.h"
#include "pdr/storage.h"
#include "support/grid_run.h"
#include "support/run_binary.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> k50 = {"--model-name", "g50", "--parallel", "--workers=4", "--dens", "30", "35",
                                      "40",           "45",  "50",         "--chi",       "00",     "10", "20",
                                      "30",           "40",  "--mass",     "-10",         "00"};

TEST_F(GridRunTest, FiftyPointsFourWorkersEveryJobExactlyOnceThenNoWork) {
  auto r = run(k50);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("50 finished, 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs"), 50);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1 AND "
                      "pending = 0 AND active = 0 AND exit_code = 0 AND time_of_finish IS NOT NULL"),
            50);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM hdf_files"), 50);
  // Provenance: the template used, and every rendered pdr_config.json pointing at it.
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM json_templates WHERE name = 'pdr_config.json.template' AND "
                      "LENGTH(sha256_sum) = 64"),
            1);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM json_files f JOIN json_templates t ON t.id = f.template_id"), 50);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM kosmatau_executables WHERE code_revision = 'mock-1.0' AND "
                      "compilation_date = '2025-02-11 11:01:00.000000' AND LENGTH(sha256_sum) = 64"),
            1);
  // Each point ran its pdr once and its onion once per species: 50 * (1 + 2) starts.
  EXPECT_EQ(count_starts(dir_ / "trace"), 150u);
  for (const char* f : {"pdrgrid/TEXTOUT100_40_-10_20_00", "pdrgrid/pdr100_40_-10_20_00.hdf",
                        "pdrgrid/pdrstruct100_40_-10_20_00.hdf5", "pdrgrid/pdrchem100_40_-10_20_00.hdf5",
                        "pdrgrid/chemchk100_40_-10_20_00.out", "pdrgrid/MCDRT100_40_-10_20_00.tar.gz",
                        "pdrgrid/PDRNEW100_40_-10_20_00.INP", "pdrgrid/pdr_config100_40_-10_20_00.json",
                        "pdrgrid/CTRL_IND100_40_-10_20_00", "oniongrid/TEXTOUT100_40_-10_20_00_CO",
                        "oniongrid/TEXTOUT100_40_-10_20_00_C+", "oniongrid/ONION100_40_-10_20_00.jerg_CO.smli"}) {
    EXPECT_TRUE(fs::is_regular_file(dir_ / ("store/g50/" + std::string(f)))) << f;
  }
  EXPECT_TRUE(fs::is_empty(dir_ / "scratch")) << "working directories are removed";
  // Every staged copy took its final name once its outcome was recorded; none is left beside them.
  size_t stored = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "store/g50")) {
    if (!e.is_regular_file()) continue;
    ++stored;
    EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
  }
  EXPECT_EQ(static_cast<long long>(stored), sql_count("SELECT COUNT(*) FROM job_files")) << "each file recorded";

  auto again = run(k50);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("0 finished, 0 failed, 50 already done"), std::string::npos) << again.out;
  EXPECT_EQ(count_starts(dir_ / "trace"), 150u) << "a re-run must start no job executable";
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts = 1"), 50);

  // A deleted output makes exactly that point run again.
  fs::remove(dir_ / "store/g50/pdrgrid/pdrstruct100_30_00_40_00.hdf5");
  auto third = run(k50);
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_NE(third.out.find("1 finished, 0 failed, 49 already done"), std::string::npos) << third.out;
  EXPECT_EQ(sql_count("SELECT attempts FROM pdr_model_jobs WHERE model_job_name = '100_30_00_40_00'"), 1)
      << "queued again after its finish: a fresh set of attempts";
}

TEST_F(GridRunTest, TheIssueCommandWorksAsTypedAndUsesTheDefaultModel) {
  auto r = run({"--parallel", "--workers=4", "--dens", "30", "40", "--chi", "10", "100", "--mass", "-10"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("model pdr_model: 4 points; 4 finished"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "store/pdr_model/pdrgrid/pdr100_40_-10_100_00.hdf"));
}

TEST_F(GridRunTest, VerifyPutsJobsWithMissingOrChangedOutputsBackToPending) {
  auto r = run({"--model-name", "v", "--dens", "30", "40", "--chi", "10", "20"});
  ASSERT_EQ(r.code, 0) << r.err;
  fs::remove(dir_ / "store/v/pdrgrid/chemchk100_30_-10_10_00.out");
  test::write_text(dir_ / "store/v/oniongrid/TEXTOUT100_40_-10_20_00_CO", "tampered\n");
  std::string hdf = test::read_text(dir_ / "store/v/pdrgrid/pdr100_40_-10_10_00.hdf");
  hdf[0] = hdf[0] == 'X' ? 'Y' : 'X';  // same size, other content
  test::write_text(dir_ / "store/v/pdrgrid/pdr100_40_-10_10_00.hdf", hdf);
  auto v = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "cfg.yaml", "--model-name", "v"});
  EXPECT_EQ(v.code, 1) << "outputs were missing or changed: like a run with failures\n" << v.err;
  EXPECT_NE(v.out.find("; run them with: pdr_run worker --config " + (dir_ / "cfg.yaml") + " --model-name v\n"),
            std::string::npos)
      << v.out;
  EXPECT_NE(v.out.find("model v: 4 finished jobs"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("3 jobs back to pending"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("output changed (sha256): "), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("output missing: "), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("output changed (size): "), std::string::npos) << v.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND error LIKE 'verify: %'"), 3);
  auto again = run({"--model-name", "v", "--dens", "30", "40", "--chi", "10", "20"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("3 finished, 0 failed, 1 already done"), std::string::npos) << again.out;
  // Staged copies: of attempts claimed over since (removed), of the attempt that finished a job
  // (kept: a run that ended after recording the finish left them for a settle to rename), of a
  // job queued again under the same attempt (removed: nothing renames them), of no job (kept).
  const auto epoch_of = [&](const std::string& job) {
    return sql_count("SELECT lease_epoch FROM pdr_model_jobs WHERE model_job_name = '" + job + "'");
  };
  const long long epoch = epoch_of("100_30_-10_10_00");
  ASSERT_GE(epoch, 2) << "run twice";
  const auto tag = [](long long e) { return "0123456789ab-" + std::to_string(e); };
  const std::vector<std::string> dead = {
      "store/v/pdrgrid/.pdrstruct100_30_-10_10_00.hdf5.staged-" + tag(epoch - 1),
      "store/v/oniongrid/.TEXTOUT100_30_-10_10_00_CO.staged-" + tag(epoch - 1),
      "store/v/pdrgrid/.pdrstruct100_40_-10_20_00.hdf5.staged-" + tag(epoch_of("100_40_-10_20_00"))};
  const std::vector<std::string> alive = {
      "store/v/pdrgrid/.pdrout100_30_-10_10_00.hdf.staged-" + tag(epoch), "store/v/pdrgrid/.notes.txt.staged-" + tag(1),
      "store/v/pdrgrid/.pdrout100_30_-10_10_00.hdf.staged-zz-0",
      // the log a live run keeps of its failed attempt
      "store/v/pdrgrid/.TEXTOUT100_40_-10_20_00.staged-fedcba987654-" + std::to_string(epoch_of("100_40_-10_20_00")),
      "store/v/elsewhere/.pdrout100_30_-10_10_00.hdf.staged-" + tag(0)};
  fs::create_directories(dir_ / "store/v/elsewhere");
  for (const auto& f : dead) test::write_text(dir_ / f, "x");
  for (const auto& f : alive) test::write_text(dir_ / f, "x");
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE pdr_model_jobs SET status = 'exception_runtime' WHERE model_job_name = '100_40_-10_20_00'";
  }
  // A finished job whose output has only the staged name of the attempt that finished it (its
  // run ended between the two) is not run again: while that run may be alive (a row of it says
  // running, silent less than the lease) it is left for that run's rename, once the run has
  // ended verify renames it.
  const std::string struct_hdf = "store/v/pdrgrid/pdrstruct100_40_-10_10_00.hdf5";
  const std::string staged_hdf = "store/v/pdrgrid/.pdrstruct100_40_-10_10_00.hdf5.staged-fedcba987654-" +
                                 std::to_string(epoch_of("100_40_-10_10_00"));
  fs::rename(dir_ / struct_hdf, dir_ / staged_hdf);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    char name[256] = {0};
    gethostname(name, sizeof name - 1);
    const std::string host = name;
    const int pid = static_cast<int>(getpid());
    s << "INSERT INTO pdr_runs (token, host, pid, state, updated_at) VALUES ('fedcba9876543210', :h, :p, "
         "'running', CURRENT_TIMESTAMP)",
        soci::use(host), soci::use(pid);
  }
  auto waiting = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "cfg.yaml", "--model-name", "v"});
  EXPECT_EQ(waiting.code, 1) << waiting.err;
  EXPECT_NE(waiting.out.find("output missing: " + (dir_ / struct_hdf) +
                             "; left as it is: the attempt that finished it staged it as " + (dir_ / staged_hdf) +
                             " and its run may still be renaming them"),
            std::string::npos)
      << waiting.out;
  EXPECT_NE(waiting.out.find("0 jobs back to pending, 3 staged copies of ended attempts removed, 5 staged copies "
                             "kept, 1 left for later"),
            std::string::npos)
      << waiting.out;
  EXPECT_NE(waiting.out.find("removed " + (dir_ / dead[0]) + ": staged under lease epoch " + std::to_string(epoch - 1) +
                             " of job 100_30_-10_10_00, which was claimed again since"),
            std::string::npos)
      << waiting.out;
  EXPECT_NE(waiting.out.find("of job 100_40_-10_20_00, which is exception_runtime now"), std::string::npos)
      << waiting.out;
  for (const auto& f : dead) EXPECT_FALSE(fs::exists(dir_ / f)) << f;
  for (const auto& f : alive) EXPECT_TRUE(fs::exists(dir_ / f)) << f;
  EXPECT_TRUE(fs::exists(dir_ / staged_hdf));
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 3);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE pdr_runs SET state = 'finished' WHERE token = 'fedcba9876543210'";
    s << "UPDATE pdr_model_jobs SET status = 'finished' WHERE model_job_name = '100_40_-10_20_00'";
  }
  auto renamed = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "cfg.yaml", "--model-name", "v"});
  EXPECT_EQ(renamed.code, 0) << renamed.out << renamed.err;
  EXPECT_NE(renamed.out.find("1 output renamed from the staged copies of the attempt that finished it"),
            std::string::npos)
      << renamed.out;
  EXPECT_NE(renamed.out.find("0 jobs back to pending, outputs of 1 job renamed from their staged copies, 4 staged "
                             "copies kept\n"),
            std::string::npos)
      << renamed.out;
  EXPECT_TRUE(fs::exists(dir_ / struct_hdf));
  EXPECT_FALSE(fs::exists(dir_ / staged_hdf));
  auto clean = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "cfg.yaml", "--model-name", "v"});
  EXPECT_NE(clean.out.find("0 jobs back to pending, 4 staged copies kept"), std::string::npos) << clean.out;
  EXPECT_EQ(clean.code, 0) << clean.err;
  // A configuration whose storage is not the model's is refused, as a run refuses it, rather
  // than judged by the files of another place.
  std::string other_cfg = test::read_text(dir_ / "cfg.yaml");
  other_cfg.replace(other_cfg.find("base_dir: store"), 15, "base_dir: elsewhere");
  test::write_text(dir_ / "other.yaml", other_cfg);
  auto other = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "other.yaml", "--model-name", "v"});
  EXPECT_EQ(other.code, 2) << other.out << other.err;
  EXPECT_NE(other.err.find("model 'v' stores its outputs in " + (dir_ / "store/v") + ", not " + (dir_ / "elsewhere/v") +
                           "; use that storage.base_dir"),
            std::string::npos)
      << other.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 4);
  // Another spelling of the same directory (a symlink to it) is the model's storage.
  fs::create_directory_symlink(dir_ / "store", dir_ / "linked");
  std::string linked_cfg = test::read_text(dir_ / "cfg.yaml");
  linked_cfg.replace(linked_cfg.find("base_dir: store"), 15, "base_dir: linked");
  test::write_text(dir_ / "linked.yaml", linked_cfg);
  auto linked = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "linked.yaml", "--model-name", "v"});
  EXPECT_EQ(linked.code, 0) << linked.out << linked.err;
  EXPECT_NE(linked.out.find("0 jobs back to pending"), std::string::npos) << linked.out;
}

TEST_F(GridRunTest, JsonTemplateIsUsedForThisRunOnly) {
  const std::string shared = std::string(PDR_MOCK_BASE) + "/templates/pdr_config.json.template";
  const std::string before = test::read_text(shared);
  test::write_text(dir_ / "my.json.template", "{\"xnsur\": KT_VARxnsur_, \"note\": \"mine\"}\n");
  auto r = run({"--model-name", "j", "--dens", "30", "--chi", "10", "--json-template", "my.json.template"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(test::read_text(dir_ / "store/j/pdrgrid/pdr_config100_30_-10_10_00.json"),
            "{\"xnsur\": 1.000e+03, \"note\": \"mine\"}\n");
  EXPECT_EQ(test::read_text(shared), before) << "the shared template must stay untouched";
  test::write_text(dir_ / "bad.json.template", "{\"x\": KT_VARnosuch_}\n");
  auto bad = run({"--model-name", "j2", "--dens", "30", "--json-template", "bad.json.template"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("bad.json.template:1: unknown placeholder KT_VARnosuch_"), std::string::npos) << bad.err;
  auto missing = run({"--model-name", "j3", "--dens", "30", "--json-template", "nope.json"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("--json-template: "), std::string::npos) << missing.err;
}

TEST_F(GridRunTest, ForceOnionRerunsOnionOnStoredOutputsOnly) {
  const std::vector<std::string> grid = {"--model-name", "fo", "--parallel", "--workers", "2", "--dens", "30", "40"};
  auto r = run(grid);
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t starts_before = count_starts(dir_ / "trace");  // 2 points x (pdr + onion CO + onion C+)
  EXPECT_EQ(starts_before, 6u);
  const std::string hdf = test::read_text(dir_ / "store/fo/pdrgrid/pdr100_30_-10_10_00.hdf");
  const long long files = sql_count("SELECT COUNT(*) FROM job_files");
  // The scratch keeps no pdr outputs: onion must work from the stored ones.
  auto again = run({"--model-name", "fo", "--parallel", "--workers", "2", "--dens", "30", "40", "--force-onion"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("2 finished, 0 failed, 0 already done"), std::string::npos) << again.out;
  // Two points x two species: a pdr run again would add two more starts.
  EXPECT_EQ(count_starts(dir_ / "trace"), starts_before + 4) << "only the onion steps ran again";
  EXPECT_EQ(test::read_text(dir_ / "store/fo/pdrgrid/pdr100_30_-10_10_00.hdf"), hdf);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM job_files"), files) << "pdr outputs kept, onion outputs replaced";
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM hdf_files"), 2);
  // run_stage says what the latest attempt ran; every way from finished back to pending sets it.
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND run_stage = 'onion' AND "
                      "attempts = 1 AND output_hdf4_file IS NOT NULL AND input_pdrnew_inp_file IS NOT NULL"),
            2)
      << "finished, the pdr outputs' columns kept, with a fresh set of attempts";
  // A normal re-run afterwards has nothing to do.
  auto third = run(grid);
  EXPECT_NE(third.out.find("0 finished, 0 failed, 2 already done"), std::string::npos) << third.out;
}

// A species added to a finished grid is not run by itself: the registration says which jobs lack
// it and how to run it, and once --force-onion ran it the jobs no longer lack it.
TEST_F(GridRunTest, ASpeciesAddedToAFinishedGridIsNamedWithTheWayToRunIt) {
  const std::vector<std::string> grid = {"--model-name", "sp", "--dens", "30", "40", "--species", "CO"};
  auto r = run(grid);
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t starts = count_starts(dir_ / "trace");
  std::vector<std::string> both = grid;
  both.push_back("C+");
  auto added = run(both);
  ASSERT_EQ(added.code, 0) << added.err;
  EXPECT_NE(added.out.find("0 finished, 0 failed, 2 already done"), std::string::npos) << added.out;
  EXPECT_NE(added.err.find("2 jobs finished without the onion step for species asked for now, e.g. C+ (it ran CO): "
                           "left as done; run their onion step for every species with --force-onion"),
            std::string::npos)
      << added.err;
  EXPECT_EQ(count_starts(dir_ / "trace"), starts);
  std::vector<std::string> forced = both;
  forced.push_back("--force-onion");
  auto onion = run(forced);
  ASSERT_EQ(onion.code, 0) << onion.err;
  EXPECT_EQ(count_starts(dir_ / "trace"), starts + 4) << "CO and C+ for both points";
  auto again = run(both);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.err.find("without the onion step"), std::string::npos) << again.err;
  // What a job ran is what its recorded outputs show, not the species it was registered with:
  // registered for CO, run for CO and C+, it lacks nothing.
  ASSERT_EQ(run({"--model-name", "reg", "--dens", "30", "--species", "CO", "--register-only"}).code, 0);
  ASSERT_EQ(run({"--model-name", "reg", "--dens", "30", "--species", "CO", "C+"}).code, 0);
  auto ran_both = run({"--model-name", "reg", "--dens", "30", "--species", "CO", "C+"});
  ASSERT_EQ(ran_both.code, 0) << ran_both.err;
  EXPECT_EQ(ran_both.err.find("without the onion step"), std::string::npos) << ran_both.err;
}

// Three outputs staged by one attempt, the second of which another process (a start's settle, a
// verify) gave its name first: promote passes over it and names the others. A copy that is gone
// with nothing under its name is a failure, and the names given before it are removed again.
// `local_of` maps a stored path to the file behind it.
void expect_promote_passes_over_a_copy_renamed_before(Storage& storage, const fs::path& scratch,
                                                      const std::function<std::string(const std::string&)>& local_of) {
  fs::create_directories(scratch);
  const auto stage = [&](const std::string& round) {
    std::vector<StoredFile> files;
    for (const std::string name : {"a", "b", "c"}) {
      test::write_text(scratch / name, "output " + round + name + "\n");
      auto f = storage.store(scratch / name, "pdrgrid/race" + round + name, "pdrstruct", "0123456789ab-7");
      EXPECT_TRUE(f.ok()) << f.status().message();
      if (f.ok()) files.push_back(f.value());
    }
    return files;
  };
  auto files = stage("1");
  ASSERT_EQ(files.size(), 3u);
  fs::rename(local_of(files[1].staged_path), local_of(files[1].path));
  Status st = storage.promote(files);
  EXPECT_TRUE(st.ok()) << st.message();
  for (const std::string name : {"a", "b", "c"}) {
    const auto& f = files[static_cast<size_t>(name[0] - 'a')];
    EXPECT_EQ(test::read_text(local_of(f.path)), "output 1" + name + "\n") << f.path;
    EXPECT_FALSE(fs::exists(local_of(f.staged_path))) << f.staged_path;
  }
  auto lost = stage("2");
  ASSERT_EQ(lost.size(), 3u);
  fs::remove(local_of(lost[1].staged_path));
  EXPECT_FALSE(storage.promote(lost).ok());
  EXPECT_FALSE(fs::exists(local_of(lost[0].path))) << "a name given before the failure is removed again";
  EXPECT_FALSE(fs::exists(local_of(lost[1].path)));
}

TEST_F(GridRunTest, RcloneStorageStoresVerifiesAndFailsLoudly) {
  // A config storing on rclone `remote`, below ./<dir> for a local-type remote.
  const auto write_rclone_config = [this](const std::string& file, const std::string& remote, const std::string& dir) {
    test::write_text(dir_ / file, "database:\n  path: jobs.db\nstorage:\n  type: rclone\n  rclone_remote: " + remote +
                                      "\n  base_dir: /strip/me/" + dir +
                                      "\n  remote_path_prefix: /strip/me\nrun:\n  scratch_dir: scratch\n"
                                      "model_parameters:\n  species: [CO]\n");
  };
  // A local-type rclone remote in a config of this test only.
  test::write_text(dir_ / "rclone.conf", "[rtest]\ntype = local\n");
  write_rclone_config("rclone.yaml", "rtest", "out");
  auto e = env();
  e.push_back("RCLONE_CONFIG=" + (dir_ / "rclone.conf"));
  const std::vector<std::string> grid = {
      "--config", dir_ / "rclone.yaml", "--model-name", "rc", "--parallel", "--workers", "2", "--dens", "30", "40"};
  auto r = test::run_pdr_run(dir_.path(), grid, e);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 finished, 0 failed"), std::string::npos) << r.out;
  // The prefix is cut: rtest:out/rc/... is ./out/rc/... for a local-type remote.
  EXPECT_TRUE(fs::is_regular_file(dir_ / "out/rc/pdrgrid/pdr100_30_-10_10_00.hdf"));
  EXPECT_TRUE(fs::is_regular_file(dir_ / "out/rc/oniongrid/TEXTOUT100_40_-10_10_00_CO"));
  EXPECT_FALSE(fs::exists(dir_ / "store"));
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM job_files WHERE path LIKE 'rtest:out/rc/%'"),
            sql_count("SELECT COUNT(*) FROM job_files"));
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE output_hdf4_file = "
                      "'rtest:out/rc/pdrgrid/pdr100_30_-10_10_00.hdf'"),
            1);
  auto again = test::run_pdr_run(dir_.path(), grid, e);
  EXPECT_NE(again.out.find("0 finished, 0 failed, 2 already done"), std::string::npos) << again.out;
  test::write_text(dir_ / "out/rc/pdrgrid/chemchk100_40_-10_10_00.out", "tampered\n");
  const std::string dead = "out/rc/pdrgrid/.pdrstruct100_30_-10_10_00.hdf5.staged-0123456789ab-0";
  test::write_text(dir_ / dead, "x");  // of an attempt before the first claim: claimed over since
  auto v = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "rclone.yaml", "--model-name", "rc"}, e);
  EXPECT_NE(v.out.find("1 job back to pending, 1 staged copy of ended attempts removed"), std::string::npos)
      << v.out << v.err;
  EXPECT_FALSE(fs::exists(dir_ / dead));
  // A remote rclone does not know is refused at the start, before a job computes outputs it
  // could not store.
  auto bad = e;
  bad.push_back("PDR_STORAGE_RCLONE_REMOTE=nosuch:");
  auto unknown =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "rclone.yaml", "--model-name", "rc2", "--dens", "30"}, bad);
  EXPECT_EQ(unknown.code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("storage.rclone_remote: 'nosuch:' is not a remote rclone knows"), std::string::npos)
      << unknown.err;
  // A failed upload fails the job; it is never recorded as stored.
  test::write_text(dir_ / "blocked", "a file where the outputs' directory would be\n");
  write_rclone_config("blocked.yaml", "rtest", "blocked");
  auto f =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "blocked.yaml", "--model-name", "rc2", "--dens", "30"}, e);
  EXPECT_EQ(f.code, 1) << f.err;
  EXPECT_EQ(
      sql_count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id WHERE "
                "m.model_name = 'rc2' AND j.status = 'exception_runtime' AND j.error LIKE 'storage: rclone copyto %'"),
      1);
  StorageSettings direct;
  direct.type = "rclone";
  direct.rclone_remote = "rtest:/";
  auto storage = open_storage(direct, dir_ / "direct/m", {"RCLONE_CONFIG=" + (dir_ / "rclone.conf")});
  ASSERT_TRUE(storage.ok()) << storage.status().message();
  expect_promote_passes_over_a_copy_renamed_before(
      **storage, dir_ / "race", [](const std::string& stored) { return stored.substr(std::string("rtest:/").size()); });

  // A remote set up by RCLONE_CONFIG_* variables alone: rclone says its config file is missing
  // ("NOTICE: Config file ... not found"), which is no part of an answer; the user's own
  // rclone log settings are not passed on (rclone refuses them beside -q).
  write_rclone_config("renv.yaml", "renv", "outenv");
  auto by_env = env();
  by_env.push_back("RCLONE_CONFIG=" + (dir_ / "no-such.conf"));
  by_env.push_back("RCLONE_CONFIG_RENV_TYPE=local");
  by_env.push_back("RCLONE_VERBOSE=1");  // the user's own log settings do not clash with -q
  by_env.push_back("RCLONE_LOG_LEVEL=DEBUG");
  auto n =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "renv.yaml", "--model-name", "rn", "--dens", "30"}, by_env);
  EXPECT_EQ(n.code, 0) << n.err;
  EXPECT_NE(n.out.find("1 finished, 0 failed"), std::string::npos) << n.out << n.err;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "outenv/rn/pdrgrid/pdr100_30_-10_10_00.hdf"));

  // A copy whose sum the remote does not confirm is not left behind under its staged name.
  const std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  std::string real_rclone;
  std::istringstream dirs(path);
  for (std::string d; real_rclone.empty() && std::getline(dirs, d, ':');) {
    if (!d.empty() && ::access((d + "/rclone").c_str(), X_OK) == 0) real_rclone = d + "/rclone";
  }
  ASSERT_FALSE(real_rclone.empty());
  // An rclone in `dir` that answers hashsum with `answer` (shell) and does the rest as rclone.
  const auto hashsum_answers = [&](const std::string& dir, const std::string& answer) {
    fs::create_directories(dir_ / dir);
    test::write_text(dir_ / (dir + "/rclone"), "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = hashsum ] && { " + answer +
                                                   "; }; done\nexec " + real_rclone + " \"$@\"\n");
    fs::permissions(dir_ / (dir + "/rclone"), fs::perms::owner_all);
  };
  hashsum_answers("bin", "echo \"$(printf '0%.0s' $(seq 64))  x\"; exit 0");
  ::setenv("PATH", (dir_ / "bin:" + path).c_str(), 1);
  auto lying = open_storage(direct, dir_ / "lying/m", {"RCLONE_CONFIG=" + (dir_ / "rclone.conf")});
  ::setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(lying.ok()) << lying.status().message();
  test::write_text(dir_ / "out.dat", "an output\n");
  auto stored = (*lying)->store(dir_ / "out.dat", "pdrgrid/out.dat", "pdrchem", "0123456789ab-1");
  ASSERT_FALSE(stored.ok());
  EXPECT_NE(stored.status().message().find("does not match the output (sha256)"), std::string::npos)
      << stored.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "lying/m/pdrgrid/.out.dat.staged-0123456789ab-1"));
  EXPECT_TRUE(fs::is_directory(dir_ / "lying/m/pdrgrid")) << "the copy was made, then removed";

  // A remote that does not answer says nothing about outputs: registering again leaves the
  // finished job done (with a warning), and verify stops without queueing it.
  fs::create_directories(dir_ / "down");
  test::write_text(dir_ / "down/rclone",
                   "#!/bin/sh\necho called >> '" + (dir_ / "down/calls") +
                       "'\necho 'Failed to create file system: connection refused' >&2\nexit 1\n");
  fs::permissions(dir_ / "down/rclone", fs::perms::owner_all);
  ::setenv("PATH", (dir_ / "down:" + path).c_str(), 1);  // the children below find it first
  const std::vector<std::string> again_rn = {"--config", dir_ / "renv.yaml", "--model-name", "rn", "--dens", "30"};
  auto down = test::run_pdr_run(dir_.path(), again_rn, by_env);
  const std::string calls = test::read_text(dir_ / "down/calls");
  // Asked once per directory (pdrgrid, oniongrid; three tries each), not once per output, and
  // once when the storage opened.
  EXPECT_LE(std::count(calls.begin(), calls.end(), '\n'), 7) << calls;
  auto down_verify =
      test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "renv.yaml", "--model-name", "rn"}, by_env);
  ::setenv("PATH", path.c_str(), 1);
  EXPECT_EQ(down.code, 0) << down.out << down.err;
  EXPECT_NE(down.out.find("0 finished, 0 failed, 1 already done"), std::string::npos) << down.out << down.err;
  EXPECT_NE(down.err.find("recorded outputs could not be looked at (e.g. renv:outenv/rn/"), std::string::npos)
      << down.err;
  EXPECT_NE(down.err.find(": the storage did not answer); their jobs are left as done"), std::string::npos) << down.err;
  EXPECT_EQ(down_verify.code, 1) << down_verify.out << down_verify.err;
  EXPECT_NE(down_verify.out.find("storage unreachable: "), std::string::npos) << down_verify.out;
  EXPECT_NE(down_verify.err.find("the storage did not answer"), std::string::npos) << down_verify.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id WHERE "
                      "m.model_name = 'rn' AND j.status = 'finished'"),
            1);

  // A remote that lists an output but cannot read it (a permission on the server): verify says
  // so and leaves the job as it is; running it again would not mend that.
  hashsum_answers("noread", "echo 'permission denied' >&2; exit 1");
  ::setenv("PATH", (dir_ / "noread:" + path).c_str(), 1);
  auto unread =
      test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "renv.yaml", "--model-name", "rn"}, by_env);
  ::setenv("PATH", path.c_str(), 1);
  EXPECT_EQ(unread.code, 1) << unread.out << unread.err;
  EXPECT_NE(unread.out.find("output unreadable: rclone hashsum sha256 renv:outenv/rn/"), std::string::npos)
      << unread.out;
  EXPECT_NE(unread.out.find("0 jobs back to pending, 1 with outputs that could not be read (left as they are)"),
            std::string::npos)
      << unread.out;
  EXPECT_EQ(unread.err.find("did not answer"), std::string::npos) << unread.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id WHERE "
                      "m.model_name = 'rn' AND j.status = 'finished'"),
            1);
}

// A PDR base directory like the mock one but with the templates where `where` says.
std::string make_base(const std::string& root, const std::string& where, const std::string& pdrnew_name,
                      bool with_pdrnew) {
  const std::string mock = PDR_MOCK_BASE;
  fs::create_directories(root + "/pdrinpdata");
  fs::create_directories(root + "/onioninpdata");
  for (const char* exe : {"mockpdr", "mockonion", "mockgetctrlind", "mockmrt"}) {
    fs::create_symlink(mock + "/" + exe, root + "/" + exe);
  }
  fs::copy(mock + "/pdrinpdata", root + "/pdrinpdata", fs::copy_options::recursive);
  fs::copy(mock + "/onioninpdata", root + "/onioninpdata", fs::copy_options::recursive);
  const std::string dir = where.empty() ? root : root + "/" + where;
  fs::create_directories(dir);
  fs::copy_file(mock + "/templates/pdr_config.json.template", dir + "/pdr_config.json.template");
  if (with_pdrnew) fs::copy_file(mock + "/templates/PDRNEW.INP.template", dir + "/" + pdrnew_name);
  return root;
}

TEST_F(GridRunTest, TemplatesAreFoundWhereThePredecessorLookedAndNamesAreHonoured) {
  struct Case {
    std::string where, pdrnew_name;
    bool with_pdrnew;
  };
  int n = 0;
  for (const Case& c :
       {Case{"templates", "PDRNEW.INP.template", true}, Case{"pdrinpdata/templates", "PDRNEW.INP.template", true},
        Case{"", "MY.INP.template", true}, Case{"templates", "PDRNEW.INP.template", false}}) {
    const std::string model = "t" + std::to_string(++n);
    const std::string base = make_base(dir_ / ("base" + std::to_string(n)), c.where, c.pdrnew_name, c.with_pdrnew);
    auto e = env();
    for (auto& kv : e) {  // replace the mock base directory (a second entry would not override)
      if (kv.rfind("PDR_BASE_DIR=", 0) == 0) kv = "PDR_BASE_DIR=" + base;
    }
    test::write_text(dir_ / "names.yaml",
                     "database:\n  path: jobs.db\nstorage:\n  base_dir: store\n"
                     "pdr:\n  pdrinp_template_file: " +
                         c.pdrnew_name +
                         "\n"
                         "run:\n  scratch_dir: scratch\nmodel_parameters:\n  species: [CO]\n");
    auto r =
        test::run_pdr_run(dir_.path(), {"--config", dir_ / "names.yaml", "--model-name", model, "--dens", "30"}, e);
    ASSERT_EQ(r.code, 0) << c.where << ": " << r.err;
    const bool inp = fs::is_regular_file(dir_ / ("store/" + model + "/pdrgrid/PDRNEW100_30_-10_10_00.INP"));
    EXPECT_EQ(inp, c.with_pdrnew) << c.where;
    EXPECT_TRUE(fs::is_regular_file(dir_ / ("store/" + model + "/pdrgrid/pdr_config100_30_-10_10_00.json")));
    if (!c.with_pdrnew) {
      EXPECT_NE(r.err.find("JSON-only mode"), std::string::npos) << r.err;
    }
  }
}

TEST_F(GridRunTest, SftpPasswordLoginFromTheEnvironment) {
  if (geteuid() != 0) {
    if (std::getenv("CI") != nullptr) FAIL() << "the sftp password test needs root (it creates a test account)";
    GTEST_SKIP() << "needs root: it creates the account pdr-sftp-test";
  }
  const std::string sshd = dir_ / "sshd";
  const std::string script = std::string(PDR_SOURCE_DIR) + "/scripts/sshd.sh";
  ASSERT_EQ(std::system((script + " start " + sshd + " --password >" + (dir_ / "sshd.out") + " 2>&1").c_str()), 0)
      << test::read_text(dir_ / "sshd.out");
  struct Stop {
    std::string cmd;
    ~Stop() { (void)std::system(cmd.c_str()); }
  } stop{script + " stop " + sshd};
  std::string port;
  std::istringstream env_file(test::read_text(sshd + "/env"));
  for (std::string line; std::getline(env_file, line);) {
    if (line.rfind("PORT=", 0) == 0) port = line.substr(5);
  }
  std::string password = test::read_text(sshd + "/password");
  while (!password.empty() && password.back() == '\n') password.pop_back();
  ASSERT_GE(password.size(), 16u);
  // The test account writes into this test's directory.
  fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const std::string remote = dir_ / "remote";
  fs::create_directories(remote);
  fs::permissions(remote, fs::perms::all);
  test::write_text(dir_ / "pw.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  type: sftp\n  host: 127.0.0.1\n"
                   "  port: " +
                       port + "\n  username: pdr-sftp-test\n  known_hosts: " + sshd + "/known_hosts\n  base_dir: " +
                       remote + "\nrun:\n  scratch_dir: scratch\nmodel_parameters:\n  species: [CO]\n");
  auto e = env();
  e.push_back("PDR_STORAGE_PASSWORD=" + password);
  const std::vector<std::string> grid = {"--config", dir_ / "pw.yaml", "--model-name", "pw", "--dens", "30"};
  auto r = test::run_pdr_run(dir_.path(), grid, e);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 finished, 0 failed"), std::string::npos) << r.out;
  struct stat sb {};
  ASSERT_EQ(::stat((remote + "/pw/pdrgrid/pdr100_30_-10_10_00.hdf").c_str(), &sb), 0);
  EXPECT_NE(sb.st_uid, 0u) << "written by the password account, not by root's key";
  EXPECT_EQ(r.err.find(password), std::string::npos);
  EXPECT_EQ(r.out.find(password), std::string::npos);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM job_files WHERE path LIKE '%" + password + "%'"), 0);
  // A wrong password: one line, exit 2, nothing run.
  auto bad_env = env();
  bad_env.push_back("PDR_STORAGE_PASSWORD=wrong-" + password);
  auto bad =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "pw.yaml", "--model-name", "pw2", "--dens", "40"}, bad_env);
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("sftp storage: cannot connect to pdr-sftp-test@127.0.0.1"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.err.find(password), std::string::npos);
  // A run killed outright leaves no ssh master behind, and so no process that holds the password.
  auto hang_env = env("*:hang");
  hang_env.push_back("PDR_STORAGE_PASSWORD=" + password);
  fs::remove(dir_ / "trace");
  const pid_t killed =
      test::start_pdr_run(dir_.path(), {"--config", dir_ / "pw.yaml", "--model-name", "pw3", "--dens", "50"}, hang_env);
  for (int i = 0; i < 600 && count_starts(dir_ / "trace") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(count_starts(dir_ / "trace"), 1u) << "the killed run's model program did not start";
  auto holders = [&] {
    std::vector<std::string> pids;
    for (const auto& proc : fs::directory_iterator("/proc")) {
      const std::string name = proc.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream f(proc.path() / "environ");
      std::string environ((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (environ.find("PDR_SSH_PASSWORD=" + password) != std::string::npos) pids.push_back(name);
    }
    return pids;
  };
  EXPECT_EQ(holders().size(), 1u) << "the master holds the password while the run is alive";
  ::kill(killed, SIGKILL);
  (void)test::finish_pdr_run(killed, dir_.path());
  auto left = holders();
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = holders();
  }
  EXPECT_TRUE(left.empty()) << "a process holds the password after its run was killed: " << left.front();
}

TEST_F(GridRunTest, SftpStorageOnAThrowawaySshd) {
  const std::string sshd = dir_ / "sshd";
  const std::string script = std::string(PDR_SOURCE_DIR) + "/scripts/sshd.sh";
  if (std::system((script + " start " + sshd + " >" + (dir_ / "sshd.out") + " 2>&1").c_str()) != 0) {
    if (std::getenv("CI") != nullptr) FAIL() << "sshd did not start: " << test::read_text(dir_ / "sshd.out");
    GTEST_SKIP() << "sshd did not start: " << test::read_text(dir_ / "sshd.out");
  }
  struct Stop {
    std::string cmd;
    ~Stop() { (void)std::system(cmd.c_str()); }
  } stop{script + " stop " + sshd};
  std::string port, user;
  std::istringstream env_file(test::read_text(sshd + "/env"));
  for (std::string line; std::getline(env_file, line);) {
    if (line.rfind("PORT=", 0) == 0) port = line.substr(5);
    if (line.rfind("USER=", 0) == 0) user = line.substr(5);
  }
  const std::string remote = dir_ / "remote";
  auto config = [&](const std::string& known_hosts) {
    test::write_text(dir_ / "sftp.yaml",
                     "database:\n  path: jobs.db\nstorage:\n  type: sftp\n  host: 127.0.0.1\n"
                     "  port: " +
                         port + "\n  username: " + user + "\n  key_file: " + sshd +
                         "/client_key\n  known_hosts: " + known_hosts + "\n  base_dir: " + remote +
                         "\nrun:\n  scratch_dir: scratch\nmodel_parameters:\n  species: [CO]\n");
  };
  config(sshd + "/known_hosts");
  const std::vector<std::string> grid = {
      "--config", dir_ / "sftp.yaml", "--model-name", "sf", "--parallel", "--workers", "2", "--dens", "30", "40"};
  auto r = test::run_pdr_run(dir_.path(), grid, env());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 finished, 0 failed"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_regular_file(remote + "/sf/pdrgrid/pdr100_30_-10_10_00.hdf"));
  EXPECT_TRUE(fs::is_regular_file(remote + "/sf/oniongrid/TEXTOUT100_40_-10_10_00_CO"));
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM job_files WHERE path LIKE 'sftp://" + user + "@127.0.0.1:" + port + "/%'"),
            sql_count("SELECT COUNT(*) FROM job_files"));
  auto again = test::run_pdr_run(dir_.path(), grid, env());
  EXPECT_NE(again.out.find("0 finished, 0 failed, 2 already done"), std::string::npos) << again.out << again.err;
  test::write_text(remote + "/sf/pdrgrid/chemchk100_40_-10_10_00.out", "tampered\n");
  const std::string dead = remote + "/sf/oniongrid/.TEXTOUT100_30_-10_10_00_CO.staged-0123456789ab-0";
  test::write_text(dead, "x");
  auto v = test::run_pdr_run(dir_.path(), {"verify", "--config", dir_ / "sftp.yaml", "--model-name", "sf"}, env());
  EXPECT_NE(v.out.find("1 job back to pending, 1 staged copy of ended attempts removed"), std::string::npos)
      << v.out << v.err;
  EXPECT_FALSE(fs::exists(dead));
  StorageSettings direct;
  direct.type = "sftp";
  direct.host = "127.0.0.1";
  direct.port = std::stoi(port);
  direct.username = user;
  direct.key_file = sshd + "/client_key";
  direct.known_hosts = sshd + "/known_hosts";
  auto storage = open_storage(direct, remote + "/direct", env());
  ASSERT_TRUE(storage.ok()) << storage.status().message();
  const std::string prefix = "sftp://" + user + "@127.0.0.1:" + port;
  expect_promote_passes_over_a_copy_renamed_before(
      **storage, dir_ / "race", [&](const std::string& stored) { return stored.substr(prefix.size()); });
  // An unknown host key is refused before anything runs.
  test::write_text(dir_ / "empty_known_hosts", "");
  config(dir_ / "empty_known_hosts");
  // Control directories that ended processes left (SIGKILL) are removed by the next one; a live
  // process's, and names of another shape, are not.
  const std::string tmp = dir_ / "tmp";
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  const std::string stale = tmp + "/pdr-ssh-" + std::to_string(gone) + "-AbC123";
  const std::string live = tmp + "/pdr-ssh-" + std::to_string(getpid()) + "-AbC123";
  const std::string other = tmp + "/pdr-ssh-AbC123";
  // A directory of the name that holds what no control directory holds is not one.
  const std::string foreign = tmp + "/pdr-ssh-" + std::to_string(gone) + "-XyZ789";
  for (const auto& d : {stale, live, other, foreign}) {
    fs::create_directories(d);
    test::write_text(d + "/master.log", "x\n");
  }
  test::write_text(stale + "/askpass", "#!/bin/sh\n");
  test::write_text(stale + "/batch12", "put x\n");
  test::write_text(foreign + "/notes.txt", "mine\n");
  auto with_tmp = env();
  with_tmp.push_back("TMPDIR=" + tmp);
  auto bad =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "sftp.yaml", "--model-name", "sf2", "--dens", "30"}, with_tmp);
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("sftp storage: cannot connect to " + user + "@127.0.0.1 port " + port), std::string::npos)
      << bad.err;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(foreign + "/notes.txt"));
  std::size_t left = 0;
  for (const auto& e : fs::directory_iterator(tmp)) left += e.path().filename().string().rfind("pdr-ssh-", 0) == 0;
  EXPECT_EQ(left, 3u) << "the failed run's own control directory is removed";
}

TEST_F(GridRunTest, APredecessorStyleYamlRunsUnchanged) {
  // The layout and keys of the predecessor's my_config.yaml (its section aliases, nulls, keys it
  // never used), pointed at the mock base directory and a SQLite file.
  test::write_text(dir_ / "my_config.yaml", std::string(R"(database:
  type: sqlite
  path: ./old_jobs.db
  host: localhost
  port: 3306
  database: pdr_test
  username: pdr_user
  password: null
  pool_size: 5
  max_overflow: 5
  pool_timeout: 60
  pool_recycle: 280
  pool_pre_ping: true
  connect_args: {}
  diagnostics_enabled: true
storage:
  type: local
  base_dir: ./rundir
  rclone_remote: kosmatau
  use_mount: false
  mount_point: null
  host: null
  port: null
  username: null
  password: null
  use_local_copy: true
  remote_path_prefix: null
pdr:
  model_name: old_style
  base_dir: )") + PDR_MOCK_BASE + R"(
  pdr_file_name: mockpdr
  onion_file_name: mockonion
  getctrlind_file_name: mockgetctrlind
  mrt_file_name: mockmrt
  pdrinp_template_file: PDRNEW.INP.template
  json_template_file: pdr_config.json.template
  chem_database: chem_rates_2022-10-21-ERS.dat
  chem_origin: UDfA12
  exe_revision: dev
  compilation_date: '2026-02-06'
user:
  username: Some One
  email: some.one@example.org
model_params:
  metal: ['100']
  dens: ['30', '31']
  mass: ['-10']
  chi: ['10']
  species: [CO, C+]
  alpha: 0.
  rcore: 0.2
  default_species: "H+ H2+ H3+ HE+ HE"
  chemistry: "HE+ HE H+ H2+ H3+  C CH C+ "
non_default_params:
  ihtclgas: 0
  ihtcldust: 0
  cosray: 5.0e-17
directories:
  pdr_out_dirs: [pdroutput, onionoutput, Out]
  pdr_inp_dirs: [pdrinpdata, onioninpdata, In, templates]
)");
  auto r = test::run_pdr_run(dir_.path(), {"--config", "my_config.yaml"}, {"PDR_MOCK_TRACE=" + (dir_ / "trace")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("model old_style: 2 points; 2 finished"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("model_params.default_species is not used"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pdr.compilation_date is not used"), std::string::npos) << r.err;
  const std::string inp = test::read_text(dir_ / "rundir/old_style/pdrgrid/PDRNEW100_30_-10_10_00.INP");
  EXPECT_NE(inp.find("COSRAY\n5.000e-17\n"), std::string::npos);
  EXPECT_NE(inp.find("IHTCLGAS\n0\n"), std::string::npos);
  EXPECT_NE(inp.find("ALPHA\n0.000e+00\n"), std::string::npos);
  EXPECT_NE(inp.find("SPECIES  CH\nSPECIES  C+"), std::string::npos);
  soci::session db(*soci::factory_sqlite3(), "db=" + (dir_ / "old_jobs.db"));
  double cosray = 0;
  int ihtcldust = -1;
  std::string user;
  db << "SELECT cosray, ihtcldust FROM kosmatau_parameters LIMIT 1", soci::into(cosray), soci::into(ihtcldust);
  db << "SELECT username FROM users", soci::into(user);
  EXPECT_EQ(cosray, 5.0e-17);
  EXPECT_EQ(ihtcldust, 0);
  EXPECT_EQ(user, "Some One");
  // Asking for something pdr_run does not do is an error, not ignored.
  std::string text = test::read_text(dir_ / "my_config.yaml");
  text.replace(text.find("use_mount: false"), 16, "use_mount: true ");
  test::write_text(dir_ / "mount.yaml", text);
  auto m = test::run_pdr_run(dir_.path(), {"--config", "mount.yaml"});
  EXPECT_EQ(m.code, 2);
  EXPECT_NE(m.err.find("mount.yaml:20: storage.use_mount: mounted remotes are not used"), std::string::npos) << m.err;
}

// The predecessor records storage.base_dir as it was given, often relative: the same place
// given as an absolute path (as pdr_run records it) is the same model, not a conflict.
TEST_F(GridRunTest, ARelativeRecordedModelPathIsTheSamePlace) {
  auto r = run({"--model-name", "rel", "--dens", "30", "--chi", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE model_names SET model_path = './store//rel/' WHERE model_name = 'rel'";
  }
  auto again = run({"--model-name", "rel", "--dens", "30", "40", "--chi", "10"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("1 finished, 0 failed, 1 already done"), std::string::npos) << again.out;
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE model_names SET model_path = 'elsewhere/rel' WHERE model_name = 'rel'";
  }
  auto other = run({"--model-name", "rel", "--dens", "30", "--chi", "10"});
  EXPECT_EQ(other.code, 2) << other.err;
  EXPECT_NE(other.err.find("already stores its outputs in elsewhere/rel"), std::string::npos) << other.err;
  // Refused before anything is made in the storage it names: by a run and by a worker.
  std::string cfg = test::read_text(dir_ / "cfg.yaml");
  cfg.replace(cfg.find("base_dir: store"), 15, "base_dir: newstore");
  test::write_text(dir_ / "new.yaml", cfg);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--config", dir_ / "new.yaml", "--model-name", "rel", "--dens", "30", "--chi", "10"},
        std::vector<std::string>{"worker", "--config", dir_ / "new.yaml", "--model-name", "rel"}}) {
    auto refused = test::run_pdr_run(dir_.path(), args, env());
    EXPECT_EQ(refused.code, 2) << refused.err;
    EXPECT_NE(refused.err.find("already stores its outputs in elsewhere/rel, not " + (dir_ / "newstore/rel")),
              std::string::npos)
        << refused.err;
    EXPECT_FALSE(fs::exists(dir_ / "newstore")) << args.front();
  }
}

TEST_F(GridRunTest, AChangedNonGridParameterIsANewPointNotASkip) {
  auto a = run({"--model-name", "p", "--dens", "30", "30.0"});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_NE(a.out.find("1 point; 1 finished"), std::string::npos) << a.out;
  test::write_text(dir_ / "both.yaml",
                   test::read_text(dir_ / "cfg.yaml") + "non_default_parameters:\n  cosray: 5.0e-17\n");
  // Under the same model its output names would collide with the first point's: refused, nothing written.
  auto same =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "both.yaml", "--model-name", "p", "--dens", "30"}, env());
  EXPECT_EQ(same.code, 2);
  EXPECT_NE(same.err.find("model 'p' already has point 100_30_-10_10_00 with other parameters"), std::string::npos)
      << same.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM kosmatau_parameters"), 1);
  // New points under the same model take its physics: other constants are refused too, or one
  // grid would hold two physics (here only new points, none of which the model has).
  auto extended = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "both.yaml", "--model-name", "p", "--dens", "40", "50", "--chi", "20"}, env());
  EXPECT_EQ(extended.code, 2) << extended.err;
  EXPECT_NE(extended.err.find("model 'p' has other parameters than the new point 100_40_-10_20_00 (cosray: "),
            std::string::npos)
      << extended.err;
  EXPECT_EQ(extended.err.find('\n'), extended.err.size() - 1) << "one line: " << extended.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM kosmatau_parameters"), 1);
  auto grown = run({"--model-name", "p", "--dens", "40", "--chi", "20"});
  ASSERT_EQ(grown.code, 0) << grown.err;
  EXPECT_NE(grown.out.find("1 point; 1 finished"), std::string::npos) << grown.out;
  // The chemistry is its species, word by word: the runs of spaces the predecessor kept from a
  // folded YAML string change nothing, another species list is refused with the word named.
  test::write_text(dir_ / "spaced.yaml", test::read_text(dir_ / "cfg.yaml") + "  chemistry: \"H   CO \"\n");
  test::write_text(dir_ / "listed.yaml", test::read_text(dir_ / "cfg.yaml") + "  chemistry: [H, CO]\n");
  test::write_text(dir_ / "more.yaml", test::read_text(dir_ / "cfg.yaml") + "  chemistry: [H, CO, C]\n");
  ASSERT_EQ(
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "spaced.yaml", "--model-name", "ws", "--dens", "30"}, env())
          .code,
      0);
  auto listed = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "listed.yaml", "--model-name", "ws", "--dens", "30", "40"}, env());
  EXPECT_EQ(listed.code, 0) << listed.err;
  auto more =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "more.yaml", "--model-name", "ws", "--dens", "50"}, env());
  EXPECT_EQ(more.code, 2);
  EXPECT_NE(more.err.find("(species: nothing in the database, 'C' now (word 3))"), std::string::npos) << more.err;
  // Under another model it is a new point that runs, not a skip.
  auto other =
      test::run_pdr_run(dir_.path(), {"--config", dir_ / "both.yaml", "--model-name", "p2", "--dens", "30"}, env());
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_NE(other.out.find("1 point; 1 finished, 0 failed, 0 already done"), std::string::npos) << other.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM kosmatau_parameters WHERE cosray = 5e-17"), 1);
}

TEST_F(GridRunTest, WorkersRunConcurrently) {
  auto r = run({"--model-name", "c", "--parallel", "--workers", "4", "--dens", "30", "40", "--chi", "10", "20",
                "--species", "CO"},
               "*:sleep=0.5");
  ASSERT_EQ(r.code, 0) << r.err;
  // Replay the pdr start/end events of the trace: at some moment four ran at once.
  std::vector<std::pair<long long, int>> events;
  std::map<std::string, int> seen;
  for (const auto& e : read_trace(dir_ / "trace")) {
    const int n = seen[e.job + e.what]++;
    if (n == 0) events.emplace_back(e.ms, e.what == "start" ? 1 : -1);  // the first start/end is pdr
  }
  std::sort(events.begin(), events.end(),
            [](auto a, auto b) { return a.first < b.first || (a.first == b.first && a.second < b.second); });
  int running = 0, peak = 0;
  for (auto e : events) peak = std::max(peak, running += e.second);
  EXPECT_EQ(peak, 4);
}

TEST_F(GridRunTest, AFailureIsRetriedQuarantinedAndQueuedAgainByRetry) {
  auto r = run({"--model-name", "rt", "--parallel", "--workers", "2", "--dens", "30", "40", "--chi", "10"},
               "100_40_-10_10_00:fail=7");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("[job 2 100_40_-10_10_00] attempt 1 of 3 failed: pdr: exit code 7"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("1 finished, 1 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 failed attempt queued again"), std::string::npos) << r.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND attempts = 2 AND "
                      "error LIKE '%(failed the same way twice; not tried again)'"),
            1);
  EXPECT_EQ(count_starts(dir_ / "trace"), 3u + 2u) << "the failing pdr ran twice, the good point once (+2 onions)";
  // Queued again on request, and run by a worker joining the model.
  auto again = test::run_pdr_run(dir_.path(), {"retry", "--config", dir_ / "cfg.yaml", "--model-name", "rt"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("model rt: 1 failed job queued again"), std::string::npos) << again.out;
  auto w = test::run_pdr_run(dir_.path(), {"worker", "--config", dir_ / "cfg.yaml", "--model-name", "rt"}, env());
  EXPECT_EQ(w.code, 0) << w.err;
  EXPECT_NE(w.out.find("worker on model rt: 1 finished, 0 failed"), std::string::npos) << w.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished' AND attempts = 1"), 2);
  // A worker for a model nobody registered, or without a model, is a usage error.
  auto none = test::run_pdr_run(dir_.path(), {"worker", "--config", dir_ / "cfg.yaml", "--model-name", "nope"}, env());
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("model 'nope' is not registered"), std::string::npos) << none.err;
  EXPECT_EQ(test::run_pdr_run(dir_.path(), {"retry", "--config", dir_ / "cfg.yaml", "--model-name", "nope"}).code, 2);
}

// A job the Python pdr_run left marked running (no owner recorded) is left to it, and said so by
// a worker's closing lines and by status (a worker said "1 running" and exited 0, status showed
// "host   pid 0  running ?"), with the command that queues it again.
TEST_F(GridRunTest, AJobLeftRunningWithNoOwnerIsNamedByAWorkerAndStatus) {
  ASSERT_EQ(run({"--model-name", "ow", "--dens", "30", "40", "--register-only"}).code, 0);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE pdr_model_jobs SET status = 'running', pending = 0, active = 1, token = NULL, host = NULL, pid = "
         "NULL WHERE model_job_name = '100_30_-10_10_00'";
  }
  const std::string retry =
      "; if none is alive: pdr_run retry --config " + (dir_ / "cfg.yaml") + " --model-name ow --ownerless";
  auto w = test::run_pdr_run(dir_.path(), {"worker", "--config", dir_ / "cfg.yaml", "--model-name", "ow"}, env());
  EXPECT_EQ(w.code, 0) << w.err;
  EXPECT_NE(w.out.find("model ow in the database: 1 finished, 0 failed, 0 pending, 1 running\n  1 running job with no "
                       "owner recorded is left to the run that marked it" +
                       retry),
            std::string::npos)
      << w.out;
  auto st = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "ow"});
  EXPECT_NE(st.out.find("  100_30_-10_10_00  no owner recorded (the Python pdr_run's?)  attempt 0\n  note: a job with "
                        "no owner recorded is left to the run that marked it" +
                        retry),
            std::string::npos)
      << st.out;
  auto json = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "ow", "--json"});
  EXPECT_NE(json.out.find("\"owner_recorded\": false"), std::string::npos) << json.out;
  auto again =
      test::run_pdr_run(dir_.path(), {"retry", "--config", dir_ / "cfg.yaml", "--model-name", "ow", "--ownerless"});
  EXPECT_NE(again.out.find("model ow: 1 failed or ownerless running job queued again"), std::string::npos) << again.out;
  auto w2 = test::run_pdr_run(dir_.path(), {"worker", "--config", dir_ / "cfg.yaml", "--model-name", "ow"}, env());
  EXPECT_EQ(w2.code, 0) << w2.err;
  EXPECT_EQ(w2.out.find("no owner recorded"), std::string::npos) << w2.out;
  EXPECT_EQ(by_status()["finished"], 2);
}

TEST_F(GridRunTest, WatchingAGridProgressLogFileStatusGridAndWatch) {
  test::write_text(
      dir_ / "cfg.yaml",
      "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
      "  step_timeout: 5\n  retry_delay: 0\n  progress_interval: 0.2\nmodel_parameters:\n  species: [CO]\n");
  auto r = run({"--model-name", "w", "--parallel", "--workers", "2", "--dens", "30", "40", "--chi", "10", "20", "30"},
               "*:sleep=0.15;100_40_-10_20_00:fail=3");
  EXPECT_EQ(r.code, 1) << r.err;
  // Off a terminal: plain progress lines, then a summary with the failures.
  EXPECT_NE(r.err.find("[info] progress: [w] done "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" pending | "), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("model w: 6 points; 5 finished, 1 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  failed: 100_40_-10_20_00: pdr: exit code 3"), std::string::npos) << r.out;
  // One log file for the run, with every job's lines.
  std::vector<std::string> logs;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "logs")) logs.push_back(e.path().string());
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("/logs/pdr_run-w-"), std::string::npos) << logs[0];
  const std::string log = test::read_text(logs[0]);
  EXPECT_NE(log.find("] [job 1 100_30_-10_10_00] finished in"), std::string::npos) << log;
  EXPECT_NE(log.find("[job 5 100_40_-10_20_00] failed: pdr: exit code 3"), std::string::npos) << log;

  auto g = test::run_pdr_run(dir_.path(),
                             {"status", "--config", dir_ / "cfg.yaml", "--model-name", "w", "--grid", "dens,chi"});
  EXPECT_EQ(g.code, 0) << g.err;
  EXPECT_NE(g.out.find("        10 20 30\ndens 30  #  #  #\ndens 40  #  X  #\n"), std::string::npos) << g.out;
  auto gj = test::run_pdr_run(
      dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "w", "--grid", "chi,dens", "--json"});
  EXPECT_EQ(gj.code, 0) << gj.err;
  EXPECT_NE(gj.out.find("\"rows\": {\"axis\": \"chi\", \"values\": [\"10\", \"20\", \"30\"]}"), std::string::npos)
      << gj.out;
  EXPECT_NE(gj.out.find("{\"failed\": 1}"), std::string::npos) << gj.out;
  auto bad = test::run_pdr_run(dir_.path(),
                               {"status", "--config", dir_ / "cfg.yaml", "--model-name", "w", "--grid", "chi,chi"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--grid: expects two different axes"), std::string::npos) << bad.err;
  auto js = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "w", "--json"});
  EXPECT_NE(js.out.find("\"stage\": \"pdr\", \"attempts\": 2"), std::string::npos) << js.out;

  const pid_t watch = test::start_pdr_run(
      dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "w", "--watch", "--interval", "0.2"}, {});
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ::kill(watch, SIGINT);
  auto w = test::finish_pdr_run(watch, dir_.path());
  EXPECT_EQ(w.code, 0) << w.err;
  size_t frames = 0;
  for (auto at = w.out.find("model w: 6 jobs"); at != std::string::npos; at = w.out.find("model w: 6 jobs", at + 1)) {
    ++frames;
  }
  EXPECT_GE(frames, 3u) << w.out;
}

// A run that starts jobs writes a log file and keeps the model's newest run.log_keep; a run
// with nothing to do writes none; other models' logs and other files stay.
TEST_F(GridRunTest, OnlyRunsThatStartJobsWriteALogAndTheNewestAreKept) {
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n"
                   "  scratch_dir: scratch\n  log_keep: 2\n");
  std::filesystem::create_directories(dir_ / "logs");
  for (const char* old : {"pdr_run-k-20200101T000000Z-1.log", "pdr_run-k-20200102T000000Z-1.log",
                          "pdr_run-kk-20200101T000000Z-1.log", "notes.txt"}) {
    test::write_text(dir_ / (std::string("logs/") + old), "old\n");
  }
  auto list = [&] {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "logs")) names.insert(e.path().filename().string());
    return names;
  };
  auto r = run({"--model-name", "k", "--dens", "30"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto after_run = list();
  EXPECT_EQ(after_run.size(), 4u);
  EXPECT_EQ(after_run.count("pdr_run-k-20200101T000000Z-1.log"), 0u) << "the oldest of model k goes";
  for (const char* kept : {"pdr_run-k-20200102T000000Z-1.log", "pdr_run-kk-20200101T000000Z-1.log", "notes.txt"}) {
    EXPECT_EQ(after_run.count(kept), 1u) << kept;
  }
  auto again = run({"--model-name", "k", "--dens", "30"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("1 already done"), std::string::npos) << again.out;
  EXPECT_EQ(list(), after_run) << "a run with nothing to do writes no log file";
  EXPECT_EQ(again.err.find("log file of this run"), std::string::npos) << again.err;
}

TEST_F(GridRunTest, FailingPointIsFailedWithItsErrorAndExitOne) {
  auto r = run({"--model-name", "f", "--parallel", "--workers", "2", "--dens", "30", "40", "--chi", "10"},
               "100_40_-10_10_00:fail=7");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("1 finished, 1 failed"), std::string::npos) << r.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE model_job_name = '100_40_-10_10_00' AND "
                      "status = 'exception_runtime' AND exit_code = 7 AND pending = 0 AND active = 0 AND "
                      "error LIKE 'pdr: exit code 7 (last output: %'"),
            1);
  // The program's own last line and where its whole output is, not pdr_run's closing marker.
  EXPECT_EQ(
      sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE model_job_name = '100_40_-10_10_00' AND error LIKE "
                "'pdr: exit code 7 (last output: mock pdr: read % | mock: failure requested for 100_40_-10_10_00; "
                "full output: %/f/pdrgrid/TEXTOUT100_40_-10_10_00)%' AND error NOT LIKE '%End of PDR Job%'"),
      1);
  auto st = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "f"});
  EXPECT_EQ(st.code, 0);
  EXPECT_NE(st.out.find("100_40_-10_10_00  [pdr]  exit 7  pdr: exit code 7"), std::string::npos) << st.out;
  auto js = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "f", "--json"});
  EXPECT_EQ(js.code, 0);
  EXPECT_EQ(js.out.rfind("{\"model\": \"f\", \"total\": 2, \"by_status\": {", 0), 0u) << js.out;
  EXPECT_NE(js.out.find("\"finished\": 1"), std::string::npos);
  EXPECT_NE(js.out.find("\"failed\": 1"), std::string::npos);
  // The run recorded itself with its final state and its database pool counters.
  EXPECT_NE(js.out.find("\"runs\": [{\"host\": "), std::string::npos) << js.out;
  EXPECT_NE(js.out.find("\"workers\": 2, \"state\": \"failed\""), std::string::npos) << js.out;
  EXPECT_NE(js.out.find("\"pool\": {\"open\": "), std::string::npos) << js.out;
  EXPECT_NE(st.out.find("database pool: "), std::string::npos) << st.out;

  // Running again retries only the failed point; it succeeds now.
  auto again = run({"--model-name", "f", "--parallel", "--workers", "2", "--dens", "30", "40", "--chi", "10"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("1 finished, 0 failed, 1 already done"), std::string::npos) << again.out;
}

TEST_F(GridRunTest, FailingOnionAndCrashFailTheJobWithTheirStage) {
  auto r = run({"--model-name", "o", "--dens", "30", "40", "--chi", "10"},
               "100_30_-10_10_00:onion-fail=4;100_40_-10_10_00:crash");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE error LIKE 'onion CO: exit code 4%'"), 1);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE error LIKE 'pdr: killed by signal 11%'"), 1);
}

TEST_F(GridRunTest, ASetupFailureFailsTheJobAtItsStage) {
  // An output directory named like an executable: the job's directory cannot take the link to it.
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
                   "  max_attempts: 1\ndirectories:\n  pdr_out_dirs: [mockpdr]\nmodel_parameters:\n  species: [CO]\n");
  auto r = run({"--model-name", "s", "--dens", "30", "--chi", "10"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'exception_runtime' AND "
                      "error LIKE 'setup: cannot link mockpdr: %' AND output_hdf4_file IS NULL"),
            1);
  EXPECT_EQ(count_starts(dir_ / "trace"), 0u) << "no executable runs after a failed setup";
  auto st = test::run_pdr_run(dir_.path(), {"status", "--config", dir_ / "cfg.yaml", "--model-name", "s"});
  EXPECT_NE(st.out.find("[setup]"), std::string::npos) << st.out;
}

TEST_F(GridRunTest, HangingPointIsKilledAtItsTimeout) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run({"--model-name", "h", "--parallel", "--workers", "2", "--dens", "30", "40", "--chi", "10"},
               "100_30_-10_10_00:hang");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE model_job_name = '100_30_-10_10_00' AND "
                      "status = 'exception_runtime' AND error LIKE 'pdr: timed out after 2 s and was killed%'"),
            1);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  EXPECT_LT(secs, 60.0) << "the hanging executable must not block the run";
}

class InterruptTest : public GridRunTest, public ::testing::WithParamInterface<int> {};

TEST_P(InterruptTest, StopsChildrenAndLeavesNoRunningJob) {
  const std::vector<std::string> args = {
      "--config", dir_ / "cfg.yaml", "--model-name", "i", "--parallel", "--workers", "2", "--dens", "30", "40",
      "50",       "--chi",           "10",           "20"};
  const pid_t pid = test::start_pdr_run(dir_.path(), args, env("*:hang"));
  // Wait until both workers have started an executable.
  for (int i = 0; i < 600 && count_starts(dir_ / "trace") < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, GetParam());
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_NE(r.out.find("put back to pending (interrupted)"), std::string::npos) << r.out;
  auto counts = by_status();
  EXPECT_EQ(counts["running"], 0);
  EXPECT_EQ(counts["pending"], 6);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE pending = 1 AND active = 0"), 6);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_runs WHERE state = 'interrupted'"), 1);
  // Every mock that was started has been stopped.
  int started = 0;
  for (const auto& e : read_trace(dir_ / "trace")) {
    ++started;
    EXPECT_FALSE(test::process_running(e.pid)) << "mock " << e.pid << " survived";
  }
  EXPECT_EQ(started, 2);
}

INSTANTIATE_TEST_SUITE_P(Signals, InterruptTest, ::testing::Values(SIGINT, SIGTERM, SIGHUP));

// A signal during a big registration stops it at the next batch: the process says so and exits
// 130 (not 0 with the "registered" line), and registering again completes the grid exactly.
TEST_F(GridRunTest, ASignalStopsARegistrationBetweenBatchesAndTheNextOneCompletesIt) {
  std::vector<std::string> args = {"--config", dir_ / "cfg.yaml", "--model-name", "big", "--register-only"};
  auto axis = [&](const char* flag, int n) {
    args.emplace_back(flag);
    for (int i = 0; i < n; ++i) args.push_back(std::to_string(i));
  };
  axis("--dens", 20);
  axis("--chi", 40);
  axis("--mass", 50);  // 40,000 points: 8 batches of parameter rows, 8 of job rows
  const long long points = 40000;
  const pid_t pid = test::start_pdr_run(dir_.path(), args, env());
  auto rows = [&](const char* table) {
    try {
      return sql_count(std::string("SELECT COUNT(*) FROM ") + table);
    } catch (const std::exception&) {
      return -1LL;  // not created yet
    }
  };
  for (int i = 0; i < 1200 && rows("kosmatau_parameters") <= 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(pid, SIGINT);
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 130) << r.out << r.err;
  EXPECT_EQ(r.out.find("registered ("), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("model big: registration interrupted at "), std::string::npos) << r.err;
  EXPECT_LT(rows("pdr_model_jobs"), points) << "the registration ran to its end";
  // Until it is completed, status and a worker say that the registration is open.
  auto open = run({"status", "--model-name", "big"});
  EXPECT_NE(open.out.find("  note: the registration of 40000 points begun "), std::string::npos) << open.out;
  EXPECT_NE(open.out.find(" has not ended (interrupted, killed, or still going)"), std::string::npos) << open.out;

  args.erase(args.begin(), args.begin() + 2);  // run() adds --config
  auto whole = run(args);
  ASSERT_EQ(whole.code, 0) << whole.err;
  EXPECT_NE(whole.out.find("40000 points registered"), std::string::npos) << whole.out;
  EXPECT_EQ(run({"status", "--model-name", "big"}).out.find("note: the registration"), std::string::npos);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs"), points);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN kosmatau_parameters p ON "
                      "p.id = j.kosmatau_parameters_id AND p.model_name_id = j.model_name_id"),
            points);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending'"), points);
  EXPECT_EQ(sql_count("SELECT SUM(n) FROM pdr_job_counts WHERE status = 'pending'"), points);
}

// A signal is not held up by a lock another process holds on the SQLite file (its wait is
// database.busy_timeout, 30 s, per try): the run ends at once with 130 and says why.
TEST_F(GridRunTest, ASignalEndsAWaitForALockedDatabaseFile) {
  ASSERT_EQ(run({"--model-name", "x", "--register-only", "--dens", "30"}).code, 0);
  soci::session locker(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
  locker << "BEGIN EXCLUSIVE";
  const pid_t pid = test::start_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "m", "--register-only", "--dens", "30", "40"},
      env());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // waiting for the lock now
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  auto r = test::finish_pdr_run(pid, dir_.path());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  locker << "COMMIT";
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_LT(secs, 5.0) << "the signal waited for the lock";
  EXPECT_NE(r.err.find("[error] model m: interrupted while retrying '"), std::string::npos) << r.err;
  auto again = run({"--model-name", "m", "--register-only", "--dens", "30", "40"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("2 points registered (2 new"), std::string::npos) << again.out;
}

// A wait for a lock another program holds on the SQLite file is said once after 5 s, with the
// file and how long pdr_run waits for it: it was silent for the busy timeout (30 s), then said
// "error 5" alone.
TEST_F(GridRunTest, AWaitForALockedDatabaseFileIsSaidOnce) {
  ASSERT_EQ(run({"--model-name", "x", "--register-only", "--dens", "30"}).code, 0);
  soci::session locker(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
  locker << "BEGIN EXCLUSIVE";
  const pid_t pid = test::start_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "m", "--register-only", "--dens", "30", "40"},
      env());
  std::this_thread::sleep_for(std::chrono::milliseconds(6500));
  locker << "COMMIT";
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err;
  const std::string said =
      "jobs.db is locked by another connection (a transaction of another process or program); waiting for it up "
      "to 30 s a try (database.busy_timeout), 120 s in all (database.retry.deadline)";
  const size_t at = r.err.find(said);
  EXPECT_NE(at, std::string::npos) << r.err;
  if (at != std::string::npos) {
    EXPECT_EQ(r.err.find(said, at + 1), std::string::npos) << "said twice: " << r.err;
  }
  EXPECT_NE(r.out.find("2 points registered (2 new"), std::string::npos) << r.out;
}

// A job directory serves one job after another once a job finished in it: the next job finds it
// as a fresh one (what the job wrote there is gone, its links are the same), and a directory
// whose links a job changed, or whose job failed, is not used again.
TEST_F(GridRunTest, AFinishedJobsDirectoryServesTheNextAsFresh) {
  auto r = run({"--model-name", "re", "--dens", "30", "40", "50", "--chi", "10", "20", "--mass", "-10"},
               "*:litter;100_40_-10_10_00:relink;100_50_-10_10_00:onion-fail");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("5 finished, 1 failed"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status <> 'finished' AND model_job_name = "
                      "'100_50_-10_10_00' AND error LIKE 'onion CO: exit code 3%'"),
            1);
  EXPECT_EQ(r.err.find("earlier job"), std::string::npos) << "a job found another's files: " << r.err;
  // The directory each program started in, in start order (pdr, then the onions, per attempt),
  // by its inode: a directory is renamed each time it serves another job.
  std::vector<std::pair<std::string, std::string>> starts;  // job, directory
  for (const auto& e : read_trace(dir_ / "trace")) {
    if (e.what == "start") starts.emplace_back(e.job, e.dir);
  }
  ASSERT_FALSE(starts.empty());
  std::map<std::string, std::set<std::string>> jobs_of;  // directory -> jobs run in it
  for (const auto& [job, cwd] : starts) jobs_of[cwd].insert(job);
  size_t shared = 0;
  for (const auto& [cwd, jobs] : jobs_of) shared = std::max(shared, jobs.size());
  EXPECT_GT(shared, 1u) << "no directory served a second job";
  // After the job that changed a link, and after each failed attempt, its directory is not seen again.
  for (size_t i = 0; i < starts.size(); ++i) {
    const auto& [job, cwd] = starts[i];
    if (job != "100_40_-10_10_00" && job != "100_50_-10_10_00") continue;
    for (size_t k = i + 1; k < starts.size(); ++k) {
      if (starts[k].first != job) {
        EXPECT_NE(starts[k].second, cwd) << starts[k].first << " ran where " << job << " did";
      }
    }
  }
  EXPECT_TRUE(fs::is_empty(dir_ / "scratch")) << "working directories are removed";
}

// A directory whose output directory lost its write permission is not reused (another user's
// next job could not write there), and it is removed all the same.
TEST_F(GridRunTest, ADirectoryAJobTookWritePermissionFromIsRemovedNotReused) {
  auto r = run({"--model-name", "lk", "--dens", "30", "40", "50", "--chi", "10", "--mass", "-10"},
               "100_30_-10_10_00:lock-out");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string locked_dir;  // by inode and birth: a reused directory has a new name
  for (const auto& e : read_trace(dir_ / "trace")) {
    if (e.what != "start") continue;
    if (e.job == "100_30_-10_10_00") locked_dir = e.dir;
    if (e.job != "100_30_-10_10_00" && !locked_dir.empty()) {
      EXPECT_NE(e.dir, locked_dir) << e.job;
    }
  }
  EXPECT_FALSE(locked_dir.empty());
  EXPECT_TRUE(fs::is_empty(dir_ / "scratch")) << "working directories are removed";
}

// An output that is a symbolic link is stored as the file it points to: the link would point
// into a job directory that is emptied for the next job.
TEST_F(GridRunTest, AnOutputThatIsALinkIsStoredAsItsContent) {
  auto r = run({"--model-name", "sl", "--dens", "30", "40", "--chi", "10", "--mass", "-10"}, "*:symlink-output");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string job : {"100_30_-10_10_00", "100_40_-10_10_00"}) {
    const fs::path stored = dir_ / ("store/sl/pdrgrid/pdr" + job + ".hdf");
    EXPECT_FALSE(fs::is_symlink(stored)) << stored;
    EXPECT_NE(test::read_text(stored).find("job " + job), std::string::npos) << stored;
  }
  auto v = run({"verify", "--model-name", "sl"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
}

// What a step leaves running outside its process group (a process in a session of its own) is
// ended with the step when it carries the attempt's PDR_JOB_ATTEMPT; one that does not (started
// with an empty environment) keeps its directory from the next job while it works there. Either
// way, what it writes later lands in no job's outputs, stored ones included (a stored log is a
// copy, not the file the stray process still writes to).
TEST_F(GridRunTest, WhatAStepLeavesRunningOutsideItsGroupWritesIntoNoJob) {
  // daemon-bare, daemon-path and daemon-log are not ended (an empty environment): the first
  // keeps the directory from being reused, the second writes by the directory's path, which a
  // reused directory no longer has, the third into the step's log it inherited.
  for (const std::string action : {"daemon", "daemon-away", "daemon-bare", "daemon-path", "daemon-log"}) {
    SCOPED_TRACE(action);
    const std::string model = "m-" + action;
    fs::remove(dir_ / "trace");
    auto r = run({"--model-name", model, "--dens", "30", "40", "50", "60", "--chi", "10", "--mass", "-10"},
                 "100_30_-10_10_00:" + action + ";*:sleep=0.4");
    ASSERT_EQ(r.code, 0) << r.err;
    const bool ended = action == "daemon" || action == "daemon-away";
    // That it ended them, not how many: the count depends on what the scan meets on its way.
    const size_t left = r.err.find("job 100_30_-10_10_00: mockpdr left ");
    EXPECT_EQ(
        left != std::string::npos && r.err.find(" running outside its process group; ended", left) != std::string::npos,
        ended)
        << r.err;
    std::string daemon_dir;  // by inode and birth: a reused directory has a new name
    for (const auto& e : read_trace(dir_ / "trace")) {
      if (e.what != "start") continue;
      if (e.job == "100_30_-10_10_00") daemon_dir = e.dir;
      if (action == "daemon-bare" && e.job != "100_30_-10_10_00" && !daemon_dir.empty()) {
        EXPECT_NE(e.dir, daemon_dir) << e.job << " ran where the stray process works";
      }
    }
    ASSERT_FALSE(daemon_dir.empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a stray process has written
    for (const auto& e : fs::directory_iterator(fs::path(dir_ / "store") / model / "pdrgrid")) {
      const std::string name = e.path().filename().string();
      if (name.rfind("MCDRT", 0) != 0) continue;
      std::string listing;
      if (FILE* tar = ::popen(("tar -tzf " + e.path().string()).c_str(), "r")) {
        char buf[256];
        while (std::fgets(buf, sizeof buf, tar) != nullptr) listing += buf;
        ::pclose(tar);
      }
      EXPECT_NE(listing.find("Out/mock.out"), std::string::npos) << name;
      EXPECT_EQ(listing.find("daemon.out"), std::string::npos) << name << ": " << listing;
    }
    // Every stored output still is what was recorded.
    auto v = run({"verify", "--model-name", model});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    EXPECT_EQ(v.out.find("changed"), std::string::npos) << v.out;
  }
}

// A directory that waited for its next job is checked against the base directory as it is when
// taken: a file added to pdrinpdata/ meanwhile is in the next job's directory.
TEST_F(GridRunTest, AReusedDirectorySeesTheBaseDirectoryAsItIsWhenTaken) {
  fs::copy(PDR_MOCK_BASE, dir_ / "base", fs::copy_options::recursive);
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
                   "  step_timeout: 5\n  retry_delay: 5\nmodel_parameters:\n  species: [CO]\n");
  // The first job fails while new.dat is missing and is tried again 5 s later; the second one
  // finishes at once and leaves its directory for that retry.
  const pid_t pid = test::start_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "nb", "--dens", "30", "40", "--chi", "10"},
      {"PDR_BASE_DIR=" + (dir_ / "base"), "PDR_MOCK_TRACE=" + (dir_ / "trace"), "PDR_MOCK_PLAN=100_30_*:need=new.dat"});
  for (int i = 0; i < 200 && read_trace(dir_ / "trace").size() < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(read_trace(dir_ / "trace").size(), 6u) << "the first attempt and the second job ran";
  // The second job is recorded finished once its directory waits for the next job.
  for (int i = 0; i < 200 && sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  test::write_text(dir_ / "base/pdrinpdata/new.dat", "new\n");
  ASSERT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE attempts = 1 AND status = 'pending'"), 1)
      << "the retry came before new.dat";
  auto r = test::finish_pdr_run(pid, dir_.path());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 2) << r.err;
  EXPECT_EQ(sql_count("SELECT attempts FROM pdr_model_jobs WHERE model_job_name = '100_30_-10_10_00'"), 2);
}

TEST_F(GridRunTest, KeepTmpKeepsTheWorkingDirectory) {
  auto r = run({"--model-name", "k", "--dens", "30", "--chi", "10", "--keep-tmp"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("working directory kept"), std::string::npos);
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "scratch")) {
    ++kept;
    EXPECT_TRUE(fs::is_regular_file(e.path() / "PDRNEW.INP"));
    EXPECT_TRUE(fs::is_regular_file(e.path() / "pdr_config.json"));
    EXPECT_TRUE(fs::is_symlink(e.path() / "pdrinpdata/chem_rates.dat"));
    EXPECT_EQ(test::read_text((e.path() / "pdrinpdata/chem_rates.dat").string()), "# mock chemical network\n");
  }
  EXPECT_EQ(kept, 1u);
}

TEST_F(GridRunTest, SecretsNeverReachOutputsOrChildren) {
  auto r = test::run_pdr_run(dir_.path(),
                             {"--config", dir_ / "cfg.yaml", "--model-name", "s", "--dens", "30", "--chi", "10"},
                             {std::string("PDR_BASE_DIR=") + PDR_MOCK_BASE, "PDR_DB_PASSWORD=Hunter2-Secret"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("Hunter2"), std::string::npos);
  EXPECT_EQ(r.err.find("Hunter2"), std::string::npos);
  EXPECT_EQ(std::system(("grep -rq Hunter2 " + dir_.path()).c_str()), 256) << "password written to a file";
}

}  // namespace
}  // namespace pdr

namespace pdr {
namespace {

// Walltime-aware claiming. Jobs at chi 10 took 5 s and at chi 20 60 s (their recorded run
// times); with 30 s left only the chi-10 points between them start (predicted from their
// neighbours), the longest first, and the run ends at once with exit 0 and one line about the
// rest, which stay pending.
TEST_F(GridRunTest, WithLittleTimeLeftOnlyJobsPredictedToFitStart) {
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
                   "  step_timeout: 120\n  end_margin: 1s\nmodel_parameters:\n  species: [CO]\n");
  auto first =
      run({"--model-name", "wt", "--parallel", "--workers", "2", "--dens", "30", "32", "34", "--chi", "10", "20"});
  ASSERT_EQ(first.code, 0) << first.err;
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE pdr_model_jobs SET time_of_finish = datetime(time_of_start, CASE WHEN substr(model_job_name, -5) = "
         "'10_00' THEN '+5 seconds' ELSE '+60 seconds' END)";
  }
  fs::remove(dir_ / "trace");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run({"--model-name", "wt", "--parallel", "--workers", "2", "--time-left", "30s", "--dens", "30", "31", "32",
                "33", "34", "35", "--chi", "10", "20"},
               "*_10_00:sleep=0.5;*_20_00:sleep=60");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_LT(seconds, 25) << "no 60 s job may start";
  EXPECT_NE(r.out.find("3 jobs did not fit in the time left (the shortest is predicted to take "), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("s left (run.time_left): claiming only jobs predicted to finish 1s before the end"),
            std::string::npos)
      << r.err;
  for (const auto& e : read_trace(dir_ / "trace")) {
    if (e.what == "start") {
      EXPECT_NE(e.job.substr(e.job.size() - 5), "20_00") << e.job << " started";
    }
  }
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND model_job_name LIKE '%_20_00'"),
            3);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 9);
  // The prediction is recorded on the job and in its claim event.
  // (Predictions made after the first of them finished count its 1 s run too: under 8 s each.)
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE predicted_seconds > 0 AND predicted_seconds < 8 AND "
                      "prediction_basis = '5 nearest finished points'"),
            3);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_job_events WHERE event = 'claimed' AND detail LIKE 'predicted %'"), 3);
  // status compares predictions with run times and maps the mean run time per cell.
  auto st = run({"status", "--model-name", "wt"});
  EXPECT_NE(st.out.find("run times: 3 finished jobs had a prediction; actual/predicted median "), std::string::npos)
      << st.out;
  auto map = run({"status", "--model-name", "wt", "--grid", "dens,chi", "--show", "runtime"});
  EXPECT_EQ(map.code, 0) << map.err;
  EXPECT_NE(map.out.find("mean run time of finished jobs over dens (rows) x chi (columns)"), std::string::npos)
      << map.out;
  EXPECT_NE(map.out.find("dens 30  5s 60s\n"), std::string::npos) << map.out;
  EXPECT_NE(map.out.find("dens 31"), std::string::npos) << map.out;
  auto bad = run({"status", "--model-name", "wt", "--show", "runtime"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--show goes with --grid"), std::string::npos) << bad.err;
}

// A failure whose retry delay ends too late for it to run before the end is not waited for: the
// process ends at once and says so; the job stays pending for the next allocation.
TEST_F(GridRunTest, AFailureWhoseRetryComesTooLateIsNotWaitedFor) {
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
                   "  end_margin: 0\n  expected_job_seconds: 2\n  retry_delay: 60\nmodel_parameters:\n"
                   "  species: [CO]\n");
  const auto t0 = std::chrono::steady_clock::now();
  auto r =
      run({"--model-name", "rl", "--time-left", "30s", "--dens", "30", "40", "--chi", "10"}, "100_30_-10_10_00:fail=3");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_LT(seconds, 20) << "it waited for a retry that could not end in time";
  EXPECT_NE(r.out.find("1 job did not fit in the time left (the shortest is predicted to take 1s after a retry delay "
                       "of "),
            std::string::npos)
      << r.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND attempts = 1 AND retry_at IS "
                      "NOT NULL AND model_job_name = '100_30_-10_10_00'"),
            1);
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
}

// With nothing to predict from, a time limit cannot choose: jobs are claimed as usual and the
// run says so; with run.expected_job_seconds it predicts from that instead.
TEST_F(GridRunTest, WithoutRunTimesToPredictFromTheTimeLimitSaysHowItClaims) {
  auto r = run({"--model-name", "np", "--time-left", "1h", "--dens", "30", "--chi", "10"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("no job of this model has finished yet and run.expected_job_seconds is not set"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'finished'"), 1);
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
                   "  end_margin: 0\n  expected_job_seconds: 100\n");
  auto e = run({"--model-name", "ex", "--time-left", "30s", "--dens", "30", "--chi", "10", "20"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("2 jobs did not fit in the time left (the shortest is predicted to take 100s)"),
            std::string::npos)
      << e.out;
  EXPECT_EQ(count_starts(dir_ / "trace"), 3u) << "only the first model's job ran (pdr and two onions)";
  // A job's own last attempt is a floor for its run time: one that ran 200 s before it was handed
  // back (the end of an earlier allocation) does not fit in 60 s, though 10 s are expected.
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
                   "  end_margin: 0\n  expected_job_seconds: 10\nmodel_parameters:\n  species: [CO]\n");
  ASSERT_EQ(run({"--model-name", "own", "--register-only", "--dens", "30", "40", "--chi", "10"}).code, 0);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    // Its last heartbeat came 200 s after its start; it came back (was reaped) much later.
    s << "UPDATE pdr_model_jobs SET time_of_start = datetime('now', '-300 seconds'), heartbeat_at = "
         "datetime('now', '-100 seconds'), time_updated = datetime('now', '-5 seconds') WHERE model_job_name = "
         "'100_40_-10_10_00'";
  }
  auto own = run({"worker", "--model-name", "own", "--time-left", "60s"});
  EXPECT_EQ(own.code, 0) << own.err;
  EXPECT_NE(own.out.find("1 job did not fit in the time left (the shortest is predicted to take 3m20s)"),
            std::string::npos)
      << own.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = 'pending' AND model_job_name = "
                      "'100_40_-10_10_00'"),
            1);
  // A job that finished once and went back to pending (an output lost, found by verify) takes
  // at least as long as that run did.
  ASSERT_EQ(run({"--model-name", "again", "--dens", "30", "--chi", "10"}).code, 0);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE pdr_model_jobs SET time_of_start = datetime(time_of_finish, '-200 seconds') WHERE model_name_id = "
         "(SELECT id FROM model_names WHERE model_name = 'again')";
  }
  fs::remove(dir_ / "store/again/pdrgrid/pdr100_30_-10_10_00.hdf");
  EXPECT_EQ(run({"verify", "--model-name", "again"}).code, 1);
  auto again = run({"worker", "--model-name", "again", "--time-left", "60s"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("1 job did not fit in the time left (the shortest is predicted to take 3m20s)"),
            std::string::npos)
      << again.out;
  // Run times come in whole seconds: a run under a second counts as one, not as nothing. An
  // onion-only run (--force-onion) timed only its onion step: it says nothing of the model.
  ASSERT_EQ(run({"--model-name", "zero", "--dens", "30", "40", "--chi", "10"}).code, 0);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    s << "UPDATE pdr_model_jobs SET time_of_finish = time_of_start WHERE model_job_name = '100_30_-10_10_00' AND "
         "model_name_id = (SELECT id FROM model_names WHERE model_name = 'zero')";
    s << "UPDATE pdr_model_jobs SET run_stage = 'onion', time_of_start = datetime(time_of_finish, '-5000 seconds') "
         "WHERE model_job_name = '100_40_-10_10_00' AND model_name_id = (SELECT id FROM model_names WHERE "
         "model_name = 'zero')";
  }
  auto zero = run({"--model-name", "zero", "--time-left", "60s", "--dens", "30", "40", "--chi", "10", "20"});
  EXPECT_EQ(zero.code, 0) << zero.err;
  EXPECT_NE(zero.out.find("2 finished, 0 failed, 2 already done"), std::string::npos) << zero.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id WHERE "
                      "m.model_name = 'zero' AND j.predicted_seconds = 1"),
            2);
  // No time left once the end margin (2 minutes by default) is taken off: nothing starts, not
  // even a job without a prediction.
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n");
  auto closed = run({"--model-name", "cl", "--parallel", "--workers", "2", "--time-left", "60s", "--dens", "30",
                     "--chi", "10", "20"});
  EXPECT_EQ(closed.code, 0) << closed.err;
  EXPECT_NE(closed.out.find("2 jobs did not fit in the time left (none left, end margin included); they stay"),
            std::string::npos)
      << closed.out;
  EXPECT_EQ(sql_count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id WHERE "
                      "m.model_name = 'cl' AND j.status = 'pending' AND j.attempts = 0"),
            2);
  // Inside a Slurm allocation that has ended nothing starts; an end time that is not one is said
  // so and left out.
  auto ended_env = env();
  ended_env.push_back("SLURM_JOB_END_TIME=" + std::to_string(static_cast<long long>(std::time(nullptr)) - 100));
  ended_env.push_back("SLURM_JOB_ID=77");
  auto ended = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "se", "--dens", "30", "--chi", "10"}, ended_env);
  EXPECT_EQ(ended.code, 0) << ended.err;
  EXPECT_NE(ended.out.find("1 job did not fit in the time left (none left, end margin included)"), std::string::npos)
      << ended.out;
  EXPECT_NE(ended.err.find("the end of Slurm job 77 (SLURM_JOB_END_TIME)"), std::string::npos) << ended.err;
  // Slurm signals the end slurm.signal_seconds (120 s) before it, up to 60 s early: a job
  // predicted to take 250 s does not fit in 400 s less a 10 s margin and those 180 s.
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n  "
                   "end_margin: 10s\n  expected_job_seconds: 250\n");
  auto signal_env = env();
  signal_env.push_back("SLURM_JOB_END_TIME=" + std::to_string(static_cast<long long>(std::time(nullptr)) + 400));
  signal_env.push_back("SLURM_JOB_ID=78");
  auto early = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "ss", "--dens", "30", "--chi", "10"}, signal_env);
  EXPECT_EQ(early.code, 0) << early.err;
  EXPECT_NE(early.out.find("1 job did not fit in the time left"), std::string::npos) << early.out;
  EXPECT_NE(early.err.find("(SLURM_JOB_END_TIME), less 3m00s for its end signal"), std::string::npos) << early.err;
  test::write_text(dir_ / "cfg.yaml",
                   "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n");
  auto garbled_env = env();
  garbled_env.push_back("SLURM_JOB_END_TIME=99999999999999999999");
  auto garbled = test::run_pdr_run(
      dir_.path(), {"--config", dir_ / "cfg.yaml", "--model-name", "sg", "--dens", "30", "--chi", "10"}, garbled_env);
  EXPECT_EQ(garbled.code, 0) << garbled.err;
  EXPECT_NE(garbled.err.find("SLURM_JOB_END_TIME '99999999999999999999' is not an end time (seconds since 1970): "
                             "ignored"),
            std::string::npos)
      << garbled.err;
  EXPECT_NE(garbled.out.find("1 finished, 0 failed"), std::string::npos) << garbled.out;
  // Bad values are refused in one line, exit 2.
  for (const auto& [args, msg] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--model-name", "ex", "--time-left", "soon", "--dens", "30"}, "run.time_left (from --time-left): 'soon'"},
           {{"--model-name", "ex", "--time-left", "0", "--dens", "30"}, "is not a time left"}}) {
    auto bad = run(args);
    EXPECT_EQ(bad.code, 2) << bad.err;
    EXPECT_NE(bad.err.find(msg), std::string::npos) << bad.err;
  }
}

}  // namespace
}  // namespace pdr
