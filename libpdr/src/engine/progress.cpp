#include "engine/progress.h"

#include <algorithm>
#include <cctype>
#include "util/file.h"
#include "util/text.h"

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace pdr {
namespace {

constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S [%l] %v";

// The run's log file. A write that fails (its disk full) is said once on the terminal, in the
// run's own format, and the file is written no more: spdlog's own report was a raw "LOG ERROR"
// line, and the run ended with exit 0 and an empty log it had announced.
class RunLogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit RunLogSink(const std::string& path) : path_(path) { file_.open(path, false); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (broken_) return;
    try {
      spdlog::memory_buf_t formatted;
      formatter_->format(msg, formatted);
      file_.write(formatted);
    } catch (const std::exception& e) {
      give_up(e.what());
    }
  }
  void flush_() override {
    if (broken_) return;
    try {
      file_.flush();
    } catch (const std::exception& e) {
      give_up(e.what());
    }
  }

 private:
  void give_up(const std::string& why) {
    broken_ = true;
    // Not through spdlog: this sink's lock is held, and the logger would come back here.
    // As the console's lines: local time, and on a terminal the progress line cleared first.
    char now[32] = "";
    const std::time_t t = std::time(nullptr);
    std::tm local{};
    if (localtime_r(&t, &local) != nullptr) std::strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", &local);
    std::fprintf(stderr,
                 "%s%s [warning] the log file of this run, %s, cannot be written (%s): it ends here; the "
                 "terminal has the rest\n",
                 isatty(STDERR_FILENO) ? "\r\033[K" : "", now, path_.c_str(), why.c_str());
    std::fflush(stderr);
  }

  std::string path_;
  spdlog::details::file_helper file_;
  bool broken_ = false;
};

// Log lines on a terminal with a progress line kept below them: each line first clears the
// progress line, then redraws it.
class LineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void set_line(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    line_ = line;
    std::fprintf(stderr, "\r\033[K%s", line_.c_str());
    std::fflush(stderr);
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!line_.empty()) std::fprintf(stderr, "\r\033[K");
    line_.clear();
    std::fflush(stderr);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::fprintf(stderr, "\r\033[K%.*s%s", static_cast<int>(buf.size()), buf.data(), line_.c_str());
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::string line_;
};

long long count(const ProgressSample& s, const char* state) {
  auto it = s.counts.find(state);
  return it == s.counts.end() ? 0 : it->second;
}

}  // namespace

std::string progress_text(const std::string& model, const ProgressSample& now, const ProgressSample* earlier) {
  long long total = 0;
  for (const auto& kv : now.counts) total += kv.second;
  const long long done =
      count(now, "finished") + count(now, "skipped") + count(now, "failed") + count(now, "cancelled");
  const long long left = count(now, "pending") + count(now, "running");
  char line[256];
  std::snprintf(line, sizeof line, "[%s] done %lld/%lld (%lld failed) | %lld running | %lld pending", model.c_str(),
                done, total, count(now, "failed"), count(now, "running"), count(now, "pending"));
  std::string out = line;
  if (earlier != nullptr && now.seconds > earlier->seconds) {
    long long before = count(*earlier, "finished") + count(*earlier, "skipped") + count(*earlier, "failed") +
                       count(*earlier, "cancelled");
    const double rate = static_cast<double>(done - before) / (now.seconds - earlier->seconds);
    std::snprintf(line, sizeof line, " | %.2f jobs/s", rate);
    out += line;
    if (rate > 0 && left > 0)
      out += " | ETA " + duration_text(static_cast<long long>(static_cast<double>(left) / rate + 0.5));
  }
  return out;
}

