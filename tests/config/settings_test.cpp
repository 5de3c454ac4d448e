#include "pdr/settings.h"

#include <gtest/gtest.h>

namespace pdr {
namespace {

Config base_config() {
  auto c = Config::Defaults();
  EXPECT_TRUE(c.ok());
  EXPECT_TRUE(c->set_scalar("pdr.model_name", "m1", "--model-name").ok());
  EXPECT_TRUE(c->set_scalar("pdr.base_dir", "base", "test").ok());
  return c.value();
}

// A YAML file is read by no shell: "~/store" is the home directory's store, not a directory
// named "~" in the invocation directory.
TEST(SettingsTest, AHomeDirectoryAtTheStartOfAPathIsExpanded) {
  Config c = base_config();
  ASSERT_TRUE(c.set_scalar("storage.base_dir", "~/store", "--test").ok());
  ASSERT_TRUE(c.set_scalar("run.log_dir", "~", "--test").ok());
  ASSERT_TRUE(c.set_scalar("run.scratch_dir", "~root/scratch", "--test").ok());
  setenv("HOME", "/home/someone", 1);
  auto s = build_settings(c, "/work", 2);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->storage.base_dir, "/home/someone/store");
  EXPECT_EQ(s->run.log_dir, "/home/someone");
  EXPECT_EQ(s->run.scratch_dir, "/root/scratch");
}

// The job's own input and output directories: "." (the job directory) or one named twice made
// every job fail in setup, after the grid was registered.
TEST(SettingsTest, TheJobsDirectoriesAreDistinctNamesInsideIt) {
  for (const std::vector<std::string>& dirs :
       {std::vector<std::string>{"."}, {"pdrinpdata", "pdrinpdata"}, {"./."}, {"a", "./a/"}}) {
    Config c = base_config();
    ASSERT_TRUE(c.set_list("directories.pdr_inp_dirs", dirs, "--test").ok());
    auto s = build_settings(c, "/", 2);
    ASSERT_FALSE(s.ok()) << dirs.front();
    EXPECT_NE(s.status().message().find("directories.pdr_inp_dirs (from --test): '"), std::string::npos)
        << s.status().message();
  }
}

TEST(SettingsTest, RelativePathsResolveAgainstTheInvocationDirectory) {
  Config c = base_config();
  auto s = build_settings(c, "/home/user/run", 8);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->database.path, "/home/user/run/pdr_run.db");
  EXPECT_EQ(s->storage.base_dir, "/home/user/run/pdr_storage");
  EXPECT_EQ(s->pdr.base_dir, "/home/user/run/base");
  EXPECT_EQ(s->run.workers, 1);
}

// A double quote left open in the YAML makes a scalar of the lines after it: the path takes them
// in, and the settings they held fall back to their defaults. Refused, naming where.
TEST(SettingsTest, APathWithALineBreakIsAQuoteLeftOpen) {
  Config c = base_config();
  ASSERT_TRUE(c.apply_yaml("storage:\n  base_dir: \"/tmp/abc\npdr:\n  model_name: zz\n  x: \"\n", "cfg.yaml").ok());
  auto s = build_settings(c, "/", 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("storage.base_dir (from cfg.yaml"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("'/tmp/abc' holds the lines after it ('pdr:' on): a quote left "
                                      "open in the YAML?"),
            std::string::npos)
      << s.status().message();
}

// Any text, not only a path: a chemistry origin or a password that took in the next keys is
// refused too (the password not shown); a text that merely holds a colon is not.
TEST(SettingsTest, AnyTextThatTookInTheNextKeysIsAQuoteLeftOpen) {
  Config origin = base_config();
  ASSERT_TRUE(origin.apply_yaml("pdr:\n  chem_origin: \"UDfA22\n  chem_database: x.dat\n", "cfg.yaml").ok());
  auto s = build_settings(origin, "/", 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("pdr.chem_origin (from cfg.yaml"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("'UDfA22' holds the lines after it ('chem_database:' on)"), std::string::npos)
      << s.status().message();
  // A text that took in the password shows only its own part.
  Config user = base_config();
  ASSERT_TRUE(user.apply_yaml("database:\n  username: \"pdr\n  password: S3cret-x\n", "cfg.yaml").ok());
  auto u = build_settings(user, "/", 2);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("database.username (from cfg.yaml"), std::string::npos) << u.status().message();
  EXPECT_NE(u.status().message().find("'pdr' holds the lines after it ('password:' on)"), std::string::npos)
      << u.status().message();
  EXPECT_EQ(u.status().message().find("S3cret"), std::string::npos) << u.status().message();
  Config secret = base_config();
  ASSERT_TRUE(
      secret.apply_yaml("database:\n  password: \"S3cret-x\n  port: 33\nrun:\n  workers: 1\n", "cfg.yaml").ok());
  auto p = build_settings(secret, "/", 2);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("database.password (from cfg.yaml"), std::string::npos) << p.status().message();
  EXPECT_EQ(p.status().message().find("S3cret"), std::string::npos) << p.status().message();
  Config fine = base_config();
  ASSERT_TRUE(
      fine.apply_yaml(
              "pdr:\n  chem_origin: \"KIDA: 2014 run\"\ndatabase:\n  password: \"a: b\"\nstorage:\n  rclone_remote: \"kosma host:\"\n",
              "cfg.yaml")
          .ok());
  auto f = build_settings(fine, "/", 2);
  EXPECT_TRUE(f.ok()) << f.status().message();
}

