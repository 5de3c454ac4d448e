#include "engine/heartbeat.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

namespace pdr {

Heartbeat::Heartbeat(JobStore& store, const Owner& owner, const RunOptions& options)
    : store_(store), owner_(owner), options_(options) {
  if (options_.heartbeat_seconds > 0) thread_ = std::thread([this] { loop(); });
}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Heartbeat::loop() {
  bool failing = false;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!cv_.wait_for(lock, std::chrono::seconds(options_.heartbeat_seconds), [this] { return done_; })) {
    lock.unlock();
    beat(&failing);
    lock.lock();
  }
}

void Heartbeat::beat(bool* failing) {
  const auto before = options_.active != nullptr ? options_.active->snapshot() : std::map<long long, long long>{};
  auto held = store_.renew_leases(owner_);
  if (!held.ok()) {
    // Jobs keep running through an outage; their outcomes go to the journal.
    if (!*failing) spdlog::warn("could not renew leases (jobs keep running): {}", held.status().message());
    *failing = true;
    return;
  }
  if (*failing) spdlog::info("leases renewed again");
  *failing = false;
  if (options_.active != nullptr) {
    for (long long id : options_.active->fence(before, held.value())) {
      spdlog::warn(
          "[job {}] lease lost (another process took the job over): stopping its programs; "
          "its outcome will not be recorded",
          id);
    }
  }
  auto reaped = store_.reap_expired();
  if (reaped.ok() && reaped.value() > 0) {
    spdlog::warn("{} running jobs of other processes had expired leases: back to pending", reaped.value());
  }
}

}  // namespace pdr
