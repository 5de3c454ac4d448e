// The states of a job row. `pending` and `active` (the predecessor's flags) follow the state so
// old monitoring queries keep working: pending -> (1,0), running -> (0,1), others -> (0,0).
#pragma once

#include <optional>
#include <string>

namespace pdr {

enum class JobState { Pending, Running, Finished, Failed, Skipped, Cancelled };

const char* to_string(JobState state);
std::optional<JobState> parse_job_state(const std::string& text);
bool is_terminal(JobState state);

}  // namespace pdr