// Texts kept in the predecessor's narrow columns are checked when the settings are read, not
// when the grid is registered (after the model's row was written): MySQL refused them there, or
// cut them silently (INSERT IGNORE).
TEST(SettingsTest, TextsLongerThanTheirColumnsAreRefusedBeforeAnythingIsWritten) {
  Config fuv = base_config();
  ASSERT_TRUE(fuv.apply_yaml("non_default_parameters:\n  fuvstring: " + std::string(60, 'f') + "\n", "cfg.yaml").ok());
  auto long_fuv = build_settings(fuv, "/", 2);
  ASSERT_FALSE(long_fuv.ok());
  EXPECT_NE(long_fuv.status().message().find(
                "non_default_parameters.fuvstring (from cfg.yaml:2): 60 characters, more than the 50"),
            std::string::npos)
      << long_fuv.status().message();
  Config species = base_config();
  std::string list;
  for (int i = 0; i < 70; ++i) list += (i == 0 ? "" : ", ") + std::string("SPECIESX") + std::to_string(i);
  ASSERT_TRUE(species.apply_yaml("model_parameters:\n  species: [" + list + "]\n", "cfg.yaml").ok());
  auto many = build_settings(species, "/", 2);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("70 species make 759 characters, more than the 255"), std::string::npos)
      << many.status().message();
  Config fits = base_config();
  ASSERT_TRUE(fits.apply_yaml("non_default_parameters:\n  fuvstring: " + std::string(50, 'f') + "\n", "cfg.yaml").ok());
  EXPECT_TRUE(build_settings(fits, "/", 2).ok());
}

TEST(SettingsTest, AGridValueIsRefusedWithTheFileAndLineItCameFrom) {
  Config c = base_config();
  ASSERT_TRUE(c.apply_yaml("model_parameters:\n  dens: [30, 1e1]\n", "cfg.yaml").ok());
  auto s = build_settings(c, "/", 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("model_parameters.dens (from cfg.yaml:2): dens value '1e1' is not a plain"),
            std::string::npos)
      << s.status().message();
  Config metal = base_config();
  ASSERT_TRUE(metal.apply_yaml("model_parameters:\n  metal: [\"-100\"]\n", "cfg.yaml").ok());
  auto negative = build_settings(metal, "/", 2);
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(
      negative.status().message().find("model_parameters.metal (from cfg.yaml:2): metal value '-100' is negative"),
      std::string::npos)
      << negative.status().message();
  // A flag that replaces the file's values does not hide a wrong one there.
  Config replaced = base_config();
  ASSERT_TRUE(replaced.apply_yaml("model_parameters:\n  dens: [\"abc\"]\n", "cfg.yaml").ok());
  ASSERT_TRUE(replaced.set_list("model_parameters.dens", {"30"}, "--dens").ok());
  auto hidden = build_settings(replaced, "/", 2);
  ASSERT_FALSE(hidden.ok());
  EXPECT_NE(hidden.status().message().find(
                "model_parameters.dens (from cfg.yaml:2, replaced by --dens): dens value 'abc' is not a plain"),
            std::string::npos)
      << hidden.status().message();
  // The built-in defaults a flag replaces are not looked at again.
  Config plain = base_config();
  ASSERT_TRUE(plain.set_list("model_parameters.dens", {"40"}, "--dens").ok());
  EXPECT_TRUE(build_settings(plain, "/", 2).ok());
}

TEST(SettingsTest, ParallelWorkersDefaultToCoresMinusReserved) {
  Config c = base_config();
  ASSERT_TRUE(c.set_scalar("run.parallel", "true", "--parallel").ok());
  auto s = build_settings(c, "/", 8);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->run.workers, 6);
  auto one = build_settings(c, "/", 2);
  EXPECT_EQ(one->run.workers, 1);
  ASSERT_TRUE(c.set_scalar("run.workers", "4", "--workers").ok());
  EXPECT_EQ(build_settings(c, "/", 2)->run.workers, 4);  // not capped by cores
}

