// A process-wide "stop now" flag that child-process waits can poll on. SIGINT/SIGTERM/SIGHUP set it
// (async-signal-safe); once set it stays set.
#pragma once

namespace pdr {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  void request();  // async-signal-safe
  bool requested() const;
  int fd() const { return fd_; }  // readable once stop was requested

  // Routes SIGINT, SIGTERM and SIGHUP of this process to `stop` (and ignores SIGPIPE).
  static void install_handlers(StopSignal* stop);

 private:
  int fd_;
};

}  // namespace pdr
