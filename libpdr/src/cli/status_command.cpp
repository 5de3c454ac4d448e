#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ostream>
#include <thread>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "pdr/job_store.h"
#include "pdr/settings.h"

namespace pdr {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string json_jobs(const std::vector<JobSummary>& jobs) {
  std::string out = "[";
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& j = jobs[i];
    out += (i ? ", " : "") + std::string("{\"name\": ") + json_string(j.name) + ", \"host\": " + json_string(j.host) +
           ", \"pid\": " + std::to_string(j.pid) + ", \"time_of_start\": " + json_string(j.time_of_start) +
           ", \"exit_code\": " + (j.exit_code ? std::to_string(*j.exit_code) : "null") +
           ", \"error\": " + json_string(j.error) + "}";
  }
  return out + "]";
}

std::string json_runs(const std::vector<RunRecord>& runs) {
  std::string out = "[";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const auto& p = r.pool;
    out += (i ? ", " : "") + std::string("{\"host\": ") + json_string(r.host) + ", \"pid\": " + std::to_string(r.pid) +
           ", \"workers\": " + std::to_string(r.workers) + ", \"state\": " + json_string(r.state) +
           ", \"started_at\": " + json_string(r.started_at) + ", \"updated_at\": " + json_string(r.updated_at) +
           ", \"pool\": {\"open\": " + std::to_string(p.size) + ", \"in_use\": " + std::to_string(p.in_use) +
           ", \"idle\": " + std::to_string(p.idle) + ", \"created\": " + std::to_string(p.created) +
           ", \"validated\": " + std::to_string(p.validated) + ", \"replaced\": " + std::to_string(p.replaced) +
           ", \"failed\": " + std::to_string(p.failed) + "}}";
  }
  return out + "]";
}

std::string json_report(const StatusReport& r) {
  std::string out = "{\"model\": " + json_string(r.model) + ", \"total\": " + std::to_string(r.total) +
                    ", \"by_status\": {";
  size_t i = 0;
  for (const auto& kv : r.by_status) out += (i++ ? ", " : "") + json_string(kv.first) + ": " + std::to_string(kv.second);
  out += "}, \"running\": " + json_jobs(r.running) + ", \"failed\": " + json_jobs(r.failed) +
         ", \"runs\": " + json_runs(r.runs) + "}";
  return out;
}

void print_report(std::ostream& out, const StatusReport& r) {
  out << "model " << r.model << ": " << r.total << " jobs\n";
  for (const char* s : {"pending", "running", "finished", "failed", "skipped", "cancelled"}) {
    char line[64];
    std::snprintf(line, sizeof line, "  %-10s %8lld\n", s, r.by_status.count(s) ? r.by_status.at(s) : 0LL);
    out << line;
  }
  if (!r.running.empty()) {
    out << "running jobs:\n";
    for (const auto& j : r.running) {
      out << "  " << j.name << "  host " << j.host << "  pid " << j.pid << "  since " << j.time_of_start << " UTC\n";
    }
  }
  if (!r.runs.empty()) {
    out << "runs (newest first; times UTC):\n";
    for (const auto& run : r.runs) {
      const auto& p = run.pool;
      out << "  " << run.host << " pid " << run.pid << "  " << run.state << "  " << run.workers << " workers  since "
          << run.started_at << ", updated " << run.updated_at << "  database pool: " << p.size << " open ("
          << p.in_use << " in use, " << p.idle << " idle), " << p.created << " created, " << p.validated
          << " validated, " << p.replaced << " replaced, " << p.failed << " failed\n";
    }
  }
  if (!r.failed.empty()) {
    out << "failed jobs:\n";
    for (const auto& j : r.failed) {
      out << "  " << j.name << "  " << (j.exit_code ? "exit " + std::to_string(*j.exit_code) + "  " : "") << j.error
          << "\n";
    }
  }
}

}  // namespace

int status_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  auto opened = open_existing_store(options, env, "status");
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitUsage;
  }
  JobStore& store = *opened->store;
  const DatabaseSettings& db = opened->settings.database;
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
  std::vector<StatusReport> reports;
  for (const auto& m : models) {
    auto r = store.status_report(m);
    if (!r.ok()) {
      spdlog::error("{}", r.status().message());
      return kExitUsage;
    }
    reports.push_back(r.value());
  }
  if (options.json) {
    if (options.model_name) {
      out << json_report(reports.front()) << "\n";
    } else {
      out << "[";
      for (size_t i = 0; i < reports.size(); ++i) out << (i ? ", " : "") << json_report(reports[i]);
      out << "]\n";
    }
  } else {
    if (reports.empty()) out << "no models in " << db.path << "\n";
    for (const auto& r : reports) print_report(out, r);
  }
  return kExitAllDone;
}

}  // namespace pdr
