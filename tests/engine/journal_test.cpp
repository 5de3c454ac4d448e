// The outage journal on its own: entries round-trip, a write cut at any byte never replays a
// damaged entry, a replay stopped by the database keeps exactly what it did not record, and a
// live process's journal is left alone.
#include "pdr/journal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "support/null_job_store.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

// Records what the journal replays; can refuse (transiently) from the n-th write on.
class RecordingStore : public test::NullJobStore {
 public:
  Result<RecordedOutcome> record_outcome(const Outcome& o) override {
    if (fail_from >= 0 && static_cast<int>(recorded.size()) >= fail_from) {
      return Status::Error(ErrorKind::kTransient, "database gone");
    }
    if (failures_left > 0 && static_cast<int>(recorded.size()) == fail_at) {
      --failures_left;
      return Status::Error(ErrorKind::kTransient, "database is locked");
    }
    recorded.push_back(encode_journal_entry(o));
    return RecordedOutcome{true, o.state, o.error};
  }

  Result<bool> knows_owner(const std::string& token) override { return strangers.count(token) == 0; }

  std::vector<std::string> recorded;
  int fail_from = -1;
  int fail_at = -1, failures_left = 0;  // the write after `fail_at` recorded ones fails that often
  std::set<std::string> strangers;      // owners that never worked on this database
};

Outcome outcome(long long job, JobState next, int files) {
  Outcome c;
  c.job_id = job;
  c.state = next;
  c.token = "tok" + std::to_string(job);
  c.epoch = job + 1;
  c.exit_code = next == JobState::Finished ? 0 : 3;
  c.retry = next != JobState::Finished;
  c.error = next == JobState::Finished ? "" : "pdr: exit 3\tFATAL: bad input line 12";
  if (next == JobState::Failed) {
    c.stage = Stage::Pdr;
    c.cause = "exit code 3";
  }
  for (int i = 0; i < files; ++i) {
    c.files.push_back(StoredFile{"output_hdf4_file", "/s/m/pdrgrid/pdrstruct" + std::to_string(job) + ".hdf", "ab12cd",
                                 1000 + i, "2026-01-01 00:00:00",
                                 "/s/m/pdrgrid/.pdrstruct" + std::to_string(job) + ".hdf.staged-t-7"});
  }
  return c;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The journal lines of jobs 1..n finished.
std::string finishes(long long n) {
  std::string text;
  for (long long job = 1; job <= n; ++job) text += encode_journal_entry(outcome(job, JobState::Finished, 1)) + "\n";
  return text;
}

void write_all(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(JournalTest, EntriesRoundTripWithAwkwardText) {
  Outcome c;
  c.job_id = 42;
  c.state = JobState::Failed;
  c.stage = Stage::Onion;
  c.cause = "CO: exit code 2\t100%";
  c.token = "tok%1";
  c.epoch = 7;
  c.exit_code = 0;
  c.retry = true;
  c.error = "tab\there\nnewline 100% done\r";
  c.files.push_back(StoredFile{"output_hdf4_file", "/s/m/pdrgrid/pdrstruct_s_x.hdf", "ab12", 1LL << 40,
                               "2026-01-01 00:00:00", "/s/m/pdrgrid/.pdrstruct_s_x.hdf.staged-t-7"});
  c.files.push_back(StoredFile{"pdrchem", "/s/m/a b\tc", "", 0, "", ""});
  const std::string line = encode_journal_entry(c);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = decode_journal_entry(line);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->job_id, 42);
  EXPECT_EQ(back->epoch, 7);
  EXPECT_EQ(back->token, c.token);
  EXPECT_EQ(back->state, JobState::Failed);
  EXPECT_EQ(back->stage, Stage::Onion);
  EXPECT_EQ(back->cause, c.cause);
  EXPECT_EQ(back->exit_code, std::optional<int>(0));
  EXPECT_TRUE(back->retry);
  EXPECT_EQ(back->error, c.error);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].size, 1LL << 40);
  EXPECT_EQ(back->files[1].path, "/s/m/a b\tc");
  EXPECT_EQ(back->files[0].staged_path, c.files[0].staged_path);
  EXPECT_EQ(back->files[1].staged_path, "");
  // A torn line (the process died mid-write) and an unfenced entry are not replayed.
  EXPECT_FALSE(decode_journal_entry(line.substr(0, line.size() / 2)).ok());
  c.epoch = 0;
  EXPECT_FALSE(decode_journal_entry(encode_journal_entry(c)).ok());
}

