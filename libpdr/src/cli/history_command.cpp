// `pdr_run history`: a job's life in order, from pdr_job_events; --prune deletes old events.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <ostream>
#include <regex>

#include "cli/cli_util.h"
#include "cli/history_text.h"
#include "pdr/cli.h"
#include "pdr/exit_code.h"
#include "pdr/job_store.h"
#include "util/text.h"

namespace pdr {

namespace {

const std::vector<std::string>& event_words() {
  static const std::vector<std::string> words = {"registering", "registered", "claimed",  "started",
                                                 "finished",    "failed",     "retry",    "reaped",
                                                 "released",    "rejected",   "requeued", "replayed"};
  return words;
}

// --since: a duration back from now ("2h", "3d") or a UTC time "YYYY-MM-DD[ HH:MM[:SS]]".
std::optional<std::string> since_time(const std::string& text) {
  if (auto seconds = parse_duration(text)) {
    return utc_time_text(static_cast<long long>(std::time(nullptr)) - *seconds);
  }
  static const std::regex day(R"(\d{4}-\d{2}-\d{2})"), minute(R"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2})"),
      second(R"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})");
  std::string t = text;
  if (t.size() > 10 && t[10] == 'T') t[10] = ' ';
  if (std::regex_match(t, day)) t += " 00:00:00";
  if (std::regex_match(t, minute)) t += ":00";
  if (!std::regex_match(t, second)) return std::nullopt;
  // A time of the calendar: 2026-02-30 or 25:00 is not one (compared as text it would match).
  std::tm tm{};
  if (std::sscanf(t.c_str(), "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  const std::tm want = tm;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t at = timegm(&tm);
  std::tm back{};
  if (at == static_cast<std::time_t>(-1) || gmtime_r(&at, &back) == nullptr || back.tm_year + 1900 != want.tm_year ||
      back.tm_mon + 1 != want.tm_mon || back.tm_mday != want.tm_mday || back.tm_hour != want.tm_hour ||
      back.tm_min != want.tm_min || back.tm_sec != want.tm_sec) {
    return std::nullopt;
  }
  return t;
}

}  // namespace

std::string event_line(const JobEvent& e, bool with_job) {
  std::string line = e.at;
  if (with_job) line += "  " + (e.job_id == 0 ? std::string("(grid)") : e.job_name);
  char head[64];
  std::snprintf(head, sizeof head, "  %-10s %-9s", e.event.c_str(), e.state.c_str());
  line += head;
  if (e.job_id != 0) line += "  attempt " + std::to_string(e.attempt) + " epoch " + std::to_string(e.lease_epoch);
  line += "  by " + e.host + " pid " + std::to_string(e.pid);
  if (!e.token.empty()) line += "  run " + e.token.substr(0, 8);
  if (!e.stage.empty()) line += "  [" + e.stage + "]";
  if (e.exit_code) line += "  exit " + std::to_string(*e.exit_code);
  if (!e.detail.empty()) line += "  " + printable(e.detail);
  return line;
}

std::string json_events(const std::vector<JobEvent>& events) {
  std::string out = "[";
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    out += (i ? ", " : "") + std::string("{\"id\": ") + std::to_string(e.id) +
           ", \"job_id\": " + (e.job_id == 0 ? std::string("null") : std::to_string(e.job_id)) +
           ", \"job_name\": " + (e.job_id == 0 ? std::string("null") : json_quote(e.job_name)) +
           ", \"at\": " + json_quote(e.at) + ", \"event\": " + json_quote(e.event) +
           ", \"state\": " + json_quote(e.state) + ", \"host\": " + json_quote(e.host) +
           ", \"pid\": " + std::to_string(e.pid) + ", \"token\": " + json_quote(e.token) +
           ", \"attempt\": " + std::to_string(e.attempt) + ", \"lease_epoch\": " + std::to_string(e.lease_epoch) +
           ", \"stage\": " + json_quote(e.stage) +
           ", \"exit_code\": " + (e.exit_code ? std::to_string(*e.exit_code) : std::string("null")) +
           ", \"detail\": " + json_quote(e.detail) + "}";
  }
  return out + "]";
}

int history_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  // Every flag is checked before the database is opened: a wrong one writes nothing.
  if (options.prune) {
    if (options.older_than.empty()) {
      spdlog::error("history --prune needs --older-than DURATION, e.g. --older-than 90d");
      return kExitUsage;
    }
    if (!options.job.empty() || !options.since.empty() || !options.reason.empty() || options.json) {
      spdlog::error(
          "history --prune takes only --older-than and --model-name (it prunes the model, or every model, that has "
          "nothing left to run)");
      return kExitUsage;
    }
  } else if (!options.older_than.empty()) {
    spdlog::error("--older-than goes with --prune: pdr_run history --prune --older-than {}", options.older_than);
    return kExitUsage;
  }
  std::optional<long long> older_than;
  if (options.prune) {
    older_than = parse_duration(options.older_than);
    if (!older_than) {
      spdlog::error("--older-than '{}' is not a duration (e.g. 90d, 12h, 30m, 45s)", options.older_than);
      return kExitUsage;
    }
  } else if (!options.model_name) {
    spdlog::error("history needs --model-name NAME (or --prune --older-than DURATION)");
    return kExitUsage;
  }
  HistoryQuery q;
  if (options.model_name) q.model = *options.model_name;
  q.job = options.job;
  if (!options.since.empty()) {
    auto since = since_time(options.since);
    if (!since) {
      spdlog::error("--since '{}' is neither a duration (2h, 3d) nor a UTC time (YYYY-MM-DD[ HH:MM[:SS]])",
                    options.since);
      return kExitUsage;
    }
    q.since = *since;
  }
  if (!options.reason.empty()) {
    const auto& words = event_words();
    if (std::find(words.begin(), words.end(), options.reason) == words.end()) {
      std::string list;
      for (const auto& w : words) list += (list.empty() ? "" : ", ") + w;
      spdlog::error("--reason '{}' is not an event; events: {}", options.reason, list);
      return kExitUsage;
    }
    q.event = options.reason;
  }

