#include "pdr/job_policy.h"

#include <algorithm>

namespace pdr {

long long retry_delay_seconds(const JobPolicy& policy, int attempts) {
  double d = policy.retry_delay;
  for (int i = 1; i < attempts && d < 86400; ++i) d *= 2;
  return static_cast<long long>(std::min(d, 86400.0) + 0.999);
}

Decision decide_failure(const JobPolicy& policy, int attempts, const Failure& last, const Failure& now,
                        const std::string& error) {
  const std::string of = std::to_string(attempts) + " of " + std::to_string(policy.max_attempts);
  if (last.same_as(now)) {
    return Decision{JobState::Failed, error + " (failed the same way twice; not tried again)", 0};
  }
  if (attempts >= policy.max_attempts) return Decision{JobState::Failed, error + " (attempt " + of + ")", 0};
  const long long delay = retry_delay_seconds(policy, attempts);
  return Decision{
      JobState::Pending,
      "attempt " + of + " failed: " + error + "; back to pending, may run again in " + std::to_string(delay) + " s",
      delay};
}

Decision decide_lost_owner(const JobPolicy& policy, int attempts, const std::string& what) {
  if (attempts >= policy.max_attempts) {
    return Decision{JobState::Failed,
                    what + " (attempt " + std::to_string(attempts) + " of " + std::to_string(policy.max_attempts) + ")",
                    0};
  }
  // Like a failure, it waits run.retry_delay: a job that takes its host down with it does not
  // go round the nodes at full speed.
  return Decision{JobState::Pending, what + "; back to pending", retry_delay_seconds(policy, attempts)};
}

}  // namespace pdr
