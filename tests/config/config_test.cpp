#include "pdr/config.h"

#include <gtest/gtest.h>

#include <map>

#include "config/schema.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Config defaults() {
  auto c = Config::Defaults();
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.value();
}

TEST(ConfigTest, DefaultsCoverEverySettingOfTheSchema) {
  Config c = defaults();
  for (const auto& spec : setting_specs()) {
    EXPECT_TRUE(c.has(spec.key)) << spec.key;
    EXPECT_NE(c.origin(spec.key).find("default.yaml:"), std::string::npos) << spec.key;
  }
  EXPECT_EQ(c.str("database.type"), "sqlite");
  EXPECT_EQ(c.list("model_parameters.dens"), std::vector<std::string>{"30"});
  EXPECT_EQ(c.real("model_parameters.alpha"), 1.5);
  // The chemistry string is kept verbatim, runs of spaces and the trailing space included.
  EXPECT_NE(c.str("model_parameters.chemistry").find("CH3   CH4+"), std::string::npos);
  EXPECT_EQ(c.str("model_parameters.chemistry").back(), ' ');
}

// A second document would be read by nobody: its settings were lost without a word.
TEST(ConfigTest, ASecondYamlDocumentIsRefused) {
  auto c = Config::Defaults();
  ASSERT_TRUE(c.ok());
  const Status st = c->apply_yaml("run:\n  workers: 2\n---\ndatabase:\n  path: other.db\n", "cfg.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "cfg.yaml:4: a second YAML document (after '---'); a configuration file holds one");
  EXPECT_TRUE(c->apply_yaml("---\nrun:\n  workers: 2\n---\n", "cfg.yaml").ok()) << "empty documents are no settings";
}

TEST(ConfigTest, PrecedenceIsDefaultsThenFileThenEnvironmentThenFlags) {
  Config c = defaults();
  ASSERT_TRUE(c.apply_yaml("database:\n  path: from_file.db\n  port: 3307\n", "my.yaml").ok());
  EXPECT_EQ(c.str("database.path"), "from_file.db");
  EXPECT_EQ(c.origin("database.path"), "my.yaml:2");
  ASSERT_TRUE(c.apply_environment(env_of({{"PDR_DB_FILE", "from_env.db"}})).ok());
  EXPECT_EQ(c.str("database.path"), "from_env.db");
  EXPECT_EQ(c.origin("database.path"), "PDR_DB_FILE");
  EXPECT_EQ(c.integer("database.port"), 3307);  // untouched by the environment
  ASSERT_TRUE(c.set_scalar("database.path", "from_flag.db", "--db").ok());
  EXPECT_EQ(c.str("database.path"), "from_flag.db");
  EXPECT_EQ(c.origin("database.path"), "--db");
}

TEST(ConfigTest, ExecPathWinsOverBaseDirLikeThePredecessor) {
  Config c = defaults();
  ASSERT_TRUE(c.apply_environment(env_of({{"PDR_BASE_DIR", "/a"}, {"PDR_EXEC_PATH", "/b"}})).ok());
  EXPECT_EQ(c.str("pdr.base_dir"), "/b");
}

TEST(ConfigTest, AliasesApplyAndUnquotedNumbersAreValues) {
  Config c = defaults();
  ASSERT_TRUE(c.apply_yaml("model_params:\n  dens: [30, 05, -10]\n  alpha: 0.\nnon_default_params:\n"
                           "  cosray: 5.0e-17\n  ihtclgas: 0\n  fuvstring: Draine.fuv\n",
                           "old.yaml")
                  .ok());
  EXPECT_EQ(c.list("model_parameters.dens"), (std::vector<std::string>{"30", "05", "-10"}));
  EXPECT_EQ(c.real("model_parameters.alpha"), 0.0);
  auto nd = c.non_default_parameters();
  EXPECT_EQ(nd["cosray"], "5e-17");
  EXPECT_EQ(nd["ihtclgas"], "0");
  EXPECT_EQ(nd["fuvstring"], "Draine.fuv");
}

TEST(ConfigTest, PredecessorDatabaseAndParameterKeysAreApplied) {
  Config c = defaults();
  ASSERT_TRUE(c.apply_yaml("database:\n  max_overflow: 2\n  connect_args: {}\n  diagnostics_enabled: false\n"
                           "model_params:\n  reserved_cpus: 1\n",
                           "old.yaml")
                  .ok());
  EXPECT_EQ(c.integer("database.max_overflow"), 2);
  EXPECT_FALSE(c.boolean("database.diagnostics_enabled"));
  EXPECT_EQ(c.integer("run.reserved_cpus"), 1);
  EXPECT_EQ(c.origin("run.reserved_cpus"), "old.yaml:6");
  Status st = c.apply_yaml("database:\n  connect_args: {ssl_ca: x}\n", "args.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("args.yaml:2: database.connect_args: driver arguments are not passed through"),
            std::string::npos)
      << st.message();
}

TEST(ConfigTest, SpeciesAsOneStringIsSplit) {
  Config c = defaults();
  ASSERT_TRUE(c.apply_yaml("model_parameters:\n  species: CO C+ C O\n", "x.yaml").ok());
  EXPECT_EQ(c.list("model_parameters.species"), (std::vector<std::string>{"CO", "C+", "C", "O"}));
}

TEST(ConfigTest, ThePredecessorsListFormsOfAlphaRcoreAndChemistryAreRead) {
  // The predecessor took the first value of an alpha or rcore list and joined a chemistry list
  // with spaces; its files say so.
  Config c = defaults();
  ASSERT_TRUE(
      c.apply_yaml("model_parameters:\n  alpha: [0.5]\n  rcore: [ 0.3 ]\n  chemistry: [H+, CO, C+]\n", "old.yaml")
          .ok());
  EXPECT_EQ(c.real("model_parameters.alpha"), 0.5);
  EXPECT_EQ(c.real("model_parameters.rcore"), 0.3);
  EXPECT_EQ(c.str("model_parameters.chemistry"), "H+ CO C+");
  EXPECT_EQ(c.origin("model_parameters.alpha"), "old.yaml:2");
}

TEST(ConfigTest, ANumberInTheEnvironmentMayCarrySpaces) {
  Config c = defaults();
  ASSERT_TRUE(c.apply_environment(env_of({{"PDR_DB_PORT", " 3307 "}, {"PDR_DB_HOST", " db "}})).ok());
  EXPECT_EQ(c.integer("database.port"), 3307);
  EXPECT_EQ(c.str("database.host"), " db ") << "text keeps its own spaces";
}

struct BadYaml {
  const char* text;
  const char* expected;  // a fragment of the one-line error
};

class ConfigErrorTest : public ::testing::TestWithParam<BadYaml> {};

TEST_P(ConfigErrorTest, IsOneLineNamingFileLineAndKey) {
  Config c = defaults();
  const std::string before = c.describe();
  Status st = c.apply_yaml(GetParam().text, "bad.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kUsage);
  EXPECT_NE(st.message().find(GetParam().expected), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  EXPECT_EQ(st.message().rfind("bad.yaml:", 0), 0u) << st.message();
  EXPECT_EQ(c.describe(), before) << "a rejected document must change nothing";
}

INSTANTIATE_TEST_SUITE_P(
    Validation, ConfigErrorTest,
    ::testing::Values(BadYaml{"databse:\n  type: sqlite\n",
                              "bad.yaml:1: unknown section 'databse' (did you mean 'database'?)"},
                      BadYaml{"database:\n  type: sqlite\n  hots: x\n",
                              "bad.yaml:3: database.hots: unknown key (did you mean 'host'?)"},
                      BadYaml{"database:\n  port: abc\n", "bad.yaml:2: database.port: 'abc' is not an integer"},
                      BadYaml{"database:\n  pool_pre_ping: maybe\n", "is not true or false"},
                      BadYaml{"model_parameters:\n  alpha: fast\n", "model_parameters.alpha: 'fast' is not a number"},
                      BadYaml{"model_parameters:\n  alpha: [1.5, 2.0]\n",
                              "bad.yaml:2: model_parameters.alpha: expects one number, got a list of 2 values"},
                      BadYaml{"model_parameters:\n  rcore: [fast]\n", "model_parameters.rcore: 'fast' is not a number"},
                      BadYaml{"model_parameters:\n  chemistry: [CO, [C]]\n", "list items must be species"},
                      BadYaml{"model_parameters:\n  dens: {a: 1}\n", "model_parameters.dens: expects a list"},
                      BadYaml{"model_parameters:\n  dens: [[30]]\n", "list items must be plain values"},
                      BadYaml{"database:\n  host: [a, b]\n", "database.host: expects a string"},
                      BadYaml{"non_default_parameters:\n  cosrey: 1\n", "unknown parameter (did you mean 'cosray'?)"},
                      BadYaml{"non_default_parameters:\n  xnsur: 1\n", "is computed from the grid"},
                      BadYaml{"non_default_parameters:\n  alpha: 1\n", "belongs in model_parameters"},
                      BadYaml{"non_default_parameters:\n  ihtclgas: 1.5\n", "'1.5' is not an integer"},
                      BadYaml{"model_params:\n  dens: [30]\nmodel_parameters:\n  dens: [40]\n", "set twice"},
                      BadYaml{"- a\n- b\n", "the top level must be a mapping"},
                      BadYaml{"database: sqlite\n", "section 'database' must be a mapping"},
                      BadYaml{"database:\n  type: [unclosed\n", "invalid YAML"},
                      BadYaml{"parameters:\n  dens: [30]\n", "unknown section 'parameters'"}));

TEST(ConfigTest, EnvironmentErrorsNameTheVariable) {
  Config c = defaults();
  Status st = c.apply_environment(env_of({{"PDR_DB_PORT", "33o6"}}));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "environment PDR_DB_PORT: '33o6' is not an integer (database.port)");
}

TEST(ConfigTest, FlagErrorsNameTheFlag) {
  Config c = defaults();
  Status st = c.set_scalar("run.workers", "many", "--workers");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "--workers: 'many' is not an integer");
}

TEST(ConfigTest, MissingFileIsAUsageError) {
  Config c = defaults();
  Status st = c.apply_yaml_file("/nonexistent/x.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/x.yaml"), std::string::npos);
}

