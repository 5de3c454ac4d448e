#include "pdr/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "util/text.h"

namespace pdr {
namespace {

constexpr const char* kSuffix = ".journal";

// Tabs, newlines, CR and '%' as %XX: one entry is one line of tab-separated fields.
std::string escape(const std::string& v) { return percent_escape(v, "\t\n\r"); }

bool unescape(const std::string& v, std::string* out) {
  out->clear();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      *out += v[i];
      continue;
    }
    if (i + 2 >= v.size()) return false;
    const std::string hex = v.substr(i + 1, 2);
    char* end = nullptr;
    const long c = std::strtol(hex.c_str(), &end, 16);
    if (hex.size() != 2 || end != hex.c_str() + 2) return false;
    *out += static_cast<char>(c);
    i += 2;
  }
  return true;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  size_t start = 0;
  for (;;) {
    const auto tab = line.find('\t', start);
    f.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return f;
}

Status write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(ErrorKind::kPermanent, std::string("journal write failed: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Replays the lines of an open, locked journal into `report`; returns how many lines were
// handled before a database error (all of them on success).
Status replay_lines(const std::string& path, JobStore& store, const SettleOutputs& settle, size_t* handled,
                    ReplayReport& report) {
  std::ifstream in(path);
  std::string line;
  *handled = 0;
  while (std::getline(in, line)) {
    // An entry is whole only with its newline, written last: a line cut anywhere before it (the
    // process died mid-write) may still split into the right number of fields, with a shorter
    // last one. It carries nothing that was fsync'd.
    const bool torn = in.eof();
    if (line.empty() || torn) {
      ++*handled;
      continue;
    }
    auto outcome = decode_journal_entry(line);
    if (!outcome.ok()) {
      // Whole (it has its newline) but not an entry this version reads: said, not dropped in
      // silence; its job runs again once its lease expires.
      spdlog::warn("journal {}: entry {} cannot be read and is dropped ({})", path, *handled + 1,
                   outcome.status().message());
      ++*handled;
      continue;
    }
    outcome->replayed_from = "the journal " + path;
    auto recorded = store.record_outcome(outcome.value());
    if (!recorded.ok()) {
      const ErrorKind kind = recorded.status().kind();
      // Not refused: the database did not answer, or a signal ended the wait for it. The entry
      // and those after it stay in the journal for the next replay.
      if (kind == ErrorKind::kTransient || kind == ErrorKind::kOutcomeUnknown || kind == ErrorKind::kInterrupted) {
        return recorded.status();
      }
      // A write the database refuses for good must not block the entries after it (nor every
      // later replay): it is dropped, like an outcome that is no longer current.
      spdlog::warn("journal {}: job {}'s outcome was refused and is dropped: {}", path, outcome->job_id,
                   recorded.status().message());
      ++*handled;
      ++report.rejected;
      if (settle) (void)settle(outcome.value(), false);
      continue;
    }
    ++*handled;
    const Settled kept = settle ? settle(outcome.value(), recorded->applied) : Settled();
    if (!recorded->applied) {
      ++report.rejected;
    } else if (!kept.status.ok()) {
      report.count_unkept(kept);
    } else {
      ++report.applied;
    }
  }
  return Status::Ok();
}

// After a replay that stopped at a database error: the file keeps only the lines it did not
// handle, so the next replay does not record (and settle) the same outcomes twice. Returns how
// many entries are left.
Result<size_t> keep_unhandled(int fd, const std::string& path, size_t handled) {
  std::vector<std::string> left;
  {
    std::ifstream in(path);
    size_t i = 0;
    for (std::string line; std::getline(in, line); ++i) {
      if (i >= handled && !line.empty() && !in.eof()) left.push_back(line);  // a torn last line goes
    }
  }
  std::string text;
  for (const auto& line : left) text += line + "\n";
  if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
    return Status::Error(ErrorKind::kPermanent, "cannot rewrite the journal " + path + ": " + std::strerror(errno));
  }
  if (Status st = write_all(fd, text); !st.ok()) return st;
  if (fsync(fd) != 0) {
    return Status::Error(ErrorKind::kPermanent, "journal fsync failed: " + std::string(std::strerror(errno)));
  }
  return left.size();
}

}  // namespace

ReplayReport& ReplayReport::operator+=(const ReplayReport& more) {
  applied += more.applied;
  rejected += more.rejected;
  foreign += more.foreign;
  retried += more.retried;
  failed += more.failed;
  unstored += more.unstored;
  return *this;
}

void ReplayReport::count_unkept(const Settled& kept) {
  if (kept.state == JobState::Failed) {
    ++failed;
  } else if (kept.state == JobState::Finished) {
    ++unstored;
  } else {
    ++retried;
  }
}

// v3: v3, job, epoch, token, state, stage, cause, exit code, retry, error, files, then six fields
// per file. v1 and v2 (written before stages were recorded) hold the expected state, the next
// one and an unused flag where v3 has state, stage and cause; they still replay, with no stage.
std::string encode_journal_entry(const Outcome& o) {
  std::ostringstream out;
  out << "v3\t" << o.job_id << '\t' << o.epoch << '\t' << escape(o.token) << '\t' << to_string(o.state) << '\t'
      << to_string(o.stage) << '\t' << escape(o.cause) << '\t' << (o.exit_code ? std::to_string(*o.exit_code) : "-")
      << '\t' << (o.retry ? 1 : 0) << '\t' << escape(o.error) << '\t' << o.files.size();
  for (const auto& f : o.files) {
    out << '\t' << escape(f.kind) << '\t' << escape(f.path) << '\t' << escape(f.sha256) << '\t' << f.size << '\t'
        << escape(f.mtime) << '\t' << escape(f.staged_path);
  }
  return out.str();
}

Result<Outcome> decode_journal_entry(const std::string& line) {
  const auto f = split_tabs(line);
  auto bad = [&] { return Status::Error(ErrorKind::kPermanent, "unreadable journal entry"); };
  // v1 entries (written before outputs were staged) have five fields per file, v2 and v3 six.
  if (f.size() < 11 || (f[0] != "v1" && f[0] != "v2" && f[0] != "v3")) return bad();
  const bool v3 = f[0] == "v3";
  const size_t per_file = f[0] == "v1" ? 5 : 6;
  Outcome o;
  try {
    o.job_id = std::stoll(f[1]);
    o.epoch = std::stoll(f[2]);
    if (!unescape(f[3], &o.token)) return bad();
    if (v3) {
      auto state = parse_job_state(f[4]);
      if (!state) return bad();
      o.state = *state;
      o.stage = parse_stage(f[5]);
      if (o.stage == Stage::None && !f[5].empty()) return bad();
      if (!unescape(f[6], &o.cause)) return bad();
    } else {
      // Only outcomes of running jobs were ever journaled.
      auto expect = parse_job_state(f[4]), next = parse_job_state(f[5]);
      if (!expect || !next || *expect != JobState::Running) return bad();
      o.state = *next;
    }
    const size_t exit_at = v3 ? 7 : 6;  // then retry; the error is field 9 in every version
    if (f[exit_at] != "-") o.exit_code = std::stoi(f[exit_at]);
    o.retry = f[exit_at + 1] == "1";
    if (!unescape(f[9], &o.error)) return bad();
    const size_t n = std::stoul(f[10]);
    if (n > f.size() || f.size() != 11 + per_file * n) return bad();
    for (size_t i = 0; i < n; ++i) {
      StoredFile file;
      const size_t b = 11 + per_file * i;
      if (!unescape(f[b], &file.kind) || !unescape(f[b + 1], &file.path) || !unescape(f[b + 2], &file.sha256) ||
          !unescape(f[b + 4], &file.mtime) || (per_file == 6 && !unescape(f[b + 5], &file.staged_path))) {
        return bad();
      }
      file.size = std::stoll(f[b + 3]);
      o.files.push_back(std::move(file));
    }
  } catch (const std::exception&) {
    return bad();
  }
  if (o.token.empty() || o.epoch <= 0) return bad();  // never replay an unfenced write
  return o;
}

Journal::Journal(std::string dir, std::string token) : dir_(std::move(dir)), path_(dir_ + "/" + token + kSuffix) {}

Journal::~Journal() {
  if (fd_ < 0) return;
  if (entries_ == 0) unlink(path_.c_str());  // everything recorded: nothing to keep
  close(fd_);
}

Status Journal::append(const Outcome& outcome) {
  if (fd_ < 0) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      return Status::Error(ErrorKind::kPermanent, "cannot open the journal " + path_ + ": " + std::strerror(errno));
    }
    // Held until this process ends: replay_left_journals leaves a live process's journal alone.
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::Error(ErrorKind::kPermanent, "journal " + path_ + " is locked by another process");
    }
  }
  // A write that fails part-way (a full disk) is cut off again, so the next entry starts a line.
  const off_t end = lseek(fd_, 0, SEEK_END);
  if (Status st = write_all(fd_, encode_journal_entry(outcome) + "\n"); !st.ok()) {
    if (end >= 0) (void)!ftruncate(fd_, end);
    return st;
  }
  if (fsync(fd_) != 0) {
    return Status::Error(ErrorKind::kPermanent, "journal fsync failed: " + std::string(std::strerror(errno)));
  }
  ++entries_;
  return Status::Ok();
}

