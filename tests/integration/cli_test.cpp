// Black-box tests of the pdr_run binary: help, flag and config errors, dry run, status.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "pdr/job_reports.h"
#include "support/mariadb.h"
#include "support/run_binary.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

bool dir_is_empty_but_logs(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != ".stdout" && name != ".stderr" && name != "bad.yaml" && name != "cfg.yaml") return false;
  }
  return true;
}

const std::string kBase = std::string("PDR_BASE_DIR=") + PDR_MOCK_BASE;

TEST(CliTest, HelpShowsFlagsAndExamples) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"--model-name", "--single", "--grid", "--parallel", "--workers", "--metal", "--dens", "--mass",
                        "--chi", "--species", "--keep-tmp", "--dry-run", "--config", "Examples:", "status"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

// Planning a grid of a million points takes seconds: a signal meanwhile ends the run with 130
// and a line saying so, not by its default action (143), and nothing is written.
TEST(CliTest, ASignalWhileTheGridIsPlannedEndsTheRunWithNothingWritten) {
  test::TempDir dir;
  std::vector<std::string> args = {"--model-name", "big"};
  for (const char* axis : {"--dens", "--chi", "--mass"}) {
    args.push_back(axis);
    for (int v = 0; v < 100; ++v) args.push_back(std::to_string(v - (std::string(axis) == "--mass" ? 50 : 0)));
  }
  const pid_t pid = test::start_pdr_run(dir.path(), args, {kBase});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // started (ASan: 0.4 s), still planning (12 s)
  kill(pid, SIGTERM);
  const auto r = test::finish_pdr_run(pid, dir.path());
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_NE(r.err.find("model big: interrupted while planning the grid; nothing was written"), std::string::npos)
      << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

// A flag's number is decimal, as in the YAML file: CLI11 alone read "010" as 8 and "0x10" as 16.
TEST(CliTest, AFlagsNumberIsDecimal) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"--workers", "010", "--parallel", "--dens", "30", "--dry-run"}, {kBase});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("workers: 10  # --workers"), std::string::npos) << r.out;
  auto hex = test::run_pdr_run(dir.path(), {"--workers", "0x10", "--dens", "30", "--dry-run"}, {kBase});
  EXPECT_EQ(hex.code, 2);
  EXPECT_EQ(hex.err, "pdr_run: --workers: '0x10' is not a decimal number (see pdr_run --help)\n");
  // doctor's own flags are input too: a bad one is a usage error, not a finding (exit 1).
  auto none = test::run_pdr_run(dir.path(), {"doctor", "--nodes", "0"}, {kBase});
  EXPECT_EQ(none.code, 2) << none.out << none.err;
  EXPECT_NE(none.err.find("--nodes: must be between 1 and 100000 (got 0)"), std::string::npos) << none.err;
  auto many = test::run_pdr_run(dir.path(), {"doctor", "--nodes", "1000000"}, {kBase});
  EXPECT_EQ(many.code, 2) << many.out << many.err;
  EXPECT_NE(many.err.find("--nodes: must be between 1 and 100000 (got 1000000)"), std::string::npos) << many.err;
  auto wide = test::run_pdr_run(dir.path(), {"doctor", "--workers", "1025"}, {kBase});
  EXPECT_EQ(wide.code, 2) << wide.out << wide.err;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

// A colleague's read-only look at a SQLite grid (a file they may not write) leaves no -wal or
// -shm file of theirs behind: owned by them with the database's mode, its owner could not write
// them, and every later run of the owner failed ("attempt to write a readonly database").
TEST(CliTest, AColleaguesLookAtASqliteGridLeavesNoFileOfTheirs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
  test::TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  const std::vector<std::string> grid = {"--model-name", "m1", "--dens", "30", "--chi", "10"};
  ASSERT_EQ(test::run_pdr_run(dir.path(), grid, {kBase}).code, 0);
  ASSERT_FALSE(fs::exists(dir / "pdr_run.db-wal"));
  const uid_t nobody = 65534;
  const std::vector<std::vector<std::string>> looks = {{"status", "--model-name", "m1"},
                                                       {"history", "--model-name", "m1"}};
  for (const auto& look : looks) {
    auto r = test::run_pdr_run_as(nobody, nobody, dir.path(), look, {kBase});
    EXPECT_EQ(r.code, 0) << look.front() << ": " << r.err;
    for (const char* sidecar : {"pdr_run.db-wal", "pdr_run.db-shm"}) {
      struct stat sb;
      if (::lstat((dir / sidecar).c_str(), &sb) == 0) {
        EXPECT_EQ(sb.st_uid, 0u) << sidecar << " left by " << look.front();
      }
    }
  }
  // Commands that write are told at once that they may not, before they read or touch anything.
  for (const std::string command : {"verify", "retry"}) {
    fs::remove(dir / ".stdout");  // root's, from the run: the colleague could not write them
    fs::remove(dir / ".stderr");
    auto r = test::run_pdr_run_as(nobody, nobody, dir.path(), {command, "--model-name", "m1"}, {kBase});
    EXPECT_EQ(r.code, 2) << command << ": " << r.err;
    EXPECT_NE(r.err.find("database.path: " + (dir / "pdr_run.db") + " is not writable"), std::string::npos)
        << command << ": " << r.err;
  }
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
    struct stat sb;
    ASSERT_EQ(::lstat(e.path().c_str(), &sb), 0);
    const std::string name = e.path().filename().string();
    if (name == ".stdout" || name == ".stderr") continue;  // the test's own
    EXPECT_NE(sb.st_uid, nobody) << e.path() << " left by the colleague";
  }
  // A grid in a directory the colleague may not write, with no run at it (no -wal): SQLite
  // could make no -wal or -shm for a reader there; it is read as it stands.
  fs::create_directory(dir / "locked");
  fs::permissions(dir / "locked", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
  test::write_text(dir / "locked.yaml", "database:\n  path: locked/jobs.db\nstorage:\n  base_dir: locked/store\n");
  ASSERT_EQ(
      test::run_pdr_run(dir.path(), {"--config", "locked.yaml", "--model-name", "m2", "--dens", "30", "40"}, {kBase})
          .code,
      0);
  ASSERT_FALSE(fs::exists(dir / "locked/jobs.db-wal"));
  for (const std::string command : {"status", "history"}) {
    fs::remove(dir / ".stdout");
    fs::remove(dir / ".stderr");
    auto r = test::run_pdr_run_as(nobody, nobody, dir.path(),
                                  {command, "--config", "locked.yaml", "--model-name", "m2"}, {kBase});
    EXPECT_EQ(r.code, 0) << command << ": " << r.err;
    if (command == "status") {
      EXPECT_NE(r.out.find("  finished          2\n"), std::string::npos) << r.out << r.err;
    }
  }
  EXPECT_FALSE(fs::exists(dir / "locked/jobs.db-wal"));
  // A database the colleague may not read, or in a directory they may not enter: named as such,
  // not "unable to open database file" or "nothing has run there yet".
  fs::permissions(dir / "locked/jobs.db", fs::perms::owner_read | fs::perms::owner_write);
  fs::remove(dir / ".stdout");
  fs::remove(dir / ".stderr");
  auto unreadable = test::run_pdr_run_as(nobody, nobody, dir.path(),
                                         {"status", "--config", "locked.yaml", "--model-name", "m2"}, {kBase});
  EXPECT_EQ(unreadable.code, 2) << unreadable.err;
  EXPECT_NE(unreadable.err.find("database.path: " + (dir / "locked/jobs.db") +
                                " (from locked.yaml:2) is not readable by this user: Permission denied"),
            std::string::npos)
      << unreadable.err;
  fs::permissions(dir / "locked", fs::perms::owner_all);
  fs::remove(dir / ".stdout");
  fs::remove(dir / ".stderr");
  auto closed = test::run_pdr_run_as(nobody, nobody, dir.path(),
                                     {"status", "--config", "locked.yaml", "--model-name", "m2"}, {kBase});
  EXPECT_EQ(closed.code, 2) << closed.err;
  EXPECT_NE(closed.err.find("database.path: " + (dir / "locked/jobs.db") +
                            " (from locked.yaml:2) cannot be looked at: Permission denied"),
            std::string::npos)
      << closed.err;
  fs::remove(dir / ".stdout");
  fs::remove(dir / ".stderr");
  auto run = test::run_pdr_run_as(nobody, nobody, dir.path(),
                                  {"--config", "locked.yaml", "--model-name", "m2", "--dens", "30"}, {kBase});
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_NE(run.err.find("database.path: " + (dir / "locked/jobs.db") + " cannot be looked at: Permission denied"),
            std::string::npos)
      << run.err;
  // doctor says the same of both (it said "no SQLite file" of the one it could not reach).
  fs::remove(dir / ".stdout");
  fs::remove(dir / ".stderr");
  auto doctor = test::run_pdr_run_as(nobody, nobody, dir.path(), {"doctor", "--config", "locked.yaml"}, {kBase});
  EXPECT_EQ(doctor.code, 1) << doctor.out << doctor.err;
  EXPECT_NE(doctor.out.find("SQLite file " + (dir / "locked/jobs.db") + " cannot be looked at: Permission denied"),
            std::string::npos)
      << doctor.out;
  fs::permissions(dir / "locked", fs::perms::owner_all | fs::perms::others_exec);
  fs::remove(dir / ".stdout");
  fs::remove(dir / ".stderr");
  doctor = test::run_pdr_run_as(nobody, nobody, dir.path(), {"doctor", "--config", "locked.yaml"}, {kBase});
  EXPECT_EQ(doctor.code, 1) << doctor.out << doctor.err;
  EXPECT_NE(
      doctor.out.find("SQLite file " + (dir / "locked/jobs.db") + " is not readable by this user: Permission denied"),
      std::string::npos)
      << doctor.out;
}

