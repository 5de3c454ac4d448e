#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli/cli_util.h"
#include "cli/history_text.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/job_store.h"
#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/stop_signal.h"
#include "util/text.h"

namespace pdr {
namespace {

std::string json_jobs(const std::vector<JobSummary>& jobs) {
  std::string out = "[";
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& j = jobs[i];
    out += (i ? ", " : "") + std::string("{\"name\": ") + json_quote(j.name) + ", \"host\": " + json_quote(j.host) +
           ", \"pid\": " + std::to_string(j.pid) + ", \"time_of_start\": " + json_quote(j.time_of_start) +
           ", \"exit_code\": " + (j.exit_code ? std::to_string(*j.exit_code) : "null") +
           ", \"error\": " + json_quote(j.error) + ", \"stage\": " + json_quote(j.stage) +
           ", \"attempts\": " + std::to_string(j.attempts) + ", \"age_seconds\": " + std::to_string(j.age_seconds) +
           ", \"heartbeat_seconds\": " + std::to_string(j.heartbeat_seconds) +
           ", \"owner_recorded\": " + (j.owned ? "true" : "false") +
           (j.last_events.empty() ? std::string() : ", \"last_events\": " + json_events(j.last_events)) + "}";
  }
  return out + "]";
}

std::string json_runs(const std::vector<RunRecord>& runs) {
  std::string out = "[";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const auto& p = r.pool;
    out += (i ? ", " : "") + std::string("{\"host\": ") + json_quote(r.host) + ", \"pid\": " + std::to_string(r.pid) +
           ", \"workers\": " + std::to_string(r.workers) + ", \"state\": " + json_quote(r.state) +
           ", \"seen_as\": " + json_quote(r.seen_as) + ", \"silent_seconds\": " + std::to_string(r.silent_seconds) +
           ", \"started_at\": " + json_quote(r.started_at) + ", \"updated_at\": " + json_quote(r.updated_at) +
           ", \"pool\": {\"open\": " + std::to_string(p.size) + ", \"in_use\": " + std::to_string(p.in_use) +
           ", \"idle\": " + std::to_string(p.idle) + ", \"created\": " + std::to_string(p.created) +
           ", \"validated\": " + std::to_string(p.validated) + ", \"replaced\": " + std::to_string(p.replaced) +
           ", \"failed\": " + std::to_string(p.failed) + "}}";
  }
  return out + "]";
}

std::string json_report(const StatusReport& r) {
  std::string out =
      "{\"model\": " + json_quote(r.model) + ", \"total\": " + std::to_string(r.total) + ", \"by_status\": {";
  size_t i = 0;
  for (const auto& kv : r.by_status) out += (i++ ? ", " : "") + json_quote(kv.first) + ": " + std::to_string(kv.second);
  out += "}, \"running\": " + json_jobs(r.running) + ", \"failed\": " + json_jobs(r.failed) +
         ", \"runs\": " + json_runs(r.runs) +
         (r.open_registration.empty() ? std::string() : ", \"open_registration\": " + json_quote(r.open_registration)) +
         "}";
  return out;
}

void print_report(std::ostream& out, const StatusReport& r, const CliOptions& options) {
  out << "model " << r.model << ": " << r.total << " jobs\n";
  if (!r.open_registration.empty()) out << "  note: " << r.open_registration << "\n";
  for (const char* s : {"pending", "running", "finished", "failed", "skipped", "cancelled"}) {
    char line[64];
    std::snprintf(line, sizeof line, "  %-10s %8lld\n", s, r.by_status.count(s) ? r.by_status.at(s) : 0LL);
    out << line;
  }
  if (!r.running.empty()) {
    out << "running jobs:\n";
    size_t ownerless = 0;
    for (const auto& j : r.running) {
      if (!j.owned) {
        // The Python pdr_run records no owner, no start and no heartbeat: nothing to show but that.
        ++ownerless;
        out << "  " << j.name << "  no owner recorded (the Python pdr_run's?)  attempt " << j.attempts << "\n";
        continue;
      }
      out << "  " << j.name << "  host " << j.host << "  pid " << j.pid << "  running " << duration_text(j.age_seconds)
          << " (since " << j.time_of_start << " UTC)  last heartbeat " << duration_text(j.heartbeat_seconds)
          << " ago  attempt " << j.attempts << "\n";
    }
    if (ownerless > 0) {
      out << "  note: " << (ownerless == 1 ? "a job" : "jobs") << " with no owner recorded "
          << (ownerless == 1 ? "is" : "are") << " left to the run that marked " << (ownerless == 1 ? "it" : "them")
          << "; if none is alive: " << next_command(options, "retry", r.model) << " --ownerless\n";
    }
  }
  if (!r.runs.empty()) {
    out << "runs (newest first; times UTC):\n";
    for (const auto& run : r.runs) {
      const auto& p = run.pool;
      out << "  " << run.host << " pid " << run.pid << "  " << run.shown << "  " << count_text(run.workers, "worker")
          << "  since " << run.started_at << ", updated " << run.updated_at << "  database pool: " << p.size
          << " open (" << p.in_use << " in use, " << p.idle << " idle), " << p.created << " created, " << p.validated
          << " validated, " << p.replaced << " replaced, " << p.failed << " failed\n";
    }
  }
  if (r.predictions.jobs > 0) {
    const auto& p = r.predictions;
    char line[200];
    std::snprintf(line, sizeof line,
                  "run times: %lld finished jobs had a prediction; actual/predicted median %.2f, within a factor 2 "
                  "for %.0f %%, mean actual %s\n",
                  p.jobs, p.median_ratio, 100 * p.within_factor_two,
                  duration_text(std::llround(p.mean_actual_seconds)).c_str());
    out << line;
  }
  if (!r.failed.empty()) {
    out << "failed jobs:\n";
    for (const auto& j : r.failed) {
      out << "  " << j.name << "  " << (j.stage.empty() ? "" : "[" + j.stage + "]  ")
          << (j.exit_code ? "exit " + std::to_string(*j.exit_code) + "  " : "") << j.error << "\n";
      for (const auto& e : j.last_events) out << "      " << event_line(e, false) << "\n";
    }
  }
}

