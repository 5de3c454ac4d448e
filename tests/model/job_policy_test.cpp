#include "pdr/job_policy.h"

#include <gtest/gtest.h>

namespace pdr {
namespace {

JobPolicy policy(int max_attempts, double delay) {
  JobPolicy p;
  p.max_attempts = max_attempts;
  p.retry_delay = delay;
  return p;
}

TEST(JobPolicyTest, TheRetryDelayDoublesPerAttemptUpToADay) {
  const JobPolicy p = policy(3, 10);
  EXPECT_EQ(retry_delay_seconds(p, 1), 10);
  EXPECT_EQ(retry_delay_seconds(p, 2), 20);
  EXPECT_EQ(retry_delay_seconds(p, 3), 40);
  EXPECT_EQ(retry_delay_seconds(p, 40), 86400);
  EXPECT_EQ(retry_delay_seconds(policy(3, 0.2), 1), 1) << "rounded up to whole seconds";
}

TEST(JobPolicyTest, AFailureGoesBackToPendingUntilItsAttemptsAreUsed) {
  const JobPolicy p = policy(3, 10);
  const Failure pdr3{Stage::Pdr, "exit code 3"};
  Decision d = decide_failure(p, 1, Failure{}, pdr3, "pdr: exit code 3 (last line: boom)");
  EXPECT_EQ(d.next, JobState::Pending);
  EXPECT_EQ(d.retry_in_seconds, 10);
  EXPECT_EQ(d.error,
            "attempt 1 of 3 failed: pdr: exit code 3 (last line: boom); back to pending, may run again in 10 s");
  d = decide_failure(p, 3, Failure{Stage::Onion, "CO: exit code 3"}, pdr3, "pdr: exit code 3");
  EXPECT_EQ(d.next, JobState::Failed);
  EXPECT_EQ(d.error, "pdr: exit code 3 (attempt 3 of 3)");
}

TEST(JobPolicyTest, FailingTheSameWayTwiceEndsTheJobWhateverTheLastOutput) {
  const Failure pdr3{Stage::Pdr, "exit code 3"};
  const Decision d = decide_failure(policy(5, 10), 2, pdr3, pdr3, "pdr: exit code 3 (last line: b)");
  EXPECT_EQ(d.next, JobState::Failed);
  EXPECT_EQ(d.error, "pdr: exit code 3 (last line: b) (failed the same way twice; not tried again)");
}

TEST(JobPolicyTest, TheSameCauseInAnotherStageOrAnUnknownFailureIsNotTheSameWay) {
  const JobPolicy p = policy(5, 10);
  EXPECT_EQ(decide_failure(p, 2, Failure{Stage::Onion, "exit code 3"}, Failure{Stage::Pdr, "exit code 3"}, "e").next,
            JobState::Pending);
  EXPECT_EQ(decide_failure(p, 2, Failure{Stage::Pdr, "exit code 2"}, Failure{Stage::Pdr, "exit code 3"}, "e").next,
            JobState::Pending);
  // Recorded before stages were (or by the predecessor): unknown, never "the same way".
  EXPECT_EQ(decide_failure(p, 2, Failure{}, Failure{}, "e").next, JobState::Pending);
  EXPECT_EQ(decide_failure(p, 2, Failure{Stage::Pdr, ""}, Failure{Stage::Pdr, ""}, "e").next, JobState::Pending);
}

TEST(JobPolicyTest, StagesReadBackAsWritten) {
  for (Stage s : {Stage::Setup, Stage::Pdr, Stage::Onion, Stage::Storage, Stage::Lease, Stage::Verify}) {
    EXPECT_EQ(parse_stage(to_string(s)), s) << to_string(s);
  }
  EXPECT_EQ(parse_stage(""), Stage::None);
  EXPECT_EQ(parse_stage("onion CO"), Stage::None);
}

TEST(JobPolicyTest, ALostOwnerCostsAnAttemptAndWaitsLikeAFailure) {
  const JobPolicy p = policy(2, 10);
  Decision d = decide_lost_owner(p, 1, "lease expired: owner h pid 7 stopped renewing it");
  EXPECT_EQ(d.next, JobState::Pending);
  EXPECT_EQ(d.retry_in_seconds, 10);
  EXPECT_EQ(d.error, "lease expired: owner h pid 7 stopped renewing it; back to pending");
  d = decide_lost_owner(p, 2, "lease expired: owner h pid 7 stopped renewing it");
  EXPECT_EQ(d.next, JobState::Failed);
  EXPECT_EQ(d.error, "lease expired: owner h pid 7 stopped renewing it (attempt 2 of 2)");
}

}  // namespace
}  // namespace pdr