TEST(CliTest, UnknownFlagIsOneLineAndExitTwo) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"--dens", "30", "--frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
  // Words a subcommand does not take, in the order typed; a number too large for its flag.
  auto extra = test::run_pdr_run(dir.path(), {"worker", "--dens", "30", "--chi", "10"});
  EXPECT_EQ(extra.code, 2);
  EXPECT_EQ(extra.err, "pdr_run: arguments not expected here: --dens 30 --chi 10 (see pdr_run --help)\n");
  auto point = test::run_pdr_run(dir.path(), {"--dens", "3", "-.5", "--dry-run"});
  EXPECT_EQ(point.code, 2);
  EXPECT_EQ(point.err, "pdr_run: -.5 reads as a flag, not a number: write -0.5 (see pdr_run --help)\n");
  // --version takes nothing else (CLI11 printed it and ignored the rest).
  auto version = test::run_pdr_run(dir.path(), {"--version", "--bogus"});
  EXPECT_EQ(version.code, 2);
  EXPECT_EQ(version.err, "pdr_run: --version prints the version and takes no other argument (pdr_run --version)\n");
  EXPECT_EQ(test::run_pdr_run(dir.path(), {"-h", "--version"}).code, 2);
  auto big = test::run_pdr_run(dir.path(), {"--workers", "99999999999", "--dens", "30", "--dry-run"});
  EXPECT_EQ(big.code, 2);
  EXPECT_EQ(big.err,
            "pdr_run: --workers = 99999999999: not a value this flag takes (too large, or not a number; see pdr_run "
            "--help)\n");
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

TEST(CliTest, BadConfigIsOneLineWithFileLineAndSuggestion) {
  test::TempDir dir;
  test::write_text(dir / "bad.yaml", "database:\n  type: sqlite\nstorage:\n  base_dri: out\n");
  auto r = test::run_pdr_run(dir.path(), {"--config", "bad.yaml", "--model-name", "m"}, {kBase});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:4: storage.base_dri: unknown key (did you mean 'base_dir'?)"), std::string::npos)
      << r.err;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path())) << "nothing may be written";
}

TEST(CliTest, MissingConfigFileAndBadValuesAreUsageErrors) {
  test::TempDir dir;
  for (const auto& args : std::vector<std::vector<std::string>>{{"--config", "nope.yaml", "--model-name", "m"},
                                                                {"--model-name", "m", "--dens", "30", "abc"},
                                                                {"--model-name", "m", "--workers", "0", "--parallel"},
                                                                {"--model-name", "m", "--single", "--dens", "30", "40"},
                                                                {"--model-name", "", "--dens", "30"}}) {
    auto r = test::run_pdr_run(dir.path(), args, {kBase});
    EXPECT_EQ(r.code, 2) << args.back() << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
  }
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

TEST(CliTest, MissingBaseDirectoryIsNamed) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"--model-name", "m"}, {"PDR_BASE_DIR=/nonexistent/base"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("pdr.base_dir: /nonexistent/base is not a directory"), std::string::npos) << r.err;
}

TEST(CliTest, APdrVariablePdrRunDoesNotReadIsNamed) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--cpus", "8", "--dry-run"},
                             {kBase, "PDR_DB_PASWORD=secret-value", "PDR_STORAGE_USE_MOUNT=true",
                              "PDR_MOCK_TRACE=" + (dir / "trace"), "PDR_DB_USER=someone"});
  EXPECT_EQ(r.code, 0) << r.err;
  // The predecessor's --cpus was parsed and never used: its scripts keep working, and are told.
  EXPECT_NE(r.out.find("# note: --cpus 8: ignored (the predecessor ignored it too); --workers sets"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("# note: environment PDR_DB_PASWORD is set: ignored, pdr_run does not read it (did you mean "
                       "'PDR_DB_PASSWORD'?)"),
            std::string::npos)
      << r.out;
  // A shortened name is the variable it begins.
  EXPECT_NE(r.out.find("# note: environment PDR_DB_USER is set: ignored, pdr_run does not read it (did you mean "
                       "'PDR_DB_USERNAME'?)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("# note: environment PDR_STORAGE_USE_MOUNT is set: ignored, mounted remotes are not used"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("PDR_MOCK_TRACE"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("secret-value"), std::string::npos) << r.out;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

TEST(CliTest, DryRunPrintsMergedConfigAndJobsAndWritesNothing) {
  test::TempDir dir;
  test::write_text(dir / "cfg.yaml", "database:\n  password: Tr1cky-Secret\nmodel_parameters:\n  dens: [30, 40]\n");
  auto r = test::run_pdr_run(dir.path(),
                             {"--config", "cfg.yaml", "--model-name", "m", "--parallel", "--workers=4", "--chi", "10",
                              "100", "--mass", "-10", "--dry-run"},
                             {kBase, "PDR_DB_USERNAME=alice", "PDR_MOCK_TRACE=" + (dir / "trace")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("Tr1cky-Secret"), std::string::npos);
  EXPECT_EQ(r.err.find("Tr1cky-Secret"), std::string::npos);
  EXPECT_NE(r.out.find("password: \"***\"  # cfg.yaml:2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("username: \"alice\"  # PDR_DB_USERNAME"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("workers: 4  # --workers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# planned jobs: 4"), std::string::npos) << r.out;
  for (const char* name : {"100_30_-10_10_00", "100_30_-10_100_00", "100_40_-10_10_00", "100_40_-10_100_00"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  }
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path())) << "dry run must write nothing nor start the model";
}

TEST(CliTest, UnusableDatabaseOrStorageLocationWritesNothing) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"--model-name", "m"}, {kBase, "PDR_DB_FILE=" + (dir / "no/such/dir/x.db")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("database.path: directory " + (dir / "no/such/dir") + " does not exist"), std::string::npos)
      << r.err;
  // A device or a FIFO (as /dev/null) keeps nothing written to it: refused before SQLite puts its
  // journal beside it.
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  auto f =
      test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30"}, {kBase, "PDR_DB_FILE=" + (dir / "fifo")});
  EXPECT_EQ(f.code, 2);
  EXPECT_NE(f.err.find("database.path: " + (dir / "fifo") + " is not a regular file"), std::string::npos) << f.err;
  EXPECT_FALSE(fs::exists(dir / "fifo-journal"));
  fs::remove(dir / "fifo");
  test::write_text(dir / "cfg.yaml", "");
  auto s = test::run_pdr_run(dir.path(), {"--model-name", "m"}, {kBase, "PDR_STORAGE_DIR=" + (dir / "cfg.yaml")});
  EXPECT_EQ(s.code, 2);
  EXPECT_NE(s.err.find("is not a directory"), std::string::npos) << s.err;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
  // Where outcomes wait out an outage: refused at the start, not found unusable in an outage.
  test::write_text(dir / "cfg.yaml", "run:\n  journal_dir: /etc/passwd\n");
  auto j = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "m", "--dens", "30"}, {kBase});
  EXPECT_EQ(j.code, 2);
  EXPECT_NE(j.err.find("run.journal_dir: /etc/passwd is not a directory"), std::string::npos) << j.err;
  auto dj = test::run_pdr_run(dir.path(), {"doctor", "--config", "cfg.yaml"}, {kBase});
  EXPECT_NE(dj.out.find("FAIL  run.journal_dir: /etc/passwd is not a directory"), std::string::npos) << dj.out;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
  // A directory that cannot be made although its parent is writable (root in /proc), and a
  // remote rclone has no configuration for: refused before anything is written.
  for (const auto& [yaml, error] : std::vector<std::pair<std::string, std::string>>{
           {"run:\n  scratch_dir: /proc/pdr-x\n", "run.scratch_dir: /proc/pdr-x: cannot create: "},
           {"storage:\n  base_dir: /proc/pdr-x\n", "storage.base_dir: /proc/pdr-x/m: cannot create: "},
           {"storage:\n  type: rclone\n  rclone_remote: 'nosuch:'\n",
            "storage.rclone_remote: 'nosuch:' is not a remote rclone knows"}}) {
    test::write_text(dir / "cfg.yaml", yaml);
    auto bad = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "m", "--dens", "30"},
                                 {kBase, "RCLONE_CONFIG=" + (dir / "rclone.conf")});
    EXPECT_EQ(bad.code, 2) << yaml << bad.err;
    EXPECT_EQ(lines(bad.err), 1u) << bad.err;
    EXPECT_NE(bad.err.find(error), std::string::npos) << bad.err;
    EXPECT_TRUE(dir_is_empty_but_logs(dir.path())) << yaml;
  }
}

