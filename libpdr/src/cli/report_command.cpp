// `pdr_run report`: one self-contained HTML page (or JSON document) of a model, read-only;
// --watch rewrites it every S seconds, each time replaced at once.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/exit_code.h"
#include "pdr/job_store.h"
#include "pdr/report.h"
#include "pdr/stop_signal.h"
#include "util/file.h"
#include "util/text.h"

namespace pdr {

namespace fs = std::filesystem;

namespace {

// An empty file, or one a report of pdr_run wrote (HTML or JSON), judged by its first bytes.
bool is_replaceable_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.empty()) return true;
  const bool html = head.rfind("<!DOCTYPE html>", 0) == 0 && head.find("<title>pdr_run report: ") != std::string::npos;
  const bool json = head.rfind("{\"model\":", 0) == 0 && head.find(",\"generated_at\":") != std::string::npos;
  return html || json;
}

}  // namespace

int report_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  // Every flag is checked before the database is opened: a wrong one writes nothing.
  if (!options.model_name) {
    spdlog::error("report needs --model-name NAME (pdr_run status lists the models)");
    return kExitUsage;
  }
  ReportOptions report;
  if (!options.axes.empty()) {
    if (Status st = parse_report_axes(options.axes, &report); !st.ok()) {
      spdlog::error("{}", st.message());
      return kExitUsage;
    }
  }
  if (options.every && !(*options.every >= 1 && *options.every <= 86400)) {
    spdlog::error("--watch {}: expects the seconds between rewrites, from 1 to 86400", *options.every);
    return kExitUsage;
  }
  const std::string path = !options.out_file.empty() ? options.out_file : options.json ? "report.json" : "report.html";
  const bool to_stdout = path == "-";
  if (to_stdout && options.every) {
    spdlog::error("--watch rewrites a file: give it with --out FILE, not -");
    return kExitUsage;
  }
  if (!to_stdout) {
    std::error_code ec;
    const fs::path parent = fs::absolute(fs::path(path), ec).parent_path();
    if (fs::is_directory(fs::path(path), ec)) {
      spdlog::error("--out {}: is a directory; name the file, e.g. --out {}/report.html", path, path);
      return kExitUsage;
    }
    // The report replaces the file by a rename: never a device, pipe or socket (/dev/null would
    // become a regular file); use --out - to write to standard output.
    if (fs::exists(fs::symlink_status(fs::path(path), ec)) &&
        !fs::is_regular_file(fs::symlink_status(fs::path(path), ec))) {
      spdlog::error("--out {}: is not a regular file (the report replaces it); for standard output use --out -", path);
      return kExitUsage;
    }
    // Only a report is replaced: a mistyped --out must never overwrite the job database, the
    // configuration or any other file.
    if (fs::is_regular_file(fs::path(path), ec) && !is_replaceable_report(path)) {
      spdlog::error("--out {}: is not a report of pdr_run; it is left as it is (name a new file, or remove it first)",
                    path);
      return kExitUsage;
    }
    if (!fs::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0) {
      spdlog::error("--out {}: cannot write in {} (no such directory, or no permission)", path, parent.string());
      return kExitUsage;
    }
  }
  if (options.every) report.refresh_seconds = *options.every;

  auto opened = open_existing_store(options, env, "report", /*read_only=*/true);
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitUsage;
  }
  JobStore& store = *opened->store;
  auto model = store.find_model(*options.model_name);
  if (model.ok() && !model.value()) {
    spdlog::error("model '{}' is not in {}", *options.model_name, opened->settings.database.describe());
    return kExitUsage;
  }
  if (!model.ok()) {
    spdlog::error("{}", model.status().message());
    return kExitUsage;
  }

  // One report: read, summarize, render, replace the file.
  auto write_once = [&]() -> int {
    const auto t0 = std::chrono::steady_clock::now();
    auto data = store.report_data(*options.model_name);
    if (!data.ok()) {
      spdlog::error("{}", data.status().message());
      return kExitUsage;
    }
    // A run killed without a word still says it runs: shown as it is seen (silent, gone).
    for (auto& run : data.value().runs) judge_run(run, opened->settings.job_policy());
    const ReportSummary summary = summarize_report(data.value(), report);
    const std::string text = options.json ? report_json(summary) : report_html(summary, report);
    if (to_stdout) {
      out << text << std::flush;
      return kExitAllDone;
    }
    if (Status st = replace_file(path, text); !st.ok()) {
      spdlog::error("{}", st.message());
      return kExitUsage;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    spdlog::info("wrote {} ({} jobs, {} KB, {:.2f} s)", path, data->jobs.size(), (text.size() + 1023) / 1024, seconds);
    return kExitAllDone;
  };
  if (!options.every) return write_once();
  StopSignal stop;
  StopSignal::install_handlers(&stop);
  spdlog::info("rewriting {} every {} s until Ctrl-C", path, *options.every);
  bool written = false;
  while (!stop.requested()) {
    // The first report must work (a wrong setting ends here); later a failure (the database
    // away for a while, a full disk) is tried again at the next interval.
    const int code = write_once();
    if (code != kExitAllDone && !written) return code;
    if (code != kExitAllDone)
      spdlog::warn("the report was not rewritten this time; trying again in {} s", *options.every);
    written = written || code == kExitAllDone;
    pollfd p{stop.fd(), POLLIN, 0};
    poll(&p, 1, static_cast<int>(*options.every * 1000));
  }
  return kExitAllDone;
}

}  // namespace pdr
