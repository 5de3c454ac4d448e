// How a job's events are printed (pdr_run history, and status with a failed job).
#pragma once

#include <string>
#include <vector>

#include "pdr/job_reports.h"

namespace pdr {

// One line: time, event, the state it left, attempt and epoch, who, stage, exit code, detail;
// `with_job` starts it with the job's name (a whole model's history).
std::string event_line(const JobEvent& e, bool with_job);
// The events as a JSON array.
std::string json_events(const std::vector<JobEvent>& events);

}  // namespace pdr