// Journals written before stages were recorded (v1, v2) still replay after an upgrade: they
// carry the expected and next state where v3 has the state, the stage and the cause.
TEST(JournalTest, EntriesOfEarlierVersionsStillDecode) {
  auto v2 = decode_journal_entry(
      "v2\t7\t3\ttok\trunning\tfailed\t2\t1\t0\tpdr: exit code 2 (last output: x)\t1\toutput_textout_file\t/s/"
      "TEXTOUT7\tab\t12\t2026-01-01 00:00:00\t/s/.TEXTOUT7.staged");
  ASSERT_TRUE(v2.ok()) << v2.status().message();
  EXPECT_EQ(v2->job_id, 7);
  EXPECT_EQ(v2->epoch, 3);
  EXPECT_EQ(v2->state, JobState::Failed);
  EXPECT_EQ(v2->stage, Stage::None) << "unknown: it never counts as the same failure twice";
  EXPECT_EQ(v2->exit_code, std::optional<int>(2));
  EXPECT_TRUE(v2->retry);
  EXPECT_EQ(v2->error, "pdr: exit code 2 (last output: x)");
  ASSERT_EQ(v2->files.size(), 1u);
  EXPECT_EQ(v2->files[0].staged_path, "/s/.TEXTOUT7.staged");
  auto v1 = decode_journal_entry("v1\t8\t1\ttok\trunning\tfinished\t0\t0\t0\t\t1\tpdrchem\t/s/c8\tcd\t5\t");
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  EXPECT_EQ(v1->state, JobState::Finished);
  EXPECT_EQ(v1->files[0].size, 5);
  // Only outcomes of running jobs were ever journaled; a stage no pdr_run writes is damage.
  EXPECT_FALSE(decode_journal_entry("v2\t7\t3\ttok\tfinished\tpending\t-\t0\t0\t\t0").ok());
  EXPECT_FALSE(decode_journal_entry("v3\t7\t3\ttok\tfailed\tcompile\tx\t-\t1\te\t0").ok());
  EXPECT_TRUE(decode_journal_entry("v3\t7\t3\ttok\tfailed\tpdr\tx\t-\t1\te\t0").ok());
}

// The file a process leaves when it dies while appending its last entry: cut at every byte.
// Only the entries whose whole line (newline included) is in the file are recorded, each
// exactly as written, and the file is gone afterwards.
TEST(JournalTest, AWriteCutAtAnyByteNeverReplaysADamagedEntry) {
  test::TempDir dir;
  std::vector<Outcome> changes = {outcome(1, JobState::Finished, 2), outcome(2, JobState::Failed, 0),
                                  outcome(3, JobState::Finished, 1)};
  std::string whole;
  {
    Journal journal((fs::path(dir.path()) / "full").string(), "t");
    for (const auto& c : changes) ASSERT_TRUE(journal.append(c).ok());
    whole = read_all(fs::path(dir.path()) / "full" / "t.journal");
  }
  ASSERT_FALSE(whole.empty());
  const fs::path left = fs::path(dir.path()) / "left";
  fs::create_directories(left);
  for (size_t cut = 0; cut <= whole.size(); ++cut) {
    const std::string prefix = whole.substr(0, cut);
    write_all(left / "dead.journal", prefix);
    RecordingStore store;
    auto report = replay_left_journals(left.string(), store);
    ASSERT_TRUE(report.ok()) << "cut at " << cut;
    const size_t complete = static_cast<size_t>(std::count(prefix.begin(), prefix.end(), '\n'));
    ASSERT_EQ(store.recorded.size(), complete) << "cut at " << cut;
    for (size_t i = 0; i < complete; ++i) EXPECT_EQ(store.recorded[i], encode_journal_entry(changes[i])) << cut;
    EXPECT_EQ(report->applied, static_cast<long long>(complete));
    EXPECT_FALSE(fs::exists(left / "dead.journal")) << "cut at " << cut;
  }
}

// A replay the database stops keeps exactly the entries it did not record, also when the last
// one is torn: the next replay records each once and never turns the torn one into an entry.
TEST(JournalTest, AReplayStoppedByTheDatabaseKeepsOnlyWhatItDidNotRecord) {
  test::TempDir dir;
  std::vector<Outcome> changes = {outcome(1, JobState::Finished, 1), outcome(2, JobState::Finished, 1),
                                  outcome(3, JobState::Failed, 0)};
  std::string text;
  for (const auto& c : changes) text += encode_journal_entry(c) + "\n";
  const std::string torn = encode_journal_entry(outcome(4, JobState::Finished, 1));
  text += torn.substr(0, torn.size() - 3);  // cut inside its staged path
  const fs::path left = fs::path(dir.path()) / "left";
  fs::create_directories(left);
  write_all(left / "dead.journal", text);
  RecordingStore store;
  store.fail_from = 1;
  EXPECT_FALSE(replay_left_journals(left.string(), store).ok());
  ASSERT_EQ(store.recorded.size(), 1u);
  ASSERT_TRUE(fs::exists(left / "dead.journal"));
  store.fail_from = -1;
  auto again = replay_left_journals(left.string(), store);
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_EQ(store.recorded.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(store.recorded[i], encode_journal_entry(changes[i]));
  EXPECT_FALSE(fs::exists(left / "dead.journal"));
}

// Journals of runs on several databases share a directory (the default is under the scratch
// directory): one whose process never worked on this database is neither replayed here (each
// entry would be turned down and the journal removed, its staged outputs discarded) nor touched.
TEST(JournalTest, AJournalOfAnotherDatabaseIsLeftForIt) {
  test::TempDir dir;
  const fs::path left = fs::path(dir.path()) / "left";
  fs::create_directories(left);
  const std::string theirs = encode_journal_entry(outcome(1, JobState::Finished, 1)) + "\n";
  const std::string ours = encode_journal_entry(outcome(2, JobState::Finished, 1)) + "\n";
  write_all(left / "elsewhere.journal", theirs);
  write_all(left / "here.journal", ours);
  RecordingStore store;
  store.strangers = {"elsewhere"};
  std::vector<long long> settled;
  auto report = replay_left_journals(left.string(), store, [&](const Outcome& o, bool) {
    settled.push_back(o.job_id);
    return Status::Ok();
  });
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->applied, 1);
  EXPECT_EQ(report->foreign, 1);
  EXPECT_EQ(store.recorded, std::vector<std::string>{encode_journal_entry(outcome(2, JobState::Finished, 1))});
  EXPECT_EQ(settled, std::vector<long long>{2});
  EXPECT_FALSE(fs::exists(left / "here.journal"));
  EXPECT_EQ(read_all(left / "elsewhere.journal"), theirs);
  // On its own database it is replayed.
  store.strangers.clear();
  auto home = replay_left_journals(left.string(), store);
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(home->applied, 1);
  EXPECT_FALSE(fs::exists(left / "elsewhere.journal"));
}

