// After a stopped process's late outcomes were refused: `verify` finds every recorded output in
// the store (nothing goes back to pending), and no late attempt left a staged copy beside them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/run_binary.h"

namespace pdr::test {

inline void expect_store_verified(const std::filesystem::path& dir, const std::string& model,
                                  const std::vector<std::string>& env) {
  auto v = run_pdr_run(dir / "a", {"verify", "--config", dir / "cfg.yaml", "--model-name", model}, env);
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_NE(v.out.find("0 jobs back to pending"), std::string::npos) << v.out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "store")) {
    EXPECT_EQ(e.path().filename().string().find(".staged-"), std::string::npos) << e.path();
  }
}

}  // namespace pdr::test
