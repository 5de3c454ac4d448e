#include "pdr/job_state.h"

namespace pdr {

const char* to_string(JobState state) {
  switch (state) {
    case JobState::Pending: return "pending";
    case JobState::Running: return "running";
    case JobState::Finished: return "finished";
    case JobState::Failed: return "failed";
    case JobState::Skipped: return "skipped";
    case JobState::Cancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<JobState> parse_job_state(const std::string& text) {
  for (JobState s : {JobState::Pending, JobState::Running, JobState::Finished, JobState::Failed,
                     JobState::Skipped, JobState::Cancelled}) {
    if (text == to_string(s)) return s;
  }
  return std::nullopt;
}

bool is_terminal(JobState state) {
  return state == JobState::Finished || state == JobState::Failed || state == JobState::Skipped ||
         state == JobState::Cancelled;
}

}  // namespace pdr
