// The states of a job row. `pending` and `active` (the predecessor's flags) follow the state so
// old monitoring queries keep working: pending -> (1,0), running -> (0,1), others -> (0,0).
//
// The status column holds the predecessor's words, so the queries people wrote for it keep
// finding what they look for: a failed job is written `exception_runtime` (the word the Python
// pdr_run leaves on a job that failed), and every failure word either tool writes (`failed`,
// `problem`, `ERROR`, `exception`, `exception_setup_outer`, `failed_storage`, ...) reads as
// Failed. to_string gives the state's name ("failed"), the word shown by status and the counts.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pdr {

enum class JobState { Pending, Running, Finished, Failed, Skipped, Cancelled };

// The state's name, for people and count maps: pending, running, finished, failed, ...
const char* to_string(JobState state);
// The word written to the status column for the state.
const char* status_word(JobState state);
// Every status word that reads as the state (the written one first).
const std::vector<std::string>& status_words(JobState state);
// An SQL condition on `column` that holds for the words reading as the state: "column IN
// ('finished')"; for failed, every word no other state has ("column NOT IN ('pending', ...)"), so
// SQL and state_of_word agree on words neither tool is known to write.
std::string status_sql(JobState state, const std::string& column = "status");
// A state name or status word; nullopt for a word neither tool writes.
std::optional<JobState> parse_job_state(const std::string& text);
// The state a status word reads as; a word neither tool writes reads as failed.
JobState state_of_word(const std::string& word);
bool is_terminal(JobState state);

// Where an attempt failed: a step of the job, or what ended it from outside (its lease expired,
// verify found its outputs gone). Recorded with the failure (pdr_model_jobs.error_stage), so
// nothing has to read it back out of the error text.
enum class Stage { None, Setup, Pdr, Onion, Storage, Lease, Verify };

// "setup", "pdr", "onion", "storage", "lease", "verify"; "" for None.
const char* to_string(Stage stage);
// A stage's name; None for "" and for a word no pdr_run writes.
Stage parse_stage(const std::string& text);

}  // namespace pdr