  auto opened = open_existing_store(options, env, "history", /*read_only=*/!options.prune);
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitUsage;
  }
  JobStore& store = *opened->store;
  if (options.prune) {
    auto n = store.prune_history(*older_than, q.model);
    if (!n.ok()) {
      spdlog::error("{}", n.status().message());
      return kExitUsage;
    }
    out << "deleted " << count_text(n.value(), "event") << " older than " << duration_text(*older_than)
        << (q.model.empty() ? std::string(" of models with nothing pending or running")
                            : " of model " + q.model + " (its history is kept while it has jobs pending or running)")
        << "\n";
    return kExitAllDone;
  }
  auto model = store.find_model(q.model);
  if (model.ok() && !model.value()) {
    spdlog::error("model '{}' is not in {}", q.model, opened->settings.database.describe());
    return kExitUsage;
  }
  auto events = model.ok() ? store.job_history(q) : Result<std::vector<JobEvent>>(model.status());
  if (!events.ok()) {
    spdlog::error("{}", events.status().message());
    return kExitUsage;
  }
  if (options.json) {
    out << json_events(events.value()) << "\n";
    return kExitAllDone;
  }
  if (events->empty()) {
    out << "model " << q.model << ": no events" << (q.job.empty() ? "" : " of job " + q.job)
        << (q.since.empty() && q.event.empty() ? "" : " that match") << "\n";
    return kExitAllDone;
  }
  const bool one_job = !q.job.empty();
  if (one_job) out << "job " << events->front().job_name << " of model " << q.model << " (times UTC):\n";
  if (!one_job) out << "model " << q.model << " (times UTC):\n";
  for (const auto& e : events.value()) out << "  " << event_line(e, !one_job) << "\n";
  return kExitAllDone;
}

}  // namespace pdr
