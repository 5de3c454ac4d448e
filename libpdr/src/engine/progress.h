// What a run shows while it works: a live progress line at the bottom of a terminal (log lines
// scroll above it), or a plain progress log line every run.progress_interval seconds when stderr
// is not a terminal; and a log file per run.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/sink.h>

#include "util/periodic.h"

namespace pdr {

// "done 120/1000 (2 failed) | 8 running | 870 pending | 3.1 jobs/s | ETA 4m40s"
struct ProgressSample {
  std::map<std::string, long long> counts;  // per state, the whole model
  double seconds = 0;                       // since the run started
};
std::string progress_text(const std::string& model, const ProgressSample& now, const ProgressSample* earlier);

class ProgressReporter {
 public:
  // `sample` reads the model's counts; it is called from the reporter's thread.
  ProgressReporter(std::string model, std::function<bool(std::map<std::string, long long>*)> sample,
                   double interval_seconds);
  ~ProgressReporter();  // stops the thread, clears the terminal line, restores the log sinks
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

 private:
  void tick();
  std::string model_;
  std::function<bool(std::map<std::string, long long>*)> sample_;
  double interval_;
  bool tty_;
  std::shared_ptr<spdlog::sinks::sink> line_sink_;
  std::vector<std::shared_ptr<spdlog::sinks::sink>> saved_sinks_;
  std::chrono::steady_clock::time_point start_;
  std::vector<ProgressSample> history_;  // the last minute, for the rate (the ticking thread's)
  std::unique_ptr<Periodic> ticker_;     // last: stopped before the members it uses go
};

// Keeps the lines logged from now on in memory until attach_run_log writes them to the run's
// log file: a run that fails before it starts (bad credentials, say) writes no file.
void hold_run_log_lines();

// Adds <dir>/pdr_run-<model>-<UTC time>-<pid>.log (debug level) to the default logger, after
// the lines held since hold_run_log_lines(), and removes the oldest log files of the model
// beyond the newest `keep` (0: none removed); returns its path, or "" (with a warning) when it
// cannot be created. Call it before any other thread logs.
std::string attach_run_log(const std::string& dir, const std::string& model, int keep);

}  // namespace pdr