TEST(CliTest, RandomDryRunShowsItsSeedAndRepeatsWithIt) {
  test::TempDir dir;
  const std::vector<std::string> args = {"--model-name", "r",  "--random", "--random-count", "5", "--dens", "20", "40",
                                         "--chi",        "00", "30",       "--dry-run"};
  auto a = test::run_pdr_run(dir.path(), args, {kBase});
  ASSERT_EQ(a.code, 0) << a.err;
  const auto at = a.out.find("# random grid drawn with seed ");
  ASSERT_NE(at, std::string::npos) << a.out;
  std::istringstream in(a.out.substr(at + 30));
  std::string seed;
  in >> seed;
  auto with = args;
  with.insert(with.end(), {"--seed", seed});
  auto b = test::run_pdr_run(dir.path(), with, {kBase});
  auto c = test::run_pdr_run(dir.path(), with, {kBase});
  ASSERT_EQ(b.code, 0) << b.err;
  // Seeds use all 64 bits.
  auto big = args;
  big.insert(big.end(), {"--seed", "18446744073709551615"});
  EXPECT_EQ(test::run_pdr_run(dir.path(), big, {kBase}).code, 0);
  big.back() = "18446744073709551616";
  EXPECT_EQ(test::run_pdr_run(dir.path(), big, {kBase}).code, 2);
  EXPECT_EQ(b.out, c.out);
  EXPECT_EQ(b.out.substr(b.out.find("# planned jobs")), a.out.substr(a.out.find("# planned jobs")));
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

TEST(CliTest, SubmitAndWorkerUsageErrorsAreOneLineAndWriteNothing) {
  test::TempDir dir;
  test::write_text(dir / "bad.yaml", "slurm:\n  partition: 'a b'\n");
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"submit", "--scheduler", "pbs", "--workers", "2", "--dens", "30"}, "'pbs' is not supported"},
      {{"submit", "--scheduler", "slurm", "--dens", "30"}, "submit needs --workers W"},
      {{"submit", "--scheduler", "slurm", "--workers", "2", "--nodes", "0", "--dens", "30"},
       "--nodes: must be at least 1"},
      {{"submit", "--scheduler", "slurm", "--workers", "2", "--config", "bad.yaml", "--dens", "30"},
       "slurm.partition (from bad.yaml:2): 'a b' is not a Slurm partition name"},
      {{"submit", "--workers", "2", "--dens", "30"}, "--scheduler is required"},
      {{"submit", "--scheduler", "slurm", "--workers", "2", "--time", "bogus", "--dens", "30"},
       "slurm.time (from --time): 'bogus' is not a Slurm time limit"},
      {{"submit", "--scheduler", "slurm", "--workers", "2", "--time", "00:01:30", "--dens", "30"},
       "slurm.time (from --time): 00:01:30 is not longer than slurm.signal_seconds (120) + 60 s"},
      {{"worker"}, "worker needs --model-name"},
      {{"worker", "--model-name", "m"}, "no job database at"},
      {{"retry"}, "retry needs --model-name"},
      {{"history"}, "history needs --model-name NAME"},
      {{"history", "--prune"}, "history --prune needs --older-than DURATION"},
      {{"history", "--prune", "--older-than", "soon"}, "--older-than 'soon' is not a duration"},
      {{"history", "--model-name", "m", "--older-than", "9d"}, "--older-than goes with --prune"},
      {{"history", "--model-name", "m", "--since", "yesterday"}, "--since 'yesterday' is neither a duration"},
      {{"history", "--model-name", "m", "--since", "2026-02-30"}, "--since '2026-02-30' is neither a duration"},
      {{"history", "--model-name", "m", "--since", "2026-12-05 25:00"}, "--since '2026-12-05 25:00' is neither"},
      {{"history", "--model-name", "m", "--since", "2026-13-45"}, "--since '2026-13-45' is neither a duration"},
      {{"history", "--model-name", "m", "--reason", "exploded"}, "--reason 'exploded' is not an event; events: "},
      {{"history", "--model-name", "m"}, "no job database at"},
  };
  for (const auto& c : cases) {
    auto r = test::run_pdr_run(dir.path(), c.args, {kBase});
    EXPECT_EQ(r.code, 2) << c.args[0] << " " << c.expected << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_TRUE(dir_is_empty_but_logs(dir.path())) << "nothing may be written: " << c.expected;
  }
  // --dry-run prints the script and writes nothing.
  auto dry = test::run_pdr_run(
      dir.path(),
      {"submit", "--scheduler", "slurm", "--nodes", "3", "--workers", "2", "--model-name", "m", "--dens", "30",
       "--time", "1:00:00", "--sbatch-line", "module load hdf5", "--sbatch-line", "#SBATCH --mem=100", "--dry-run"},
      {kBase, "PDR_DB_PASSWORD=Sekrit-77"});
  EXPECT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("#SBATCH --array=0-2\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=2\n"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("#SBATCH --time=1:00:00\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("#SBATCH --signal=B:TERM@120\n"), std::string::npos) << dry.out;
  // sbatch reads directives only up to the first command: an extra directive given after an extra
  // command still goes before it.
  EXPECT_NE(dry.out.find("#SBATCH --mem=100\nmodule load hdf5\n"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("' 'worker' '--model-name' 'm' '--parallel' '--workers' '2'\n"), std::string::npos) << dry.out;
  EXPECT_EQ(dry.out.find("Sekrit-77"), std::string::npos);
  EXPECT_EQ(dry.err.find("Sekrit-77"), std::string::npos);
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

TEST(CliTest, DoctorChecksEachPartOnOneLineAndWritesNothing) {
  test::TempDir dir;
  auto ok = test::run_pdr_run(dir.path(), {"doctor"}, {kBase});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  for (const char* line : {"OK    config: built-in defaults", "WARN  database: no SQLite file at ",
                           "OK    executables: ", "OK    templates: ", "OK    storage: local ",
                           "OK    run.scratch_dir: ", "OK    run.log_dir: ", "doctor: "}) {
    EXPECT_NE(ok.out.find(line), std::string::npos) << line << "\n" << ok.out;
  }
  EXPECT_NE(ok.out.find(" 1 warnings, 0 failures\n"), std::string::npos) << ok.out;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path())) << "doctor leaves nothing behind";

  auto bad = test::run_pdr_run(dir.path(), {"doctor"}, {"PDR_BASE_DIR=" + (dir / "missing")});
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("FAIL  executables: pdr.base_dir: " + (dir / "missing") + " is not a directory"),
            std::string::npos)
      << bad.out;
  test::write_text(dir / "bad.yaml", "run:\n  lease_seconds: 5\n");
  auto cfg = test::run_pdr_run(dir.path(), {"doctor", "--config", "bad.yaml"}, {kBase});
  EXPECT_EQ(cfg.code, 1) << cfg.out;
  EXPECT_NE(cfg.out.find("FAIL  config: run.heartbeat_seconds (from default.yaml"), std::string::npos) << cfg.out;
  // A SQLite file in a directory that does not exist: a run refuses it (it creates the file, not
  // its directory), and doctor said "the first run creates it".
  auto nodir = test::run_pdr_run(dir.path(), {"doctor"}, {kBase, "PDR_DB_FILE=" + (dir / "nodir/x.db")});
  EXPECT_EQ(nodir.code, 1) << nodir.out;
  EXPECT_NE(
      nodir.out.find("FAIL  database: no SQLite file at " + (dir / "nodir/x.db") +
                     ", and a run cannot create it: database.path: directory " + (dir / "nodir") + " does not exist"),
      std::string::npos)
      << nodir.out;
  auto run = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30"},
                               {kBase, "PDR_DB_FILE=" + (dir / "nodir/x.db")});
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_NE(run.err.find("database.path: directory " + (dir / "nodir") + " does not exist"), std::string::npos)
      << run.err;
}