// One character per cell: the most telling state of its jobs.
char cell_symbol(const std::map<std::string, long long>& c) {
  auto n = [&](const char* s) {
    auto it = c.find(s);
    return it == c.end() ? 0LL : it->second;
  };
  long long total = 0;
  for (const auto& kv : c) total += kv.second;
  if (total == 0) return ' ';
  if (n("failed") > 0) return 'X';
  if (n("running") > 0) return 'R';
  if (n("finished") + n("skipped") == total) return '#';
  if (n("finished") + n("skipped") > 0) return '+';
  if (n("cancelled") == total) return 'c';
  return '.';
}

// A table over the map's rows and columns, each cell the text `cell` gives it.
void print_table(std::ostream& out, const GridMap& g,
                 const std::function<std::string(const std::string&, const std::string&)>& cell) {
  std::map<std::pair<std::string, std::string>, std::string> text;
  size_t label = g.row_axis.size() + 1, width = 1;
  for (const auto& r : g.rows) label = std::max(label, g.row_axis.size() + 1 + r.size());
  for (const auto& c : g.columns) width = std::max(width, c.size());
  for (const auto& r : g.rows) {
    for (const auto& c : g.columns) width = std::max(width, (text[{r, c}] = cell(r, c)).size());
  }
  out << std::string(label, ' ');
  for (const auto& c : g.columns) out << " " << std::string(width - c.size(), ' ') << c;
  out << "\n";
  for (const auto& r : g.rows) {
    const std::string head = g.row_axis + " " + r;
    out << head << std::string(label - head.size(), ' ');
    for (const auto& c : g.columns) {
      const std::string& t = text[{r, c}];
      out << " " << std::string(width - t.size(), ' ') << t;
    }
    out << "\n";
  }
}

// --show runtime: the mean run time of each cell's finished jobs ("-" for none).
void print_runtime_grid(std::ostream& out, const std::string& model, const GridMap& g) {
  out << "model " << model << ": mean run time of finished jobs over " << g.row_axis << " (rows) x " << g.column_axis
      << " (columns); other parameters aggregated\n";
  print_table(out, g, [&](const std::string& r, const std::string& c) {
    auto it = g.runtimes.find({r, c});
    if (it == g.runtimes.end() || it->second.second == 0) return std::string("-");
    return duration_text(std::llround(it->second.first / static_cast<double>(it->second.second)));
  });
}

void print_grid(std::ostream& out, const std::string& model, const GridMap& g) {
  out << "model " << model << ": job states over " << g.row_axis << " (rows) x " << g.column_axis
      << " (columns); other parameters aggregated\n";
  print_table(out, g, [&](const std::string& r, const std::string& c) {
    auto it = g.cells.find({r, c});
    return std::string(1, it == g.cells.end() ? '-' : cell_symbol(it->second));
  });
  out << "legend: # finished  + partly finished  R running  X failed  . pending  c cancelled  - no job\n";
}

std::string json_grid(const std::string& model, const GridMap& g) {
  std::string out =
      "{\"model\": " + json_quote(model) + ", \"rows\": {\"axis\": " + json_quote(g.row_axis) + ", \"values\": [";
  for (size_t i = 0; i < g.rows.size(); ++i) out += (i ? ", " : "") + json_quote(g.rows[i]);
  out += "]}, \"columns\": {\"axis\": " + json_quote(g.column_axis) + ", \"values\": [";
  for (size_t i = 0; i < g.columns.size(); ++i) out += (i ? ", " : "") + json_quote(g.columns[i]);
  out += "]}, \"cells\": [";
  for (size_t i = 0; i < g.rows.size(); ++i) {
    out += i ? ", [" : "[";
    for (size_t k = 0; k < g.columns.size(); ++k) {
      out += k ? ", {" : "{";
      auto it = g.cells.find({g.rows[i], g.columns[k]});
      size_t n = 0;
      if (it != g.cells.end()) {
        for (const auto& kv : it->second)
          out += (n++ ? ", " : "") + json_quote(kv.first) + ": " + std::to_string(kv.second);
      }
      out += "}";
    }
    out += "]";
  }
  return out + "]}";
}