// A configuration file's run.workers: 4 is a parallel run, as --workers 4 is: the commands
// pdr_run prints to paste (status, worker) read the same file without --parallel.
TEST(SettingsTest, MoreThanOneWorkerIsAParallelRun) {
  Config c = base_config();
  ASSERT_TRUE(c.set_scalar("run.workers", "4", "cfg.yaml:3").ok());
  auto s = build_settings(c, "/", 8);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->run.parallel);
  EXPECT_EQ(s->run.workers, 4);
  ASSERT_TRUE(c.set_scalar("run.workers", "1", "cfg.yaml:3").ok());
  EXPECT_FALSE(build_settings(c, "/", 8)->run.parallel);
}

// As the numbers of PDR_* variables, the durations may carry spaces around them.
TEST(SettingsTest, ADurationMayCarrySpaces) {
  Config c = base_config();
  ASSERT_TRUE(c.set_scalar("run.time_left", " 3600\n", "PDR_TIME_LEFT").ok());
  ASSERT_TRUE(c.set_scalar("run.end_margin", "\t5% ", "cfg.yaml:4").ok());
  auto s = build_settings(c, "/", 8);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->run.time_left, 3600.0);
  EXPECT_EQ(s->run.end_margin_percent, 5.0);
}

// A margin as long as the time given leaves no job room to start: refused, where a run
// registered the grid, started nothing and ended with exit 0.
TEST(SettingsTest, AnEndMarginNotBelowTheTimeLeftIsRefused) {
  Config c = base_config();
  ASSERT_TRUE(c.set_scalar("run.time_left", "1h", "cfg.yaml:5").ok());
  ASSERT_TRUE(c.set_scalar("run.end_margin", "2h", "cfg.yaml:6").ok());
  auto s = build_settings(c, "/", 8);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "run.end_margin (from cfg.yaml:6): '2h' is not less than run.time_left (from "
            "cfg.yaml:5, '1h'): no job could start");
  ASSERT_TRUE(c.set_scalar("run.end_margin", "59m", "cfg.yaml:6").ok());
  auto fits = build_settings(c, "/", 8);
  ASSERT_TRUE(fits.ok()) << fits.status().message();
  EXPECT_EQ(fits->run.end_margin, 59 * 60.0);
}

TEST(SettingsTest, RequiredValuesAreNamed) {
  auto c = Config::Defaults();
  auto s = build_settings(c.value(), "/", 2);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "missing required value pdr.base_dir (the PDR base directory; set PDR_BASE_DIR or pdr.base_dir)");
  ASSERT_TRUE(c->set_scalar("pdr.base_dir", "/b", "test").ok());
  ASSERT_TRUE(c->set_scalar("pdr.model_name", "", "--model-name").ok());
  auto m = build_settings(c.value(), "/", 2);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("missing required value pdr.model_name"), std::string::npos);
}

TEST(SettingsTest, RejectsBadValuesWithTheirOrigin) {
  struct Case {
    const char* key;
    const char* value;
    const char* expected;
  };
  const std::string long_name(201, 'm');
  for (const Case& k :
       {Case{"database.type", "postgres", "'postgres' is not a database type"},
        Case{"database.path", ":memory:", "would lose every job record"},
        Case{"database.retry.deadline", "0", "must be greater than 0"},
        Case{"storage.type", "ftp", "'ftp' is not available"},
        Case{"pdr.model_name", "a/b", "cannot be a directory name"},
        Case{"pdr.pdr_file_name", "../pdr", "must be a file name inside pdr.base_dir"},
        Case{"run.step_timeout", "-1", "must not be negative"},
        Case{"database.port", "70000", ": 70000 is not a TCP port (1 to 65535)"},
        Case{"database.sslmode", "always", "'always' is not an sslmode"},
        Case{"database.sslmode", "require", "only PostgreSQL takes an sslmode"},
        Case{"pdr.model_name", "a\nb", "'a\\nb' cannot be a directory name"},
        Case{"pdr.model_name", "m\xff\xfeZ", "'m??Z' is not valid UTF-8"},
        Case{"pdr.model_name", long_name.c_str(), ": 201 bytes is too long for a directory name (at most 200)"},
        Case{"run.step_timeout", "1e18", " s is more than the 1000000000 s (about 31 years) a duration may be"},
        Case{"database.retry.deadline", "9.3e18", "more than the 1000000000 s"},
        // Durations given as text: 3000000d wrapped the run's deadline into the past (nothing
        // started, exit 0); strtod took 0x10% for 16 % and "%" for 0 %.
        Case{"run.time_left", "3000000d", ": '3000000d' is 259200000000 s, more than the 1000000000 s"},
        Case{"run.end_margin", "99999999d", "more than the 1000000000 s"},
        Case{"run.expected_job_seconds", "999999999999", "more than the 1000000000 s"},
        Case{"run.end_margin", "0x10%", "'0x10%' is not a percentage below 100"},
        Case{"run.end_margin", "1e1%", "'1e1%' is not a percentage below 100"},
        Case{"run.end_margin", "%", "'%' is not a percentage below 100"}}) {
    Config c = base_config();
    ASSERT_TRUE(c.set_scalar(k.key, k.value, "--test").ok()) << k.key;
    auto s = build_settings(c, "/", 2);
    ASSERT_FALSE(s.ok()) << k.key;
    EXPECT_NE(s.status().message().find(k.expected), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("--test"), std::string::npos) << s.status().message();
  }
}

