#include "engine/heartbeat.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

namespace pdr {

Heartbeat::Heartbeat(JobStore& store, const Owner& owner, const RunOptions& options)
    : store_(store), owner_(owner), options_(options) {
  if (options_.heartbeat_seconds > 0) {
    ticker_ = std::make_unique<Periodic>(std::chrono::seconds(options_.heartbeat_seconds), [this] { beat(); });
  }
}

Heartbeat::~Heartbeat() = default;

void Heartbeat::beat() {
  const auto before = options_.active != nullptr ? options_.active->snapshot() : std::map<long long, long long>{};
  // Stage starts not yet written go into the histories with the renewal; after a failed beat the
  // next one writes them again (each start is written once), or the job's outcome does.
  const auto starts = options_.active != nullptr ? options_.active->take_stage_starts() : std::vector<StageStart>{};
  auto held = store_.renew_leases(owner_, starts);
  if (!held.ok()) {
    // Jobs keep running through an outage; their outcomes go to the journal.
    if (!failing_) spdlog::warn("could not renew leases (jobs keep running): {}", held.status().message());
    failing_ = true;
    return;
  }
  if (options_.active != nullptr && !starts.empty()) options_.active->stage_starts_written(starts);
  if (failing_) spdlog::info("leases renewed again");
  failing_ = false;
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
