// Where one process's jobs get their working directories: <run.scratch_dir>/pdr_run-work-<host>-
// <pid>-<token>/, locked (flock) for as long as the process lives. The lock, not the pid, says
// whether its owner still runs: a directory whose lock can be taken belongs to a process that
// ended (killed, crashed, out of memory) and is removed by the next run on the same host.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pdr/status.h"

namespace pdr {

class WorkArea {
 public:
  // Removes the work areas of ended processes of this host under `scratch_dir` (their count in
  // `*removed`), then creates and locks this process's own.
  static Result<std::unique_ptr<WorkArea>> open(const std::string& scratch_dir, const std::string& host, long long pid,
                                                const std::string& token, int* removed);
  ~WorkArea();  // removes the directory and what is left in it
  WorkArea(const WorkArea&) = delete;
  WorkArea& operator=(const WorkArea&) = delete;

  const std::string& path() const { return path_; }

  // Job directories that a finished job left exactly as a fresh one (its links and empty output
  // directories, see job.cpp), for the next job to run in without making them again. Thread-safe.
  std::string take_reusable();  // "" when there is none
  void give_back(std::string dir);

 private:
  WorkArea(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string path_;
  int lock_fd_ = -1;
  std::mutex mutex_;
  std::vector<std::string> reusable_;
};

}  // namespace pdr
