// A throwaway one-node Slurm cluster (scripts/slurm.sh) for the tests that submit array jobs.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace pdr::test {

class SlurmCluster {
 public:
  SlurmCluster() {
    const std::string cmd =
        std::string(PDR_SOURCE_DIR) + "/scripts/slurm.sh start " + dir_.path() + " > " + (dir_ / "start.log") + " 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) error_ = "no Slurm cluster: " + read_text(dir_ / "start.log");
  }
  ~SlurmCluster() {
    const std::string cmd = std::string(PDR_SOURCE_DIR) + "/scripts/slurm.sh stop " + dir_.path() + " >/dev/null 2>&1";
    (void)std::system(cmd.c_str());
  }
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;

  bool available() const { return ok_; }
  const std::string& error() const { return error_; }
  std::string conf() const { return dir_ / "slurm.conf"; }
  // Runs a Slurm command line (squeue, scancel...) against this cluster; returns its stdout.
  std::string run(const std::string& command) const {
    const std::string out = dir_ / "cmd.out";
    const std::string cmd = "SLURM_CONF=" + conf() + " " + command + " > " + out + " 2>&1";
    (void)std::system(cmd.c_str());
    return read_text(out);
  }

 private:
  TempDir dir_;
  bool ok_ = false;
  std::string error_;
};

}  // namespace pdr::test

// Fails in CI (a missing cluster is a failure there) and skips elsewhere.
#define PDR_REQUIRE_SLURM(cluster)                                   \
  do {                                                               \
    if (!(cluster).available()) {                                    \
      if (std::getenv("CI") != nullptr) FAIL() << (cluster).error(); \
      GTEST_SKIP() << (cluster).error();                             \
    }                                                                \
  } while (0)
