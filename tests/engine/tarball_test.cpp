// MCDRT<job>.tar.gz written in-process: GNU tar reads it back as it reads `tar -czf`'s own.
#include "engine/tarball.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>

#include "pdr/stop_signal.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

// What a shell command printed (stdout), and whether it exited 0.
std::string sh(const std::string& command, bool* ok = nullptr) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (ok != nullptr) *ok = rc == 0;
  return out;
}

TEST(TarballTest, TarListsAndExtractsExactlyWhatTarItselfWouldHaveStored) {
  test::TempDir dir;
  fs::create_directories(dir / "job/Out/sub/deeper");
  test::write_text(dir / "job/Out/mock.out", "MRT mock\n");
  test::write_text(dir / "job/Out/sub/b.dat", std::string(300000, 'x') + "end");
  test::write_text(dir / "job/Out/sub/deeper/empty", "");
  fs::create_symlink("../mock.out", dir / "job/Out/sub/link");
  chmod((dir / "job/Out/mock.out").c_str(), 0640);
  test::write_text(dir / "job/outside", "not in the archive");

  ASSERT_TRUE(write_tar_gz(dir / "job", "Out", dir / "mine.tar.gz").ok());
  bool ok = false;
  sh("cd " + (dir / "job") + " && tar -czf " + (dir / "theirs.tar.gz") + " Out", &ok);
  ASSERT_TRUE(ok);
  auto sorted_listing = [&](const std::string& file) {
    bool listed = false;
    const std::string out = sh("tar -tzvf " + file + " | awk '{print $1, $2, $3, $6, $7, $8}' | sort", &listed);
    EXPECT_TRUE(listed) << file;
    return out;
  };
  // Types, modes, owners, sizes, names and link targets agree (times may differ in seconds).
  const std::string mine = sorted_listing(dir / "mine.tar.gz");
  EXPECT_EQ(mine, sorted_listing(dir / "theirs.tar.gz"));
  EXPECT_NE(mine.find("Out/sub/b.dat"), std::string::npos) << mine;
  EXPECT_NE(mine.find("Out/sub/link -> ../mock.out"), std::string::npos) << mine;
  EXPECT_EQ(mine.find("outside"), std::string::npos) << mine;

  fs::create_directories(dir / "x");
  sh("tar -xzf " + (dir / "mine.tar.gz") + " -C " + (dir / "x"), &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(test::read_text(dir / "x/Out/sub/b.dat"), test::read_text(dir / "job/Out/sub/b.dat"));
  EXPECT_EQ(test::read_text(dir / "x/Out/mock.out"), "MRT mock\n");
  EXPECT_EQ(fs::read_symlink(dir / "x/Out/sub/link"), "../mock.out");
  EXPECT_TRUE(fs::is_directory(dir / "x/Out/sub/deeper"));
}

TEST(TarballTest, AMissingDirectoryOrAnUnwritableTargetIsAnErrorAndLeavesNoFile) {
  test::TempDir dir;
  Status missing = write_tar_gz(dir.path(), "Out", dir / "a.tar.gz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), ENOENT);
  EXPECT_NE(missing.message().find(dir / "Out"), std::string::npos) << missing.message();
  EXPECT_FALSE(fs::exists(dir / "a.tar.gz")) << "no partial archive is left";

  fs::create_directories(dir / "Out");
  Status nowhere = write_tar_gz(dir.path(), "Out", dir / "no/such/dir/a.tar.gz");
  ASSERT_FALSE(nowhere.ok());
  EXPECT_NE(nowhere.message().find("no/such/dir/a.tar.gz"), std::string::npos) << nowhere.message();
}

TEST(TarballTest, ALostLeaseStopsIt) {
  test::TempDir dir;
  fs::create_directories(dir / "Out");
  test::write_text(dir / "Out/a", "a");
  StopSignal cancel;
  cancel.request();
  Status st = write_tar_gz(dir.path(), "Out", dir / "a.tar.gz", &cancel);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ECANCELED);
  EXPECT_FALSE(fs::exists(dir / "a.tar.gz"));
}

}  // namespace
}  // namespace pdr
