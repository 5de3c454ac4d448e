// The heartbeat beside a process's claim loop: renews its leases every run.heartbeat_seconds,
// stops jobs whose lease another process took over, and returns expired jobs of dead owners to
// the queue. Runs on its own thread from construction to destruction.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "pdr/runner.h"

namespace pdr {

class Heartbeat {
 public:
  Heartbeat(JobStore& store, const Owner& owner, const RunOptions& options);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void loop();
  void beat(bool* failing);

  JobStore& store_;
  const Owner& owner_;
  const RunOptions& options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace pdr