// One JSON document for one model, a JSON array for several.
void print_json(std::ostream& out, const std::vector<std::string>& parts, bool one_model) {
  if (one_model) {
    out << parts.front() << "\n";
    return;
  }
  out << "[";
  for (size_t i = 0; i < parts.size(); ++i) out << (i ? ", " : "") << parts[i];
  out << "]\n";
}

// status --grid A,B: each model's job states over two axes.
int print_grids(const CliOptions& options, JobStore& store, const std::vector<std::string>& models, std::ostream& out) {
  const auto comma = options.grid_axes.find(',');
  const std::string a = options.grid_axes.substr(0, comma);
  const std::string b = comma == std::string::npos ? "" : options.grid_axes.substr(comma + 1);
  std::vector<std::string> parts;
  for (const auto& m : models) {
    auto g = store.grid_map(m, a, b);
    if (!g.ok()) {
      spdlog::error("{}", g.status().message());
      return kExitUsage;
    }
    if (options.json) {
      parts.push_back(json_grid(m, g.value()));
    } else if (options.show == "runtime") {
      print_runtime_grid(out, m, g.value());
    } else {
      print_grid(out, m, g.value());
    }
  }
  if (options.json) print_json(out, parts, options.model_name.has_value());
  return kExitAllDone;
}

// One status answer: the reports (or grid maps) of the requested models.
int print_status(const CliOptions& options, JobStore& store, const Settings& settings, std::ostream& out) {
  const DatabaseSettings& db = settings.database;
  const JobPolicy policy = settings.job_policy();
  std::vector<std::string> models;
  if (options.model_name) {
    models.push_back(*options.model_name);
  } else {
    auto names = store.model_names();
    if (!names.ok()) {
      spdlog::error("{}", names.status().message());
      return kExitUsage;
    }
    models = names.value();
  }
  if (!options.grid_axes.empty()) return print_grids(options, store, models, out);
  std::vector<StatusReport> reports;
  for (const auto& m : models) {
    auto r = store.status_report(m);
    if (!r.ok()) {
      spdlog::error("{}", r.status().message());
      return kExitUsage;
    }
    for (auto& run : r.value().runs) judge_run(run, policy);
    reports.push_back(r.value());
  }
  if (options.json) {
    std::vector<std::string> parts;
    for (const auto& r : reports) parts.push_back(json_report(r));
    print_json(out, parts, options.model_name.has_value());
  } else {
    if (reports.empty()) out << "no models in " << db.describe() << "\n";
    for (const auto& r : reports) print_report(out, r, options);
  }
  return kExitAllDone;
}

}  // namespace

int status_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (!options.show.empty() && options.grid_axes.empty()) {
    spdlog::error("--show goes with --grid: pdr_run status --grid dens,chi --show {}", options.show);
    return kExitUsage;
  }
  if (!options.show.empty() && options.show != "states" && options.show != "runtime") {
    spdlog::error("--show '{}': expects states or runtime", options.show);
    return kExitUsage;
  }
  if (options.show == "runtime" && options.json) {
    spdlog::error("--show runtime prints a table; --json gives the states of each cell");
    return kExitUsage;
  }
  // Only --recount writes (the counters); otherwise status never creates, upgrades or writes.
  auto opened = open_existing_store(options, env, "status", /*read_only=*/!options.recount);
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitUsage;
  }
  JobStore& store = *opened->store;
  const DatabaseSettings& db = opened->settings.database;
  if (options.recount) {
    auto done = store.recount_jobs();
    if (!done.ok()) {
      spdlog::error("{}", done.status().message());
      return kExitUsage;
    }
    if (done.value()) {
      spdlog::info("job counters rewritten from the rows of {}", db.describe());
    } else {
      spdlog::warn("no count triggers in {}: status counts the rows, there are no counters to rewrite", db.describe());
    }
  }
  if (!options.watch) return print_status(options, store, opened->settings, out);
  // --watch: the same answer every interval until SIGINT/SIGTERM (exit 0); on a terminal the
  // screen is redrawn, otherwise the answers follow each other.
  StopSignal stop;
  StopSignal::install_handlers(&stop);
  const bool tty = &out == &std::cout && isatty(STDOUT_FILENO);
  while (!stop.requested()) {
    std::ostringstream frame;
    const int code = print_status(options, store, opened->settings, frame);
    if (code != kExitAllDone) return code;
    if (tty) out << "\033[H\033[2J";
    out << "# " << utc_time_text(static_cast<long long>(std::time(nullptr))) << " UTC, every " << options.interval
        << " s (Ctrl-C ends)\n"
        << frame.str() << std::flush;
    pollfd p{stop.fd(), POLLIN, 0};
    poll(&p, 1, static_cast<int>(options.interval * 1000));
  }
  return kExitAllDone;
}

}  // namespace pdr