// A replayed finish whose outputs cannot take their names is counted by the state it was
// recorded in instead (queued again, failed for good, or still finished without its outputs),
// not as recorded.
TEST(JournalTest, AReplayedFinishThatCannotKeepItsOutputsIsCountedByWhatBecameOfIt) {
  test::TempDir dir;
  const fs::path left = fs::path(dir.path()) / "left";
  fs::create_directories(left);
  std::string text = finishes(5) + encode_journal_entry(outcome(6, JobState::Failed, 0)) + "\n";
  write_all(left / "dead.journal", text);
  RecordingStore store;
  auto report = replay_left_journals(left.string(), store, [](const Outcome& o, bool) -> Settled {
    const Status refused = Status::Error(ErrorKind::kPermanent, "Permission denied");
    if (o.job_id == 2) return Settled(refused, JobState::Pending);
    if (o.job_id == 3) return Settled(refused, JobState::Failed);
    if (o.job_id == 4) return Settled(refused, JobState::Finished);
    return Status::Ok();
  });
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(store.recorded.size(), 6u);
  EXPECT_EQ(report->applied, 3);  // jobs 1, 5 and 6
  EXPECT_EQ(report->retried, 1);
  EXPECT_EQ(report->failed, 1);
  EXPECT_EQ(report->unstored, 1);
  EXPECT_EQ(report->rejected, 0);
}

// A run starts by replaying the journals left on its host before it reaps or claims anything:
// a database that stops answering meanwhile is tried again (each entry recorded once, counted
// once), and given up on after the time allowed, the rest of the journal kept.
TEST(JournalTest, ALeftJournalIsTriedAgainWhileTheDatabaseDoesNotAnswer) {
  test::TempDir dir;
  const fs::path left = fs::path(dir.path()) / "left";
  fs::create_directories(left);
  const std::string text = finishes(3);
  write_all(left / "dead.journal", text);
  RecordingStore store;
  store.fail_at = 1;
  store.failures_left = 2;
  auto report = replay_left_journals_within(left.string(), store, {}, 10, {});
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->applied, 3) << "each entry counted once over the rounds";
  EXPECT_EQ(store.recorded.size(), 3u);
  EXPECT_FALSE(fs::exists(left / "dead.journal"));
  // A database that does not come back: given up on, what is left kept.
  write_all(left / "dead.journal", text);
  RecordingStore gone;
  gone.fail_from = 1;
  auto given_up = replay_left_journals_within(left.string(), gone, {}, 1.5, {});
  ASSERT_FALSE(given_up.ok());
  EXPECT_EQ(given_up.status().kind(), ErrorKind::kTransient);
  EXPECT_EQ(gone.recorded.size(), 1u);
  EXPECT_EQ(read_all(left / "dead.journal"), text.substr(text.find('\n') + 1));
  // A stop ends the wait at once.
  int asked = 0;
  auto stopped = replay_left_journals_within(left.string(), gone, {}, 60, [&asked] { return ++asked > 0; });
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().kind(), ErrorKind::kInterrupted);
  EXPECT_EQ(asked, 1);
}

// The journal of a process that is still alive (it holds the lock) is its own to replay.
TEST(JournalTest, ALiveProcesssJournalIsLeftAlone) {
  test::TempDir dir;
  const std::string journals = (fs::path(dir.path()) / "j").string();
  Journal live(journals, "live");
  ASSERT_TRUE(live.append(outcome(1, JobState::Finished, 1)).ok());
  RecordingStore store;
  auto report = replay_left_journals(journals, store);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(store.recorded.empty());
  EXPECT_EQ(live.size(), 1u);
  auto own = live.replay(store);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(store.recorded.size(), 1u);
  EXPECT_EQ(live.size(), 0u);
}

}  // namespace
}  // namespace pdr
