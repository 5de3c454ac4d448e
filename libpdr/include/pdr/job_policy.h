// What happens to a job after a failed attempt or a lost owner: pure decisions, no database.
// The job store applies them inside its transactions; tests exercise them directly.
#pragma once

#include <algorithm>
#include <string>

#include "pdr/job_state.h"

namespace pdr {

// How long a claim lasts without renewal, and what happens to failed attempts.
struct JobPolicy {
  int lease_seconds = 30;
  int max_attempts = 3;        // attempts per job, failures and lost owners together
  double retry_delay = 10;     // seconds before the second attempt, doubling per attempt
  int heartbeat_seconds = 10;  // a running job not renewed for two heartbeats has a dead owner
};

// Seconds of silence after which a run of any host has ended (it renews every heartbeat; one of
// other settings may renew less often): twice the lease and at least two minutes. Until then a
// finish it recorded is not taken back for missing outputs (it may still be renaming them).
inline int silence_of_an_ended_run(const JobPolicy& policy) {
  return policy.lease_seconds > 60 ? 2 * policy.lease_seconds : 120;
}

// Seconds of silence after which a run of this host whose process is gone has ended (it renews
// every heartbeat; a process of another PID namespace under the same host name is not seen, but
// renews): two heartbeats and at least 25 s.
inline long long silent_here(const JobPolicy& policy) {
  return std::max<long long>(2LL * policy.heartbeat_seconds + 2, 25);
}

// The state a job goes to, the error recorded with it, and (when it goes back to pending) how
// long it waits before it may be claimed again.
struct Decision {
  JobState next = JobState::Failed;
  std::string error;
  long long retry_in_seconds = 0;
};

// Seconds a job waits after its `attempts`-th attempt: retry_delay, doubling per attempt, at
// most a day.
long long retry_delay_seconds(const JobPolicy& policy, int attempts);

// What identifies a failure for "failed the same way twice": where it failed and what happened
// there ("exit code 3", "killed by signal 9"), without the program's last output.
struct Failure {
  Stage stage = Stage::None;
  std::string cause;
  // Unknown failures (recorded before stages were, or by the predecessor) match nothing.
  bool same_as(const Failure& other) const {
    return stage != Stage::None && !cause.empty() && stage == other.stage && cause == other.cause;
  }
};

// After the `attempts`-th attempt failed (`now`, told to people as `error`; `last`: the previous
// failed attempt, if any): failed for good when it failed the same way twice or used its
// attempts, else pending again after the retry delay.
Decision decide_failure(const JobPolicy& policy, int attempts, const Failure& last, const Failure& now,
                        const std::string& error);

// After the `attempts`-th attempt's owner stopped renewing its lease (`what` says who): failed
// after the last attempt, else pending again after the retry delay.
Decision decide_lost_owner(const JobPolicy& policy, int attempts, const std::string& what);

}  // namespace pdr
