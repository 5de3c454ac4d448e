#include "pdr/job_state.h"

#include <algorithm>

namespace pdr {

const char* to_string(JobState state) {
  switch (state) {
    case JobState::Pending:
      return "pending";
    case JobState::Running:
      return "running";
    case JobState::Finished:
      return "finished";
    case JobState::Failed:
      return "failed";
    case JobState::Skipped:
      return "skipped";
    case JobState::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

const std::vector<std::string>& status_words(JobState state) {
  static const std::vector<std::string> pending{"pending"}, running{"running"}, finished{"finished"},
      skipped{"skipped"}, cancelled{"cancelled"};
  // The predecessor's failure words (its final one for a failed job is exception_runtime), and
  // `failed`, which databases of earlier pdr_run versions hold.
  static const std::vector<std::string> failed{
      "exception_runtime",     "failed",        "problem", "ERROR", "error", "exception",
      "exception_setup_outer", "failed_storage"};
  switch (state) {
    case JobState::Pending:
      return pending;
    case JobState::Running:
      return running;
    case JobState::Finished:
      return finished;
    case JobState::Failed:
      return failed;
    case JobState::Skipped:
      return skipped;
    case JobState::Cancelled:
      return cancelled;
  }
  return failed;
}

const char* status_word(JobState state) { return status_words(state).front().c_str(); }

// Failed is every word but the other states' words. As the gaps between those words (in their
// order, which is the same in every collation: lowercase letters only) rather than NOT IN, an
// index on status answers it: PostgreSQL scans every job of a model for NOT IN.
std::string status_sql(JobState state, const std::string& column) {
  std::vector<std::string> words;
  for (JobState s : {JobState::Pending, JobState::Running, JobState::Finished, JobState::Failed, JobState::Skipped,
                     JobState::Cancelled}) {
    if ((state == JobState::Failed) == (s == state)) continue;
    for (const auto& w : status_words(s)) words.push_back("'" + w + "'");
  }
  if (state != JobState::Failed) {
    std::string list;
    for (const auto& w : words) list += (list.empty() ? "" : ", ") + w;
    return column + " IN (" + list + ")";
  }
  std::sort(words.begin(), words.end());
  std::string gaps = "(" + column + " < " + words.front();
  for (size_t i = 1; i < words.size(); ++i) {
    gaps += " OR (" + column + " > " + words[i - 1] + " AND " + column + " < " + words[i] + ")";
  }
  return gaps + " OR " + column + " > " + words.back() + ")";
}

std::optional<JobState> parse_job_state(const std::string& text) {
  for (JobState s : {JobState::Pending, JobState::Running, JobState::Finished, JobState::Failed, JobState::Skipped,
                     JobState::Cancelled}) {
    if (text == to_string(s)) return s;
    for (const auto& w : status_words(s)) {
      if (text == w) return s;
    }
  }
  return std::nullopt;
}

JobState state_of_word(const std::string& word) { return parse_job_state(word).value_or(JobState::Failed); }

bool is_terminal(JobState state) {
  return state == JobState::Finished || state == JobState::Failed || state == JobState::Skipped ||
         state == JobState::Cancelled;
}

const char* to_string(Stage stage) {
  switch (stage) {
    case Stage::None:
      return "";
    case Stage::Setup:
      return "setup";
    case Stage::Pdr:
      return "pdr";
    case Stage::Onion:
      return "onion";
    case Stage::Storage:
      return "storage";
    case Stage::Lease:
      return "lease";
    case Stage::Verify:
      return "verify";
  }
  return "";
}

Stage parse_stage(const std::string& text) {
  for (Stage s : {Stage::Setup, Stage::Pdr, Stage::Onion, Stage::Storage, Stage::Lease, Stage::Verify}) {
    if (text == to_string(s)) return s;
  }
  return Stage::None;
}

}  // namespace pdr