// A number the model or the parameter table cannot hold (32 bits) is refused, not wrapped: a port
// of 4294967297 connected to port 1, an ifuvmeth of 4294967297 reached the inputs as 1.
TEST(SettingsTest, AnIntegerBeyond32BitsIsOutOfRange) {
  const std::string range = "'4294967297' is out of range (an integer from -2147483648 to 2147483647)";
  for (const char* key : {"database.port", "run.workers"}) {
    Config c = base_config();
    const Status st = c.set_scalar(key, "4294967297", "--test");
    ASSERT_FALSE(st.ok()) << key;
    EXPECT_NE(st.message().find(range), std::string::npos) << st.message();
  }
  Config c = base_config();
  EXPECT_EQ(c.set_scalar("run.workers", "many", "--test").message(), "--test: 'many' is not an integer");
  const Status big = c.apply_yaml("non_default_parameters:\n  ifuvmeth: 4294967297\n", "cfg.yaml");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.message().find("cfg.yaml:2: non_default_parameters.ifuvmeth: " + range), std::string::npos)
      << big.message();
  EXPECT_TRUE(c.apply_yaml("non_default_parameters:\n  ifuvmeth: -2147483648\n", "cfg.yaml").ok());
}

// Text parameters go into the inputs as they are: a quote would end the JSON string (and add a
// key of its own), a line break start a line of PDRNEW.INP.
TEST(SettingsTest, ATextParameterTheInputsCannotCarryIsRefused) {
  for (const char* value : {"\"x\\\",\\\"alpha\\\": 99\"", "\"x\\nINEWGAM\"", "'a\\b'"}) {
    Config c = base_config();
    ASSERT_TRUE(c.apply_yaml(std::string("non_default_parameters:\n  fuvstring: ") + value + "\n", "cfg.yaml").ok())
        << value;
    auto s = build_settings(c, "/", 2);
    ASSERT_FALSE(s.ok()) << value;
    EXPECT_NE(s.status().message().find("non_default_parameters.fuvstring (from cfg.yaml:2): '"), std::string::npos)
        << s.status().message();
    EXPECT_NE(s.status().message().find("' holds a quote, a backslash or a control character"), std::string::npos)
        << s.status().message();
  }
}

// A species names files and is kept in a list joined by spaces: "C O" would be C and O.
TEST(SettingsTest, ASpeciesNameWithASpaceOrQuoteIsRefused) {
  for (const char* name : {"C O", "C\"", "", "C\tO"}) {
    Config c = base_config();
    ASSERT_TRUE(c.set_list("model_parameters.species", {"CO", name}, "--species").ok());
    auto s = build_settings(c, "/", 2);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_NE(s.status().message().find("is not a species name (no spaces, quotes"), std::string::npos)
        << s.status().message();
  }
}

TEST(SettingsTest, PostgresqlTakesItsOwnDefaultPortUnlessOneIsGiven) {
  Config c = base_config();
  ASSERT_TRUE(c.set_scalar("database.type", "postgresql", "PDR_DB_TYPE").ok());
  ASSERT_TRUE(c.set_scalar("database.sslmode", "verify-full", "PDR_DB_SSLMODE").ok());
  auto s = build_settings(c, "/", 2);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->database.port, 5432);
  EXPECT_EQ(s->database.sslmode, "verify-full");
  EXPECT_TRUE(s->database.server());
  EXPECT_EQ(s->database.describe(), "postgresql localhost:5432/pdr_test");
  ASSERT_TRUE(c.set_scalar("database.port", "3306", "--test").ok());
  EXPECT_EQ(build_settings(c, "/", 2)->database.port, 3306) << "a port the user gave is kept, even MySQL's";
  ASSERT_TRUE(c.set_scalar("database.username", "", "--test").ok());
  auto missing = build_settings(c, "/", 2);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("the PostgreSQL user"), std::string::npos) << missing.status().message();
}

TEST(SettingsTest, NonDefaultParametersAreCanonical) {
  Config c = base_config();
  ASSERT_TRUE(c.apply_yaml("non_default_parameters:\n  cosray: 5.0e-17\n  step1: 100.\n", "x.yaml").ok());
  auto s = build_settings(c, "/", 2);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->non_default.at("cosray"), "5e-17");
  EXPECT_EQ(s->non_default.at("step1"), "100");
}

}  // namespace
}  // namespace pdr
