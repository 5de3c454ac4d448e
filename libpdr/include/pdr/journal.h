// The outage journal: outcomes of jobs that finished while the database was unreachable, kept
// in an append-only file on local disk (one per process, fsync'd per entry, locked while its
// process lives) and replayed when the database answers again. Replay goes through the normal
// conditional write (owner token and lease epoch), so an entry is recorded at most once and an
// entry whose lease was taken over meanwhile is dropped.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pdr/job_store.h"
#include "pdr/status.h"

namespace pdr {

// What became of an outcome's outputs: an error when a recorded finish could not keep them,
// with the state the job was recorded in instead (pending again, failed for good after its last
// attempt, or still finished when even that could not be recorded).
struct Settled {
  Settled(Status s = Status::Ok(), JobState instead = JobState::Pending) : status(std::move(s)), state(instead) {}
  Status status;
  JobState state;
};

// What becomes of an outcome's staged outputs (StoredFile::staged_path) once the outcome was
// written (`applied`) or turned down: promoted to their final names, or discarded.
using SettleOutputs = std::function<Settled(const Outcome& outcome, bool applied)>;

struct ReplayReport {
  long long applied = 0;   // recorded now
  long long rejected = 0;  // the job had moved on (another owner, or already recorded)
  long long foreign = 0;   // journals of processes that worked on another database: left alone
  // Finishes recorded now whose outputs could not take their names (see Settled): recorded as a
  // failed attempt instead, queued again or failed for good, or left recorded finished without
  // their outputs when even that could not be recorded. Not in `applied`.
  long long retried = 0, failed = 0, unstored = 0;
  void count_unkept(const Settled& kept);
  ReplayReport& operator+=(const ReplayReport& more);
};

class Journal {
 public:
  // `dir` is created on the first append; the file is <dir>/<token>.journal.
  Journal(std::string dir, std::string token);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  Status append(const Outcome& outcome);
  size_t size() const { return entries_; }  // entries not yet replayed
  const std::string& path() const { return path_; }
  // Records every entry (and settles its outputs); stops at the first database error and keeps
  // what is left. `so_far`, when given, is added what was handled, also when it stops so.
  Result<ReplayReport> replay(JobStore& store, const SettleOutputs& settle = {}, ReplayReport* so_far = nullptr);

 private:
  std::string dir_, path_;
  int fd_ = -1;
  size_t entries_ = 0;
};

// Replays the journals in `dir` that no live process holds (left by a process that ended
// during an outage) and removes them once every entry is recorded. A journal whose process
// never worked on this database (`store`) is left for the database it belongs to: journals of
// runs on several databases may share a directory.
// `so_far`, when given, is added what was handled, also when a database error stops it.
Result<ReplayReport> replay_left_journals(const std::string& dir, JobStore& store, const SettleOutputs& settle = {},
                                          ReplayReport* so_far = nullptr);

// replay_left_journals, tried again each second while the database does not answer (a
// transient error), starting no round later than `seconds` after the first (a round itself
// waits up to database.retry.deadline); what every round handled is counted once. The error of
// the last round when it gives up; an interrupted one when `stop` says so.
Result<ReplayReport> replay_left_journals_within(const std::string& dir, JobStore& store, const SettleOutputs& settle,
                                                 double seconds, const std::function<bool()>& stop);

// One journal line and back (exposed for tests).
std::string encode_journal_entry(const Outcome& outcome);
Result<Outcome> decode_journal_entry(const std::string& line);

}  // namespace pdr