TEST(CliTest, StatusWithoutDatabaseIsAnErrorAndCreatesNothing) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"status", "--model-name", "m"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no job database at"), std::string::npos) << r.err;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

TEST(CliTest, VersionNamesTheRevisionTheBuildAndTheBackends) {
  test::TempDir dir;
  auto r = test::run_pdr_run(dir.path(), {"--version"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* part : {"pdr_run 0.1.0 (git ", " build)\n", "database backends: sqlite3 (SQLite 3.",
                           "mysql (MariaDB Connector/C ", "; SOCI 4.", "storage: local, rclone, sftp"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("(git unknown"), std::string::npos) << "built from a git checkout: " << r.out;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

// `help` and `help SUBCOMMAND` print the same as --help; a mistyped subcommand gets the nearest.
TEST(CliTest, HelpSubcommandAndTheNearestCommandForATypo) {
  test::TempDir dir;
  auto help = test::run_pdr_run(dir.path(), {"help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.out, test::run_pdr_run(dir.path(), {"--help"}).out);
  auto status = test::run_pdr_run(dir.path(), {"help", "status"});
  EXPECT_EQ(status.code, 0);
  EXPECT_EQ(status.out, test::run_pdr_run(dir.path(), {"status", "--help"}).out);
  EXPECT_NE(status.out.find("--recount"), std::string::npos) << status.out;
  struct Case {
    std::vector<std::string> args;
    std::string line;
  };
  for (const Case& c :
       std::vector<Case>{{{"stat"}, "pdr_run: unknown command 'stat'; did you mean 'status'? (see pdr_run --help)\n"},
                         {{"stauts", "--model-name", "m"}, "unknown command 'stauts'; did you mean 'status'?"},
                         {{"wroker"}, "did you mean 'worker'?"},
                         {{"help", "docter"}, "unknown command 'docter'; did you mean 'doctor'?"},
                         {{"frobnicate"}, "pdr_run: unknown command 'frobnicate' (see pdr_run --help)\n"},
                         {{"--model-name", "m", "stauts"}, "unknown command 'stauts'; did you mean 'status'?"}}) {
    auto r = test::run_pdr_run(dir.path(), c.args);
    EXPECT_EQ(r.code, 2) << c.args[0];
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(c.line), std::string::npos) << r.err;
  }
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

TEST(CliTest, EachSubcommandsHelpShowsItsOwnExamples) {
  test::TempDir dir;
  for (const std::string sub : {"status", "history", "verify", "worker", "retry", "doctor", "submit"}) {
    auto r = test::run_pdr_run(dir.path(), {sub, "--help"});
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.out.find("Example"), std::string::npos) << sub << "\n" << r.out;
    EXPECT_NE(r.out.find("  pdr_run " + sub + " "), std::string::npos) << sub << "\n" << r.out;
    EXPECT_EQ(r.out.find("Settings: built-in defaults"), std::string::npos) << "not the program's block: " << sub;
  }
}

// The example commands of a help text or of the README's ```sh blocks, as printed: continuation
// lines joined, the description (after two spaces in help, after '#' in the README) cut off.
std::vector<std::string> examples_in(const std::string& text, bool readme) {
  std::vector<std::string> found;
  std::istringstream in(text);
  bool in_block = !readme;
  for (std::string line; std::getline(in, line);) {
    if (readme && line.rfind("```", 0) == 0) {
      in_block = !in_block && line == "```sh";
      continue;
    }
    const size_t start = line.find_first_not_of(' ');
    if (!in_block || start == std::string::npos || line.compare(start, 8, "pdr_run ") != 0) continue;
    std::string command = line.substr(start);
    while (!command.empty() && command.back() == '\\' && std::getline(in, line)) {
      command.pop_back();
      command += line.substr(line.find_first_not_of(' '));
    }
    const size_t end = readme ? command.find(" #") : command.find("  ");
    command = command.substr(0, end);
    while (!command.empty() && command.back() == ' ') command.pop_back();
    found.push_back(command);
  }
  return found;
}

std::vector<std::string> words(const std::string& command) {
  std::vector<std::string> out;
  std::string word;
  bool quoted = false, any = false;
  for (char c : command) {
    if (c == '\'') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) out.push_back(word);
      word.clear();
      any = false;
    } else {
      word += c;
      any = true;
    }
  }
  if (any) out.push_back(word);
  return out;
}

// Every example of --help, of each subcommand's help and of the README runs as printed (in a
// directory with the my.yaml the examples name, the grid m1 registered, and an sbatch that
// answers a job id): no usage error, no crash.
TEST(CliTest, EveryExampleInTheHelpAndTheReadmeRunsAsPrinted) {
  test::TempDir dir;
  test::write_text(dir / "my.yaml", std::string("pdr:\n  base_dir: ") + PDR_MOCK_BASE +
                                        "\ndatabase:\n  type: sqlite\n  path: pdr_run.db\n");
  fs::create_directories(dir / "bin");
  test::write_text(dir / "bin/sbatch", "#!/bin/sh\necho 4242\n");
  fs::permissions(dir / "bin/sbatch", fs::perms::owner_all);
  setenv("PATH", ((dir / "bin") + ":" + std::getenv("PATH")).c_str(), 1);
  const std::vector<std::string> env = {kBase};
  auto setup = test::run_pdr_run(
      dir.path(),
      {"--config", "my.yaml", "--model-name", "m1", "--dens", "30", "40", "--chi", "10", "100", "--mass", "-10"}, env);
  ASSERT_EQ(setup.code, 0) << setup.err;

  std::vector<std::string> examples = examples_in(test::run_pdr_run(dir.path(), {"--help"}).out, false);
  for (const char* sub : {"status", "history", "verify", "worker", "retry", "doctor", "submit"}) {
    for (auto& e : examples_in(test::run_pdr_run(dir.path(), {"help", sub}).out, false)) examples.push_back(e);
  }
  const size_t from_help = examples.size();
  for (auto& e : examples_in(test::read_text(std::string(PDR_SOURCE_DIR) + "/README.md"), true)) {
    examples.push_back(e);
  }
  EXPECT_GE(from_help, 20u);
  EXPECT_GE(examples.size() - from_help, 10u);
  for (const std::string& example : examples) {
    std::vector<std::string> args = words(example);
    args.erase(args.begin());  // "pdr_run"
    const bool watch = std::find(args.begin(), args.end(), "--watch") != args.end();
    test::RunResult r;
    if (watch) {
      const pid_t pid = test::start_pdr_run(dir.path(), args, env);
      std::this_thread::sleep_for(std::chrono::seconds(2));
      kill(pid, SIGINT);
      r = test::finish_pdr_run(pid, dir.path());
      EXPECT_TRUE(r.code == 0 || r.code == 130) << example << ": exit " << r.code << ": " << r.err;
      if (args.front() == "report") {
        EXPECT_NE(r.err.find("wrote "), std::string::npos) << example << ": " << r.err;  // the file, not stdout
      } else {
        EXPECT_NE(r.out.find("model m1"), std::string::npos) << example << ": " << r.out;
      }
      continue;
    }
    r = test::run_pdr_run(dir.path(), args, env);
    EXPECT_TRUE(r.code == 0 || r.code == 1) << example << ": exit " << r.code << ": " << r.err;
    EXPECT_EQ(r.err.find("see pdr_run --help"), std::string::npos) << example << ": " << r.err;
  }
}

// Ctrl-C while sbatch runs (it can wait two minutes for an unreachable controller) stops it and
// ends the submission with 130, saying that the array may or may not be in Slurm: never exit 0.
TEST(CliTest, ASignalWhileSbatchRunsStopsItAndSaysWhatIsKnown) {
  test::TempDir dir;
  test::write_text(dir / "sbatch", "#!/bin/sh\necho $$ > " + (dir / "sbatch.pid") + "\ntouch " +
                                       (dir / "sbatch.started") + "\nsleep 20\necho 4343\n");
  fs::permissions(dir / "sbatch", fs::perms::owner_all);
  test::write_text(dir / "cfg.yaml", "slurm:\n  sbatch: " + (dir / "sbatch") + "\n  script_dir: slurm\n");
  const pid_t pid = test::start_pdr_run(dir.path(),
                                        {"submit", "--config", "cfg.yaml", "--scheduler", "slurm", "--workers", "2",
                                         "--model-name", "sb", "--dens", "30", "40"},
                                        {kBase});
  for (int i = 0; i < 600 && !fs::exists(dir / "sbatch.started"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(fs::exists(dir / "sbatch.started"));
  const auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  auto r = test::finish_pdr_run(pid, dir.path());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 130) << r.out << r.err;
  EXPECT_LT(secs, 10.0);
  EXPECT_NE(r.err.find("interrupted while sbatch ran: the array may or may not be submitted; look with squeue"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("submitted"), std::string::npos) << r.out;
  const pid_t sbatch = static_cast<pid_t>(std::stol(test::read_text(dir / "sbatch.pid")));
  EXPECT_TRUE(kill(sbatch, 0) != 0 && errno == ESRCH) << "sbatch was left running";
}

// Ctrl-C while pdr_run waits at its start for a server that does not answer yet
// (database.start_deadline) ends the wait: 130 and one line, not the deadline and exit 2.
TEST(CliTest, ASignalEndsTheWaitForADatabaseServerAtTheStart) {
  test::TempDir dir;
  const int port = [] {  // a port nobody listens on
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return static_cast<int>(ntohs(a.sin_port));
  }();
  test::write_text(dir / "cfg.yaml", "database:\n  type: mysql\n  host: 127.0.0.1\n  port: " + std::to_string(port) +
                                         "\n  database: none\n  username: pdr\n  start_deadline: 60\n");
  const pid_t pid = test::start_pdr_run(
      dir.path(), {"--config", "cfg.yaml", "--model-name", "m", "--register-only", "--dens", "30"}, {kBase});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  auto r = test::finish_pdr_run(pid, dir.path());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_LT(secs, 10.0) << "the signal waited for database.start_deadline";
  EXPECT_NE(r.err.find("[error] model m: interrupted while waiting for the database: "), std::string::npos) << r.err;
}

// A grid run's flag before a subcommand would be parsed as the run's and ignored: refused.
// --config and --model-name mean the same on either side.
TEST(CliTest, AGridFlagBeforeASubcommandIsRefusedNotIgnored) {
  test::TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--dens", "30", "status", "--model-name", "m"},
       "--dens before 'status' is a flag of a grid run, not of 'status'"},
      {{"--dry-run", "retry", "--model-name", "m"}, "--dry-run before 'retry' is a flag of a grid run, not of 'retry'"},
      // A flag the subcommand has too: say where it goes.
      {{"--workers", "4", "worker", "--model-name", "m"},
       "--workers before 'worker' would not reach it: give it after the subcommand (pdr_run worker --workers ...)"},
      {{"--dry-run", "submit", "--scheduler", "slurm"},
       "--dry-run before 'submit' would not reach it: give it after the subcommand (pdr_run submit --dry-run ...)"},
      // On both sides, the later one would win without a word.
      {{"--config", "/dev/null", "status", "--config", "/dev/null"},
       "--config is given both before and after 'status': give it once"},
      {{"--model-name", "a", "history", "--model-name", "b"},
       "--model-name is given both before and after 'history': give it once"}};
  for (const auto& [args, message] : cases) {
    auto r = test::run_pdr_run(dir.path(), args, {kBase});
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path())) << "nothing may be written";
  // --config and --model-name before it are the subcommand's: status looks for that database.
  test::write_text(dir / "cfg.yaml", "database:\n  type: sqlite\n  path: jobs.db\n");
  auto before = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "m", "status"}, {kBase});
  EXPECT_NE(before.err.find("no job database at " + (dir / "jobs.db")), std::string::npos) << before.err;
}

