// The per-process work area: locked while its process lives, removed by the next process on the
// same host once its owner is gone, never another host's or a live process's.
#include "pdr/work_area.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "support/temp_dir.h"
#include "util/file.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

// What a job wrote into a reused directory goes name by name: a file, a link (never what it
// points to), a tree with a directory its owner may not write.
TEST(WorkAreaTest, RemoveEntryRemovesFilesLinksAndTreesButNotWhatALinkPointsTo) {
  test::TempDir dir;
  fs::create_directories(dir / "kept");
  test::write_text(dir / "kept/file", "keep");
  test::write_text(dir / "file", "x");
  fs::create_directory_symlink(dir / "kept", dir / "link");
  fs::create_directories(dir / "tree/locked/deeper");
  test::write_text(dir / "tree/locked/deeper/f", "x");
  fs::permissions(dir / "tree/locked", fs::perms::owner_read | fs::perms::owner_exec);
  for (const char* name : {"file", "link", "tree", "missing"}) {
    std::error_code ec;
    remove_entry(dir / name, ec);
    EXPECT_FALSE(ec) << name << ": " << ec.message();
    EXPECT_FALSE(fs::exists(fs::symlink_status(dir / name))) << name;
  }
  EXPECT_EQ(test::read_text(dir / "kept/file"), "keep");
}

TEST(WorkAreaTest, RemovesOnlyEndedAreasOfThisHost) {
  test::TempDir dir;
  const std::string scratch = dir / "scratch";
  fs::create_directories(scratch);
  // An ended process of this host (its lock file is not held), a live one (held here), another
  // host whose name starts like this one's, and something that only looks similar.
  for (const char* name : {"pdr_run-work-node1-11-aaaaaaaaaaaa", "pdr_run-work-node1-12-bbbbbbbbbbbb",
                           "pdr_run-work-node1-1-13-cccccccccccc", "pdr_run-work-node1-x-dddddddddddd"}) {
    fs::create_directories(fs::path(scratch) / name / "pdr-job1-XXXX");
    close(::open((fs::path(scratch) / name / ".lock").c_str(), O_CREAT | O_RDWR, 0644));
  }
  const int live = ::open((fs::path(scratch) / "pdr_run-work-node1-12-bbbbbbbbbbbb/.lock").c_str(), O_RDWR);
  ASSERT_EQ(flock(live, LOCK_EX | LOCK_NB), 0);
  int removed = -1;
  auto area = WorkArea::open(scratch, "node1", 99, "0123456789ab", &removed);
  ASSERT_TRUE(area.ok()) << area.status().message();
  EXPECT_EQ(removed, 1);
  EXPECT_FALSE(fs::exists(fs::path(scratch) / "pdr_run-work-node1-11-aaaaaaaaaaaa"));
  EXPECT_TRUE(fs::exists(fs::path(scratch) / "pdr_run-work-node1-12-bbbbbbbbbbbb")) << "a live process's area";
  EXPECT_TRUE(fs::exists(fs::path(scratch) / "pdr_run-work-node1-1-13-cccccccccccc")) << "host node1-1's area";
  EXPECT_TRUE(fs::exists(fs::path(scratch) / "pdr_run-work-node1-x-dddddddddddd"));
  const std::string mine = area.value()->path();
  EXPECT_EQ(fs::path(mine).filename(), "pdr_run-work-node1-99-0123456789ab");
  // A second process of this host leaves the live area alone.
  int removed_again = -1;
  auto other = WorkArea::open(scratch, "node1", 100, "ba9876543210", &removed_again);
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_EQ(removed_again, 0);
  EXPECT_TRUE(fs::exists(mine));
  area.value().reset();
  EXPECT_FALSE(fs::exists(mine)) << "removed when its process ends normally";
  close(live);
}

}  // namespace
}  // namespace pdr
