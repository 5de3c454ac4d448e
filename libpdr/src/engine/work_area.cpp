#include "pdr/work_area.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "pdr/job.h"
#include "pdr/process.h"
#include "util/file.h"

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

// Whether `name` is exactly <prefix of this host><pid>-<token>: a host name that is a prefix
// of another ("c1" and "c1-1") does not match the other's areas.
bool is_area_of(const std::string& name, const std::string& host_prefix) {
  if (name.rfind(host_prefix, 0) != 0) return false;
  const std::string rest = name.substr(host_prefix.size());
  const auto dash = rest.find('-');
  if (dash == 0 || dash == std::string::npos) return false;
  for (size_t i = 0; i < dash; ++i) {
    if (rest[i] < '0' || rest[i] > '9') return false;
  }
  const std::string token = rest.substr(dash + 1);
  if (token.empty()) return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<WorkArea>> WorkArea::open(const std::string& scratch_dir, const std::string& host, long long pid,
                                                 const std::string& token, int* removed) {
  *removed = 0;
  std::error_code ec;
  fs::create_directories(scratch_dir, ec);
  if (ec) return Status::Io("run.scratch_dir: " + scratch_dir + ": cannot create: " + ec.message());
  const std::string mine = std::string(kPrefix) + host + "-";
  for (const auto& entry : list_directory(scratch_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_area_of(name, mine) || !entry.is_directory(ec)) continue;
    if (!owner_ended(entry.path())) continue;
    // What the dead run's programs started themselves (the parent-death signal reached only
    // the programs) and that still works there ends first: whatever carries an attempt of the
    // dead run (its pid is in the area's name), not a shell someone opened there.
    std::error_code canon;
    const fs::path real = fs::canonical(entry.path(), canon);
    const long long dead_pid = std::atoll(name.c_str() + mine.size());
    if (!canon && dead_pid > 0) {
      end_processes_using(real.string(), [dead_pid](std::string_view e) { return is_attempt_of_run(e, dead_pid); });
    }
    std::error_code rm;
    remove_tree(entry.path(), rm);
    if (!rm) ++*removed;
  }
  // Made and locked under a temporary name, then renamed into place: no other process ever
  // sees this area without its lock held.
  std::string pattern = (fs::path(scratch_dir) / ".pdr_run-work-new-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Io("run.scratch_dir: cannot create a directory in " + scratch_dir + ": " + std::strerror(errno));
  }
  const fs::path fresh = pattern;
  const int fd = ::open((fresh / kLockName).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    if (fd >= 0) close(fd);
    fs::remove_all(fresh, ec);
    return Status::Io("run.scratch_dir: cannot lock " + (fresh / kLockName).string() + ": " + std::strerror(e));
  }
  const fs::path dir = fs::path(scratch_dir) / (mine + std::to_string(pid) + "-" + token);
  if (::rename(fresh.c_str(), dir.c_str()) != 0) {
    const int e = errno;
    close(fd);
    fs::remove_all(fresh, ec);
    return Status::Io("run.scratch_dir: cannot create " + dir.string() + ": " + std::strerror(e));
  }
  return std::unique_ptr<WorkArea>(new WorkArea(dir.string(), fd));
}

std::string WorkArea::take_reusable() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (reusable_.empty()) return {};
  std::string dir = std::move(reusable_.back());
  reusable_.pop_back();
  return dir;
}

void WorkArea::give_back(std::string dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  reusable_.push_back(std::move(dir));
}

WorkArea::~WorkArea() {
  std::error_code ec;
  remove_tree(path_, ec);
  if (lock_fd_ >= 0) close(lock_fd_);
}

}  // namespace pdr