// A flag that means nothing without another is refused, not ignored; so is nothing else.
TEST(CliTest, FlagsThatNeedAnotherAreRefusedAndAnEmptyVariableIsNotAValue) {
  test::TempDir dir;
  auto seed = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--seed", "5", "--dry-run"}, {kBase});
  EXPECT_EQ(seed.code, 2);
  EXPECT_EQ(lines(seed.err), 1u) << seed.err;
  EXPECT_NE(seed.err.find("--seed 5 draws random points: it needs --random"), std::string::npos) << seed.err;
  auto count =
      test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--random-count", "7", "--dry-run"}, {kBase});
  EXPECT_EQ(count.code, 2);
  EXPECT_EQ(lines(count.err), 1u) << count.err;
  EXPECT_NE(count.err.find("--random-count 7 sets how many random points are drawn: it needs --random"),
            std::string::npos)
      << count.err;
  auto reg = test::run_pdr_run(dir.path(),
                               {"--model-name", "m", "--dens", "30", "--register-only", "--time-left", "1h"}, {kBase});
  EXPECT_EQ(reg.code, 2);
  EXPECT_EQ(lines(reg.err), 1u) << reg.err;
  EXPECT_NE(reg.err.find("--time-left goes with a run that claims jobs, not with --register-only"), std::string::npos)
      << reg.err;
  // An empty grid value, first or not, is refused: "--dens '' 40" planned the default density.
  for (const std::vector<std::string>& flags :
       std::vector<std::vector<std::string>>{{"--dens", "", "40", "--chi", "10"},
                                             {"--dens", "30", "--chi", "", "20"},
                                             {"--dens", "30", "--species", ""},
                                             {"--dens", "30", "--workers", ""},
                                             {"--dens", "30", "--cpus", ""},
                                             {"--dens", "30", "--workers=", "--parallel"},
                                             {"--dens", "30", "--model-name", " "},
                                             {"--dens", "30", "--time-left=  "}}) {
    std::vector<std::string> args = {"--model-name", "m", "--dry-run"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = test::run_pdr_run(dir.path(), args, {kBase});
    EXPECT_EQ(r.code, 2) << flags[0] << " " << r.out;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(" (an unset variable in a script?)"), std::string::npos) << r.err;
    // Named by the flag the value belongs to.
    std::string flag;
    for (const auto& f : flags) {
      if (f.rfind("--", 0) == 0) flag = f.substr(0, f.find('='));
      if (f.find_first_not_of(' ') == std::string::npos || f.back() == '=' || f.back() == ' ') break;
    }
    EXPECT_TRUE(r.err.find(flag + ": an empty value") != std::string::npos ||
                r.err.find(flag + ": a value of only spaces") != std::string::npos)
        << r.err;
  }
  // An empty word after a switch is a stray argument, not the switch's value.
  {
    auto r = test::run_pdr_run(dir.path(), {"status", "--model-name", "m", "--json", ""}, {kBase});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("an empty argument after --json, which takes no value"), std::string::npos) << r.err;
    // The subcommand's flag decides: status --grid takes axes (a run's --grid is a switch).
    auto axes = test::run_pdr_run(dir.path(), {"status", "--model-name", "m", "--grid", ""}, {kBase});
    EXPECT_EQ(axes.code, 2);
    EXPECT_NE(axes.err.find("pdr_run: --grid: an empty value"), std::string::npos) << axes.err;
  }
  // Output paths longer than the job tables' 255-character columns: refused before anything is
  // written (MySQL failed when the first job was recorded, and ran it again on every run).
  test::write_text(dir / "long.yaml", "storage:\n  base_dir: /tmp/" + std::string(220, 'd') + "\n");
  auto long_paths = test::run_pdr_run(
      dir.path(), {"--config", "long.yaml", "--model-name", "m", "--dens", "30", "--chi", "10", "--dry-run"}, {kBase});
  EXPECT_EQ(long_paths.code, 2) << long_paths.out;
  EXPECT_EQ(lines(long_paths.err), 1u) << long_paths.err;
  EXPECT_NE(long_paths.err.find("storage.base_dir: the model's output paths would be up to 266 characters"),
            std::string::npos)
      << long_paths.err;
  fs::remove(dir / "long.yaml");
  // An empty --time-left is no duration (it read as "no limit").
  auto empty_time =
      test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--time-left", "", "--dry-run"}, {kBase});
  EXPECT_EQ(empty_time.code, 2);
  EXPECT_EQ(lines(empty_time.err), 1u) << empty_time.err;
  EXPECT_NE(empty_time.err.find("--time-left: an empty value (an unset variable in a script?)"), std::string::npos)
      << empty_time.err;
  auto interval = test::run_pdr_run(dir.path(), {"status", "--interval", "5"});
  EXPECT_EQ(interval.code, 2);
  EXPECT_EQ(lines(interval.err), 1u) << interval.err;
  EXPECT_NE(interval.err.find("--interval sets the time between --watch updates: it needs --watch"), std::string::npos)
      << interval.err;
  auto dir_template = test::run_pdr_run(
      dir.path(), {"--model-name", "m", "--dens", "30", "--json-template", "/tmp", "--dry-run"}, {kBase});
  EXPECT_EQ(dir_template.code, 2);
  EXPECT_NE(dir_template.err.find("--json-template: /tmp is a directory, not a template file"), std::string::npos)
      << dir_template.err;
  auto dev_template = test::run_pdr_run(
      dir.path(), {"--model-name", "m", "--dens", "30", "--json-template", "/dev/null", "--dry-run"}, {kBase});
  EXPECT_EQ(dev_template.code, 2);
  EXPECT_NE(dev_template.err.find("--json-template: /dev/null is not a regular file"), std::string::npos)
      << dev_template.err;
  // `PDR_BASE_DIR=` in a job script does not replace the configured directory.
  test::write_text(dir / "cfg.yaml", std::string("pdr:\n  base_dir: ") + PDR_MOCK_BASE + "\n");
  auto empty = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "m", "--dens", "30", "--dry-run"},
                                 {"PDR_BASE_DIR="});
  EXPECT_EQ(empty.code, 0) << empty.err;
  EXPECT_NE(empty.out.find("# note: environment PDR_BASE_DIR is set but empty: ignored, pdr.base_dir keeps its value"),
            std::string::npos)
      << empty.out;
  // When the ignored value was the only one, the error says why it is missing.
  auto missing = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--dry-run"}, {"PDR_BASE_DIR="});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(lines(missing.err), 1u) << missing.err;
  EXPECT_NE(missing.err.find("missing required value pdr.base_dir"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("(note: environment PDR_BASE_DIR is set but empty: ignored"), std::string::npos)
      << missing.err;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

// More than one worker is a parallel run for every subcommand; the help's examples run so.
TEST(CliTest, MoreThanOneWorkerMeansParallelEverywhere) {
  test::TempDir dir;
  auto dry =
      test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--workers", "3", "--dry-run"}, {kBase});
  EXPECT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("model 'm', 3 workers"), std::string::npos) << dry.out;
  auto worker = test::run_pdr_run(dir.path(), {"worker", "--model-name", "m", "--workers", "4"}, {kBase});
  EXPECT_EQ(worker.code, 2);
  EXPECT_NE(worker.err.find("no job database at"), std::string::npos) << worker.err;
  auto doctor = test::run_pdr_run(dir.path(), {"doctor", "--nodes", "4", "--workers", "16"}, {kBase});
  EXPECT_EQ(doctor.code, 0) << doctor.out << doctor.err;
  EXPECT_EQ(doctor.out.find("need --parallel"), std::string::npos) << doctor.out;
  EXPECT_NE(doctor.out.find("OK    executables: "), std::string::npos) << "every check runs\n" << doctor.out;
  // Four nodes on a SQLite file of this machine's disk: the other three do not see it.
  EXPECT_NE(doctor.out.find("WARN  database: SQLite file " + (dir / "pdr_run.db") +
                            " is on this machine's own disk, which the other 3 of 4 nodes do not see; set "
                            "database.type to mysql or postgresql for several nodes"),
            std::string::npos)
      << doctor.out;
  auto one = test::run_pdr_run(dir.path(), {"doctor", "--workers", "16"}, {kBase});
  EXPECT_EQ(one.out.find("nodes do not see"), std::string::npos) << one.out;
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

// The commands pdr_run prints to paste work as printed: with the configuration they need.
TEST(CliTest, PrintedNextCommandsWorkAsPrinted) {
  test::TempDir dir;
  fs::create_directories(dir / "elsewhere");
  // run.workers: 2 in the file: the pasted commands read it too (more than one worker is parallel).
  test::write_text(dir / "cfg.yaml", std::string("pdr:\n  base_dir: ") + PDR_MOCK_BASE +
                                         "\ndatabase:\n  path: " + (dir / "jobs.db") +
                                         "\nstorage:\n  base_dir: " + (dir / "store") + "\nrun:\n  workers: 2\n");
  auto reg = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "h", "--dens", "30", "40",
                                            "--species", "CO", "--register-only"});
  ASSERT_EQ(reg.code, 0) << reg.err;
  EXPECT_NE(reg.out.find("model h: 2 points registered"), std::string::npos) << reg.out;
  const std::string mark = "run them with: pdr_run ";
  const auto at = reg.out.find(mark);
  ASSERT_NE(at, std::string::npos) << reg.out;
  std::istringstream words(reg.out.substr(at + mark.size(), reg.out.find('\n', at) - at - mark.size()));
  std::vector<std::string> hint;
  for (std::string w; words >> w;) hint.push_back(w);
  ASSERT_GE(hint.size(), 4u);
  EXPECT_EQ(hint[1], "--config");
  EXPECT_NE(std::find(hint.begin(), hint.end(), "--species"), hint.end()) << "the flags that change a job";
  // Pasted in another directory, as people do.
  auto run = test::run_pdr_run(dir / "elsewhere", hint);
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("worker on model h: 2 finished, 0 failed"), std::string::npos) << run.out;
}

