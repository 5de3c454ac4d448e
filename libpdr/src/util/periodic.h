// A thread that calls `tick` every `interval` from construction until stop() or destruction,
// which wait for a running tick to end. The tick runs with no lock held; the first one comes
// after one interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace pdr {

class Periodic {
 public:
  Periodic(std::chrono::duration<double> interval, std::function<void()> tick);
  ~Periodic() { stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;
  void stop();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace pdr
