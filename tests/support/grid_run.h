// A fixture for whole grids run by the real pdr_run binary with the mock model on a real SQLite
// file: its config, environment, the mock's trace and SQL counts.
#pragma once

#include <gtest/gtest.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/run_binary.h"
#include "support/temp_dir.h"
#include "support/trace.h"

namespace pdr {

class GridRunTest : public ::testing::Test {
 protected:
  std::vector<std::string> env(const std::string& plan = "") {
    std::vector<std::string> e = {std::string("PDR_BASE_DIR=") + PDR_MOCK_BASE, "PDR_MOCK_TRACE=" + (dir_ / "trace")};
    if (!plan.empty()) e.push_back("PDR_MOCK_PLAN=" + plan);
    return e;
  }
  test::RunResult run(const std::vector<std::string>& args, const std::string& plan = "") {
    std::vector<std::string> all = {"--config", dir_ / "cfg.yaml"};
    all.insert(all.end(), args.begin(), args.end());
    return test::run_pdr_run(dir_.path(), all, env(plan));
  }
  void SetUp() override {
    test::write_text(dir_ / "cfg.yaml",
                     "database:\n  path: jobs.db\nstorage:\n  base_dir: store\nrun:\n  scratch_dir: scratch\n"
                     "  step_timeout: 2\n  retry_delay: 0.2\nmodel_parameters:\n  species: [CO, C+]\n");
  }
  long long sql_count(const std::string& q) {
    soci::session s(*soci::factory_sqlite3(), "db=" + (dir_ / "jobs.db"));
    long long n = -1;
    s << q, soci::into(n);
    return n;
  }
  std::map<std::string, long long> by_status() {
    std::map<std::string, long long> m;
    for (const char* s : {"pending", "running", "finished", "failed", "skipped", "cancelled"}) {
      m[s] = sql_count(std::string("SELECT COUNT(*) FROM pdr_model_jobs WHERE status = '") + s + "'");
    }
    return m;
  }

  test::TempDir dir_;
};

}  // namespace pdr