// A database that cannot be used is found before anything else is created: no output
// directories, no log file, no scratch directory.
TEST(CliTest, ADatabaseThatCannotBeUsedLeavesNothingBehind) {
  test::TempDir dir;
  const std::string real = test::read_text(std::string(PDR_SOURCE_DIR) + "/tests/data/predecessor/sqlite/pdr.db");
  ASSERT_GT(real.size(), 4096u);
  for (const std::string& content :
       {std::string("not a database, only text\n"), real.substr(0, 3000), std::string(8192, '\x5a')}) {
    test::write_text(dir / "jobs.db", content);
    auto r = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30"},
                               {kBase, "PDR_DB_FILE=" + (dir / "jobs.db"), "PDR_STORAGE_DIR=" + (dir / "store")});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    for (const auto& e : fs::directory_iterator(dir.path())) {
      const std::string name = e.path().filename().string();
      EXPECT_TRUE(name == ".stdout" || name == ".stderr" || name == "jobs.db") << name << " was created";
    }
    EXPECT_EQ(test::read_text(dir / "jobs.db"), content) << "the file is left as it was";
  }
}

// A closed port at the start of a command: the first line names host and port, and it ends
// within database.start_deadline, not after the retry deadline of an outage mid-grid.
TEST(CliTest, AServerThatRefusesAtTheStartFailsWithinTheStartDeadline) {
  test::TempDir dir;
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  ::close(probe);  // nothing listens there now
  test::write_text(dir / "cfg.yaml", "database:\n  type: mysql\n  host: 127.0.0.1\n  port: " + port +
                                         "\n  database: grid\n  username: u\n  password: Sekrit-9\n"
                                         "  start_deadline: 2\n");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--config", "cfg.yaml", "--model-name", "m", "--dens", "30"},
        std::vector<std::string>{"status", "--config", "cfg.yaml"}}) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = test::run_pdr_run(dir.path(), args, {kBase});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_LT(secs, 8.0) << r.err;
    EXPECT_LE(lines(r.err), 2u) << r.err;
    EXPECT_NE(r.err.substr(0, r.err.find('\n')).find("127.0.0.1:" + port), std::string::npos)
        << "the first line names the server\n"
        << r.err;
    EXPECT_NE(r.err.find("; database.start_deadline = 2 s)"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Sekrit-9"), std::string::npos);
  }
  for (const auto& e : fs::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == ".stdout" || name == ".stderr" || name == "cfg.yaml") << name << " was created";
  }
}

