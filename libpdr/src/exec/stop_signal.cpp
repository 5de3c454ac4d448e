#include "pdr/stop_signal.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

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
  const uint64_t one = 1;
  ssize_t n = write(fd_, &one, sizeof one);
  (void)n;
}

bool StopSignal::requested() const {
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void StopSignal::install_handlers(StopSignal* stop) {
  g_stop = stop;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed terminal or a dropped ssh session: stop like SIGTERM, never die with jobs running.
  // Under nohup (SIGHUP ignored) a closed terminal is meant to change nothing: keep ignoring it.
  struct sigaction hup = {};
  if (sigaction(SIGHUP, nullptr, &hup) != 0 || hup.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace pdr