TEST(ConfigTest, DescribeMasksSecretsAndNamesOrigins) {
  Config c = defaults();
  ASSERT_TRUE(c.apply_yaml("database:\n  password: s3cret-Pa55\n", "p.yaml").ok());
  const std::string text = c.describe();
  EXPECT_EQ(text.find("s3cret-Pa55"), std::string::npos);
  EXPECT_NE(text.find("password: \"***\"  # p.yaml:2"), std::string::npos) << text;
}

TEST(ConfigTest, ClosestMatchSuggestsOnlyNearWords) {
  EXPECT_EQ(closest_match("pool_sise", {"pool_size", "pool_timeout"}), "pool_size");
  EXPECT_EQ(closest_match("zzzzzz", {"pool_size", "pool_timeout"}), "");
}

// Damage test: a config truncated at every byte gives an error or success, never a crash.
TEST(ConfigDamageTest, TruncatedAtEveryByte) {
  const std::string text = test::read_text(std::string(PDR_SOURCE_DIR) + "/config/sqlite.yaml") +
                           "directories:\n  pdr_out_dirs: [a, \"b\", 'c']\n";
  ASSERT_GT(text.size(), 200u);
  size_t errors = 0;
  for (size_t n = 0; n <= text.size(); ++n) {
    Config c = defaults();
    Status st = c.apply_yaml(text.substr(0, n), "cut.yaml");
    if (!st.ok()) {
      ++errors;
      EXPECT_EQ(st.kind(), ErrorKind::kUsage);
      EXPECT_EQ(st.message().rfind("cut.yaml:", 0), 0u) << st.message();
    }
  }
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace pdr