// doctor reads every page of a SQLite file: a damaged one fails the check with what
// quick_check found, a sound one passes it.
TEST(CliTest, DoctorFindsADamagedSqlitePage) {
  test::TempDir dir;
  test::write_text(dir / "cfg.yaml", std::string("pdr:\n  base_dir: ") + PDR_MOCK_BASE +
                                         "\ndatabase:\n  path: " + (dir / "jobs.db") + "\n");
  auto run = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "d", "--dens", "30", "40"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.err.find("created a new job database at " + (dir / "jobs.db")), std::string::npos) << run.err;
  auto again = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "d", "--dens", "30", "40"});
  EXPECT_EQ(again.err.find("created a new job database"), std::string::npos) << again.err;
  auto sound = test::run_pdr_run(dir.path(), {"doctor", "--config", "cfg.yaml"});
  EXPECT_NE(sound.out.find("OK    integrity: PRAGMA quick_check of " + (dir / "jobs.db") + ": ok"), std::string::npos)
      << sound.out;
  long long page = 0, page_size = 0;
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir / "jobs.db"));
    s << "SELECT rootpage FROM sqlite_master WHERE name = 'pdr_model_jobs'", soci::into(page);
    s << "PRAGMA page_size", soci::into(page_size);
    s << "PRAGMA wal_checkpoint(TRUNCATE)";
  }
  ASSERT_GT(page, 1);
  std::string bytes = test::read_text(dir / "jobs.db");
  ASSERT_GE(bytes.size(), static_cast<size_t>(page * page_size));
  bytes.replace(static_cast<size_t>((page - 1) * page_size), static_cast<size_t>(page_size),
                static_cast<size_t>(page_size), '\x5a');
  test::write_text(dir / "jobs.db", bytes);
  auto damaged = test::run_pdr_run(dir.path(), {"doctor", "--config", "cfg.yaml"});
  EXPECT_EQ(damaged.code, 1) << damaged.out << damaged.err;
  EXPECT_NE(damaged.out.find("FAIL  integrity: " + (dir / "jobs.db") + " is damaged (PRAGMA quick_check: "),
            std::string::npos)
      << damaged.out;
}

// A column of pdr_run's dropped by hand from a current schema: doctor names it (it said OK), and
// the next run adds it back and says so (it failed at the first statement naming it, or refused
// the model's points as "other physics" with no word of the column).
TEST(CliTest, AColumnDroppedByHandIsNamedAndAddedBack) {
  test::TempDir dir;
  test::write_text(dir / "cfg.yaml", std::string("pdr:\n  base_dir: ") + PDR_MOCK_BASE +
                                         "\ndatabase:\n  path: " + (dir / "jobs.db") + "\n");
  ASSERT_EQ(test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "c", "--dens", "30"}).code, 0);
  {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir / "jobs.db"));
    s << "ALTER TABLE pdr_model_jobs DROP COLUMN output_hdf5_file";
  }
  auto doctor = test::run_pdr_run(dir.path(), {"doctor", "--config", "cfg.yaml"});
  EXPECT_NE(doctor.out.find("WARN  schema: version " + std::to_string(kSchemaVersion) +
                            ", but column(s) pdr_model_jobs.output_hdf5_file are missing"),
            std::string::npos)
      << doctor.out;
  auto run = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "c", "--dens", "30", "40"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.err.find("lacked column(s) of schema " + std::to_string(kSchemaVersion) +
                         " (pdr_model_jobs.output_hdf5_file), dropped by hand: added back"),
            std::string::npos)
      << run.err;
  auto again = test::run_pdr_run(dir.path(), {"doctor", "--config", "cfg.yaml"});
  EXPECT_NE(again.out.find("OK    schema: version " + std::to_string(kSchemaVersion)), std::string::npos) << again.out;
}

// status only reads: a SQLite file is opened read-only (no -wal/-shm left, not a byte changed),
// and a database without pdr_run's tables is named, not given them.
TEST(CliTest, StatusOnlyReads) {
  test::TempDir dir;
  test::write_text(dir / "cfg.yaml", std::string("pdr:\n  base_dir: ") + PDR_MOCK_BASE +
                                         "\ndatabase:\n  path: " + (dir / "jobs.db") + "\n");
  ASSERT_EQ(test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "r", "--dens", "30"}).code, 0);
  const std::string before = test::read_text(dir / "jobs.db");
  ASSERT_FALSE(fs::exists(dir / "jobs.db-wal"));
  auto st = test::run_pdr_run(dir.path(), {"status", "--config", "cfg.yaml", "--model-name", "r"});
  EXPECT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("model r: 1 jobs"), std::string::npos) << st.out;
  EXPECT_FALSE(fs::exists(dir / "jobs.db-wal"));
  EXPECT_FALSE(fs::exists(dir / "jobs.db-shm"));
  EXPECT_EQ(test::read_text(dir / "jobs.db"), before) << "status changed the file";
  // An empty SQLite file (some other tool's) gets no tables.
  test::write_text(dir / "empty.db", "");
  auto empty = test::run_pdr_run(dir.path(), {"status", "--config", "cfg.yaml"}, {"PDR_DB_FILE=" + (dir / "empty.db")});
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("no pdr_run tables in sqlite file " + (dir / "empty.db")), std::string::npos) << empty.err;
  EXPECT_EQ(test::read_text(dir / "empty.db"), "");
  // The Python pdr_run's database is named as such and left as it is.
  fs::copy_file(std::string(PDR_SOURCE_DIR) + "/tests/data/predecessor/sqlite/pdr.db", dir / "theirs.db");
  const std::string theirs = test::read_text(dir / "theirs.db");
  auto old = test::run_pdr_run(dir.path(), {"status", "--config", "cfg.yaml"}, {"PDR_DB_FILE=" + (dir / "theirs.db")});
  EXPECT_EQ(old.code, 2);
  EXPECT_NE(old.err.find("was written by the Python pdr_run; status only reads"), std::string::npos) << old.err;
  EXPECT_EQ(test::read_text(dir / "theirs.db"), theirs);
}