ProgressReporter::ProgressReporter(std::string model, std::function<bool(std::map<std::string, long long>*)> sample,
                                   double interval_seconds)
    : model_(std::move(model)),
      sample_(std::move(sample)),
      interval_(interval_seconds),
      tty_(isatty(STDERR_FILENO) != 0) {
  if (tty_) {
    auto sink = std::make_shared<LineSink>();
    sink->set_pattern(kPattern);
    auto& sinks = spdlog::default_logger()->sinks();
    saved_sinks_ = sinks;
    // The terminal's sink is replaced by the line sink; others (the run's log file) stay.
    std::vector<std::shared_ptr<spdlog::sinks::sink>> next = {sink};
    for (size_t i = 1; i < sinks.size(); ++i) next.push_back(sinks[i]);
    sinks = next;
    line_sink_ = sink;
    interval_ = 1;
  }
  start_ = std::chrono::steady_clock::now();
  if (interval_ > 0) ticker_ = std::make_unique<Periodic>(std::chrono::duration<double>(interval_), [this] { tick(); });
}

ProgressReporter::~ProgressReporter() {
  ticker_.reset();  // no tick runs while the sinks are put back
  if (line_sink_) {
    static_cast<LineSink*>(line_sink_.get())->clear();
    spdlog::default_logger()->sinks() = saved_sinks_;
  }
}

void ProgressReporter::tick() {
  ProgressSample now;
  now.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (!sample_(&now.counts)) return;
  while (!history_.empty() && now.seconds - history_.front().seconds > 60) history_.erase(history_.begin());
  const std::string text = progress_text(model_, now, history_.empty() ? nullptr : &history_.front());
  history_.push_back(now);
  if (line_sink_) {
    static_cast<LineSink*>(line_sink_.get())->set_line(text);
  } else {
    spdlog::info("progress: {}", text);
  }
}

namespace {
constexpr size_t kHeldLines = 10000;
}  // namespace

void hold_run_log_lines() {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(kHeldLines);
  sink->set_pattern(kPattern);
  spdlog::default_logger()->sinks().push_back(sink);
}

namespace {

// Removes the oldest of the model's log files in `dir` beyond the newest `keep`. Their names
// sort by time (UTC stamp first, then pid).
void prune_run_logs(const std::string& dir, const std::string& model, int keep) {
  if (keep <= 0) return;
  const std::string prefix = "pdr_run-" + model + "-";
  std::vector<std::string> logs;
  std::error_code ec;
  for (const auto& e : list_directory(dir, ec)) {
    const std::string name = e.path().filename().string();
    // The model's own: the stamp follows the prefix (another model's name may start with this one's).
    if (name.size() > prefix.size() + 17 && name.compare(0, prefix.size(), prefix) == 0 &&
        std::isdigit(static_cast<unsigned char>(name[prefix.size()])) && name[prefix.size() + 8] == 'T' &&
        name.compare(name.size() - 4, 4, ".log") == 0) {
      logs.push_back(name);
    }
  }
  if (logs.size() <= static_cast<size_t>(keep)) return;
  std::sort(logs.begin(), logs.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < logs.size(); ++i) {
    std::filesystem::remove(std::filesystem::path(dir) / logs[i], ec);
  }
}

}  // namespace

std::string attach_run_log(const std::string& dir, const std::string& model, int keep) {
  auto& sinks = spdlog::default_logger()->sinks();
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> held;
  for (auto it = sinks.begin(); it != sinks.end(); ++it) {
    if (auto r = std::dynamic_pointer_cast<spdlog::sinks::ringbuffer_sink_mt>(*it)) {
      held = r;
      sinks.erase(it);
      break;
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string stamp = utc_time_text(static_cast<long long>(std::time(nullptr)), "%Y%m%dT%H%M%SZ");
  const std::string path = dir + "/pdr_run-" + model + "-" + stamp + "-" + std::to_string(getpid()) + ".log";
  if (held) {
    // The lines logged before the file existed come first.
    std::ofstream early(path, std::ios::app);
    for (const auto& line : held->last_formatted()) early << line;
  }
  try {
    auto sink = std::make_shared<RunLogSink>(path);
    sink->set_pattern(kPattern);
    spdlog::default_logger()->sinks().push_back(sink);
    spdlog::default_logger()->flush_on(spdlog::level::info);
  } catch (const spdlog::spdlog_ex& e) {
    spdlog::warn("no log file for this run: {}", e.what());
    return "";
  }
  prune_run_logs(dir, model, keep);
  return path;
}

}  // namespace pdr