Result<ReplayReport> Journal::replay(JobStore& store, const SettleOutputs& settle, ReplayReport* so_far) {
  if (fd_ < 0 || entries_ == 0) return ReplayReport{};
  size_t handled = 0;
  ReplayReport report;
  const Status st = replay_lines(path_, store, settle, &handled, report);
  if (so_far != nullptr) *so_far += report;
  if (!st.ok()) {
    if (auto left = keep_unhandled(fd_, path_, handled); left.ok()) entries_ = left.value();
    return st;
  }
  // Everything is recorded: start the file afresh (the lock stays with the descriptor).
  if (ftruncate(fd_, 0) != 0) {
    return Status::Error(ErrorKind::kPermanent, "cannot truncate the journal " + path_ + ": " + std::strerror(errno));
  }
  entries_ = 0;
  return report;
}

Result<ReplayReport> replay_left_journals(const std::string& dir, JobStore& store, const SettleOutputs& settle,
                                          ReplayReport* so_far) {
  ReplayReport total;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return total;  // no journal directory: nothing was left
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > std::strlen(kSuffix) &&
        name.compare(name.size() - std::strlen(kSuffix), std::string::npos, kSuffix) == 0) {
      files.push_back(dir + "/" + name);
    }
  }
  closedir(d);
  for (const auto& path : files) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {  // its process is alive and replays it itself
      close(fd);
      continue;
    }
    // <token>.journal: the owner of every entry. Replayed elsewhere, each entry would be turned
    // down as no longer current, and the journal and its staged outputs dropped.
    const std::string name = path.substr(dir.size() + 1);
    auto known = store.knows_owner(name.substr(0, name.size() - std::strlen(kSuffix)));
    if (!known.ok()) {
      close(fd);
      return known.status();
    }
    if (!known.value()) {
      ++total.foreign;
      if (so_far != nullptr) ++so_far->foreign;
      close(fd);
      continue;
    }
    size_t handled = 0;
    ReplayReport report;
    const Status st = replay_lines(path, store, settle, &handled, report);
    total += report;
    if (so_far != nullptr) *so_far += report;
    if (st.ok()) {
      unlink(path.c_str());
    } else {
      (void)keep_unhandled(fd, path, handled);
    }
    close(fd);
    if (!st.ok()) return st;
  }
  return total;
}

Result<ReplayReport> replay_left_journals_within(const std::string& dir, JobStore& store, const SettleOutputs& settle,
                                                 double seconds, const std::function<bool()>& stop) {
  ReplayReport left;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  const auto stopped = [&stop] { return stop && stop(); };
  for (;;) {
    if (stopped()) return Status::Error(ErrorKind::kInterrupted, "interrupted");
    ReplayReport round;
    auto replayed = replay_left_journals(dir, store, settle, &round);
    if (!replayed.ok()) round.foreign = 0;  // counted again by the next round
    left += round;
    if (replayed.ok()) return left;
    const ErrorKind kind = replayed.status().kind();
    if (stopped()) return Status::Error(ErrorKind::kInterrupted, "interrupted");
    if ((kind != ErrorKind::kTransient && kind != ErrorKind::kOutcomeUnknown) ||
        std::chrono::steady_clock::now() + std::chrono::seconds(1) >= give_up) {
      return replayed.status();
    }
    spdlog::warn("journals left in {} could not be replayed yet ({}); trying again", dir, replayed.status().message());
    for (int i = 0; i < 20 && !stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace pdr
