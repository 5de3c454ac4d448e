#include "util/periodic.h"

namespace pdr {

Periodic::Periodic(std::chrono::duration<double> interval, std::function<void()> tick) {
  thread_ = std::thread([this, interval, tick = std::move(tick)] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, interval, [this] { return done_; })) {
      lock.unlock();
      tick();
      lock.lock();
    }
  });
}

void Periodic::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace pdr
