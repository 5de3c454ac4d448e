#include "pdr/stop_signal.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>

namespace pdr {
namespace {
StopSignal* g_stop = nullptr;

void on_signal(int) {
  if (g_stop != nullptr) g_stop->request();
}
}  // namespace

StopSignal::StopSignal() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
StopSignal::~StopSignal() {
  if (g_stop == this) g_stop = nullptr;
  if (fd_ >= 0) close(fd_);
}

void StopSignal::request() {
  // clock_gettime and a lock-free atomic are async-signal-safe; steady_clock reads the same clock.
  static_assert(std::atomic<int64_t>::is_always_lock_free);
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t none = 0;
  requested_ns_.compare_exchange_strong(none, static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec);
  const uint64_t one = 1;
  ssize_t n = write(fd_, &one, sizeof one);
  (void)n;
}

bool StopSignal::requested() const {
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

std::optional<std::chrono::steady_clock::time_point> StopSignal::requested_at() const {
  const int64_t ns = requested_ns_.load();
  if (ns == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

void StopSignal::install_handlers(StopSignal* stop) {
  g_stop = stop;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed terminal or a dropped ssh session: stop like SIGTERM, never die with jobs running.
  // Started with a signal ignored, it stays ignored: under nohup (SIGHUP) a closed terminal is
  // meant to change nothing, and a script's background command (SIGINT, as the shell starts it)
  // is not meant to stop at the terminal's Ctrl-C.
  for (int sig : {SIGINT, SIGHUP}) {
    struct sigaction was = {};
    if (sigaction(sig, nullptr, &was) != 0 || was.sa_handler != SIG_IGN) sigaction(sig, &sa, nullptr);
  }
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace pdr
