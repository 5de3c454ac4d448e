#include "pdr/work_area.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;

namespace pdr {
namespace {

constexpr const char* kPrefix = "pdr_run-work-";
constexpr const char* kLockName = ".lock";

// Whether the directory's owner has ended: its lock file can be locked (or is missing).
bool owner_ended(const fs::path& dir) {
  const int fd = ::open((dir / kLockName).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);  // releases the lock again
  return free;
}

}  // namespace

Result<std::unique_ptr<WorkArea>> WorkArea::open(const std::string& scratch_dir, const std::string& host,
                                                 long long pid, const std::string& token, int* removed) {
  *removed = 0;
  std::error_code ec;
  fs::create_directories(scratch_dir, ec);
  if (ec) return Status::Io("run.scratch_dir: " + scratch_dir + ": cannot create: " + ec.message());
  const std::string mine = std::string(kPrefix) + host + "-";
  for (const auto& entry : fs::directory_iterator(scratch_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(mine, 0) != 0 || !entry.is_directory(ec)) continue;
    if (!owner_ended(entry.path())) continue;
    std::error_code rm;
    fs::remove_all(entry.path(), rm);
    if (!rm) ++*removed;
  }
  const fs::path dir = fs::path(scratch_dir) / (mine + std::to_string(pid) + "-" + token);
  fs::create_directory(dir, ec);
  if (ec) return Status::Io("run.scratch_dir: " + dir.string() + ": cannot create: " + ec.message());
  const int fd = ::open((dir / kLockName).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io("run.scratch_dir: " + (dir / kLockName).string() + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    close(fd);
    return Status::Io("run.scratch_dir: cannot lock " + (dir / kLockName).string() + ": " + std::strerror(e));
  }
  return std::unique_ptr<WorkArea>(new WorkArea(dir.string(), fd));
}

WorkArea::~WorkArea() {
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (lock_fd_ >= 0) close(lock_fd_);
}

}  // namespace pdr
