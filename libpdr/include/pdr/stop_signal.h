// A process-wide "stop now" flag that child-process waits can poll on. SIGINT/SIGTERM/SIGHUP set it
// (async-signal-safe); once set it stays set.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace pdr {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  void request();  // async-signal-safe
  bool requested() const;
  // When the first stop was asked for (the steady clock); nullopt before.
  std::optional<std::chrono::steady_clock::time_point> requested_at() const;
  int fd() const { return fd_; }  // readable once stop was requested

  // Routes SIGINT, SIGTERM and SIGHUP of this process to `stop` (and ignores SIGPIPE).
  static void install_handlers(StopSignal* stop);

 private:
  int fd_;
  std::atomic<int64_t> requested_ns_{0};  // CLOCK_MONOTONIC of the first request; 0 before
};

}  // namespace pdr