// Commands that work on a registered model change nothing in a database that is not pdr_run's
// (not even its journal mode), or that does not hold the model; a table named like one of
// pdr_run's that is someone else's is refused by every command before anything is written.
TEST(CliTest, CommandsOnSomeoneElsesDatabaseOrAnUnknownModelWriteNothing) {
  test::TempDir dir;
  const auto sql = [&](const std::string& file, const std::string& q) {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir / file));
    s << q;
  };
  const auto count = [&](const std::string& file, const std::string& q) {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir / file));
    long long n = -1;
    s << q, soci::into(n);
    return n;
  };
  sql("theirs.db", "CREATE TABLE foo (x INTEGER)");
  sql("clash.db", "CREATE TABLE pdr_model_jobs (id INTEGER PRIMARY KEY, name TEXT)");
  const std::string theirs = test::read_text(dir / "theirs.db"), clash = test::read_text(dir / "clash.db");
  const std::vector<std::vector<std::string>> commands = {
      {"worker", "--model-name", "typo"},
      {"verify", "--model-name", "typo"},
      {"retry", "--model-name", "typo"},
      {"history", "--prune", "--older-than", "1d"},
      {"history", "--prune", "--older-than", "1d", "--model-name", "typo"},
      {"status", "--recount"}};
  for (const auto& args : commands) {
    auto r = test::run_pdr_run(dir.path(), args, {kBase, "PDR_DB_FILE=" + (dir / "theirs.db")});
    EXPECT_EQ(r.code, 2) << args[0] << r.err;
    EXPECT_EQ(lines(r.err), 1u) << args[0] << r.err;
    EXPECT_NE(r.err.find("no pdr_run tables in sqlite file " + (dir / "theirs.db")), std::string::npos)
        << args[0] << r.err;
    EXPECT_EQ(test::read_text(dir / "theirs.db"), theirs) << args[0];
    auto c = test::run_pdr_run(dir.path(), args, {kBase, "PDR_DB_FILE=" + (dir / "clash.db")});
    EXPECT_EQ(c.code, 2) << args[0] << c.err;
    EXPECT_NE(c.err.find("has a table pdr_model_jobs that is neither pdr_run's nor the Python pdr_run's"),
              std::string::npos)
        << args[0] << c.err;
    EXPECT_EQ(test::read_text(dir / "clash.db"), clash) << args[0];
  }
  auto reg = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--register-only"},
                               {kBase, "PDR_DB_FILE=" + (dir / "clash.db")});
  EXPECT_EQ(reg.code, 2) << reg.err;
  EXPECT_NE(reg.err.find("has a table pdr_model_jobs that is neither"), std::string::npos) << reg.err;
  EXPECT_EQ(test::read_text(dir / "clash.db"), clash);
  EXPECT_FALSE(fs::exists(dir / "clash.db-wal"));
  // One column of the same name does not make a table pdr_run's, nor does a schema_version
  // table of another tool (Flyway's) make a database an older pdr_run's.
  sql("users.db", "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)");
  sql("flyway.db",
      "CREATE TABLE schema_version (installed_rank INTEGER PRIMARY KEY, version VARCHAR(50), script TEXT)");
  sql("flyway.db", "INSERT INTO schema_version VALUES (1, '1.2', 'V1_2__init.sql')");
  for (const auto& [file, table] :
       {std::pair<std::string, std::string>{"users.db", "users"}, {"flyway.db", "schema_version"}}) {
    const std::string before = test::read_text(dir / file);
    auto r = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--register-only"},
                               {kBase, "PDR_DB_FILE=" + (dir / file)});
    EXPECT_EQ(r.code, 2) << file << r.err;
    EXPECT_EQ(lines(r.err), 1u) << file << r.err;
    EXPECT_NE(r.err.find("has a table " + table + " that is neither pdr_run's nor the Python pdr_run's"),
              std::string::npos)
        << file << r.err;
    EXPECT_EQ(test::read_text(dir / file), before) << file;
    EXPECT_FALSE(fs::exists(dir / (file + "-wal"))) << file;
  }
  // A registration beside another application's tables goes on, and says so once.
  sql("shared.db", "CREATE TABLE notes (x INTEGER)");
  for (int round = 0; round < 2; ++round) {
    auto r = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--register-only"},
                               {kBase, "PDR_DB_FILE=" + (dir / "shared.db")});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err.find("created pdr_run's tables in sqlite file " + (dir / "shared.db") +
                         " beside 1 table(s) of another application (notes)") != std::string::npos,
              round == 0)
        << r.err;
  }

  // pdr_run's own database without the model named: no run, event or row is added.
  auto ours = test::run_pdr_run(dir.path(), {"--model-name", "m", "--dens", "30", "--register-only"},
                                {kBase, "PDR_DB_FILE=" + (dir / "ours.db")});
  ASSERT_EQ(ours.code, 0) << ours.err;
  const auto rows = [&] {
    return count("ours.db",
                 "SELECT (SELECT COUNT(*) FROM pdr_runs) * 1000000 + (SELECT COUNT(*) FROM "
                 "pdr_job_events) * 1000 + (SELECT COUNT(*) FROM model_names)");
  };
  const long long before = rows();
  for (const auto& args : {commands[0], commands[1], commands[2], commands[4]}) {
    auto r = test::run_pdr_run(dir.path(), args, {kBase, "PDR_DB_FILE=" + (dir / "ours.db")});
    EXPECT_EQ(r.code, 2) << args[0] << r.err;
    EXPECT_NE(r.err.find("model 'typo' is not registered in sqlite file " + (dir / "ours.db")), std::string::npos)
        << args[0] << r.err;
    EXPECT_EQ(rows(), before) << args[0];
  }
}

// history --prune --model-name prunes that model's old events alone.
TEST(CliTest, HistoryPruneOfOneModelKeepsTheOthers) {
  test::TempDir dir;
  const std::vector<std::string> env = {kBase, "PDR_DB_FILE=" + (dir / "jobs.db")};
  for (const char* model : {"a", "b"}) {
    auto r = test::run_pdr_run(dir.path(), {"--model-name", model, "--dens", "30"}, env);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  const auto events = [&](const std::string& model) {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir / "jobs.db"));
    long long n = -1;
    s << "SELECT COUNT(*) FROM pdr_job_events e JOIN model_names m ON m.id = e.model_name_id WHERE m.model_name = '" +
             model + "'",
        soci::into(n);
    return n;
  };
  ASSERT_GT(events("a"), 0);
  const long long b = events("b");
  ASSERT_GT(b, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));  // the cut-off is in whole seconds
  auto p = test::run_pdr_run(dir.path(), {"history", "--prune", "--older-than", "1s", "--model-name", "a"}, env);
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find(" of model a "), std::string::npos) << p.out;
  EXPECT_EQ(events("a"), 2) << "its registration's two events stay";
  EXPECT_EQ(events("b"), b);
}

// On an empty MySQL database status creates no table, view or trigger: it names what it found.
TEST(CliTest, StatusOnAnEmptyMySqlDatabaseCreatesNothing) {
  auto& server = test::MariaDb::shared();
  PDR_REQUIRE_MARIADB(server);
  test::TempDir dir;
  const std::string db = server.create_database();
  auto r = test::run_pdr_run(dir.path(), {"status", "--model-name", "m"}, server.env(db));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("no pdr_run tables in mysql 127.0.0.1:" + std::to_string(server.port()) + "/" + db),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find(server.password()), std::string::npos) << "the password is never shown";
  EXPECT_EQ(server.number("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '" + db + "'"), 0);
  EXPECT_EQ(server.number("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = '" + db + "'"), 0);
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

// A storage refused at the start leaves an empty MySQL database as it was: no table, view or
// trigger of a run that never began.
TEST(CliTest, ARefusedStorageCreatesNothingInAnEmptyMySqlDatabase) {
  auto& server = test::MariaDb::shared();
  PDR_REQUIRE_MARIADB(server);
  test::TempDir dir;
  const std::string db = server.create_database();
  test::write_text(dir / "cfg.yaml", "storage:\n  type: rclone\n  rclone_remote: 'nosuch:'\n");
  auto env = server.env(db);
  env.push_back(kBase);
  env.push_back("RCLONE_CONFIG=" + (dir / "rclone.conf"));
  auto r = test::run_pdr_run(dir.path(), {"--config", "cfg.yaml", "--model-name", "m", "--dens", "30"}, env);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("storage.rclone_remote: 'nosuch:' is not a remote rclone knows"), std::string::npos) << r.err;
  EXPECT_EQ(server.number("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '" + db + "'"), 0);
  EXPECT_EQ(server.number("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = '" + db + "'"), 0);
  EXPECT_TRUE(dir_is_empty_but_logs(dir.path()));
}

}  // namespace
}  // namespace pdr
