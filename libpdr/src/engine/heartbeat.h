// The heartbeat beside a process's claim loop: renews its leases every run.heartbeat_seconds,
// stops jobs whose lease another process took over, and returns expired jobs of dead owners to
// the queue. Runs on its own thread from construction to destruction.
#pragma once

#include <memory>

#include "pdr/runner.h"
#include "util/periodic.h"

namespace pdr {

class Heartbeat {
 public:
  Heartbeat(JobStore& store, const Owner& owner, const RunOptions& options);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void beat();

  JobStore& store_;
  const Owner& owner_;
  const RunOptions& options_;
  bool failing_ = false;              // the last beat failed (touched by the beating thread only)
  std::unique_ptr<Periodic> ticker_;  // last: stopped before the members it uses go
};

}  // namespace pdr
