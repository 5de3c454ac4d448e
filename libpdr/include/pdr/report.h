// `pdr_run report`: one self-contained HTML page (or one JSON document) that shows a model's
// grid: job states and run times over parameter space, progress over time, failures grouped,
// hosts and runs. Built from ReportData (read-only, one transaction) in two steps: summarize
// (plain data, tested on its own), then render.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "pdr/job_reports.h"
#include "pdr/status.h"

namespace pdr {

struct ReportOptions {
  std::string x_axis = "dens", y_axis = "chi";  // the maps' axes; the other two make the panels
  double refresh_seconds = 0;                   // --watch: the page reloads itself this often
};

// "dens,chi" -> the options' axes; a usage error names what is wrong.
Status parse_report_axes(const std::string& text, ReportOptions* options);

// One axis of the maps: its exact values, or equal bins when a grid has too many (random points).
struct ReportAxis {
  std::string name;            // dens, chi, mass, metal
  std::vector<double> values;  // exact: every value, ascending; binned: the bins' lower edges
  bool binned = false;
  double width = 0;  // binned: the bins' width
  size_t index_of(double v) const;
  std::string label(size_t i) const;  // "30", or "30-32.5" for a bin
};

// The job states a cell can hold, in the order of ReportCell::counts.
inline constexpr std::array<const char*, 6> kReportStates = {"pending", "running", "finished",
                                                             "failed",  "skipped", "cancelled"};

struct ReportCell {
  std::array<long long, 6> counts{};  // per kReportStates
  double runtime_sum = 0;             // finished jobs: claim to finish, seconds
  long long runtime_n = 0;
  double predicted_sum = 0;  // finished jobs that had a prediction: the predictions
  long long predicted_n = 0;
  long long failure = -1;  // the failure group of its (first) failed job
  std::string example;     // a job of the cell: a failed one first
  long long jobs() const {
    long long n = 0;
    for (long long c : counts) n += c;
    return n;
  }
  // What the cell shows: failed, else running, pending, cancelled, skipped, finished; "" when empty.
  std::string state() const;
};

struct ReportPanel {
  size_t a = 0, b = 0;            // indexes on the two panel axes
  std::vector<ReportCell> cells;  // x + y * x-values
};

// Failures that share a stage and a cause ("onion", "CO: exit code 3").
struct FailureGroup {
  std::string stage, cause;
  long long count = 0;
  std::vector<std::string> examples;                    // up to 3 job names
  std::map<std::string, std::array<double, 2>> region;  // axis -> [min, max] of its points
};

struct HostRow {
  std::string host;
  long long finished = 0, failed = 0, running = 0;
  double runtime_sum = 0;  // of its finished jobs
  long long runtime_n = 0;
};

struct ReportSummary {
  std::string model, now;  // now: the database's clock, UTC
  long long now_epoch = 0;
  std::map<std::string, long long> counts;    // per state
  ReportAxis x, y, pa, pb;                    // the maps' axes and the panels'
  std::vector<ReportPanel> panels;            // those with jobs, in axis order
  double runtime_min = -1, runtime_max = -1;  // over the cells' mean run times (-1: none)
  // Progress: from the first start to now in buckets of `bucket_seconds`.
  long long series_start = 0, bucket_seconds = 60;
  std::vector<long long> finished_per_bucket;  // jobs finished in each bucket
  std::vector<double> running;                 // jobs running in each bucket, on average over it
  double rate_per_hour = 0;                    // finished per hour, over the last hour (or the whole run)
  double eta_seconds = -1;                     // pending + running at that rate; -1: unknown
  std::vector<FailureGroup> failures;          // most frequent first
  std::vector<HostRow> hosts;                  // by name
  std::vector<RunRecord> runs;
  std::vector<std::array<double, 2>> predicted_vs_actual;  // finished jobs, (predicted, actual) s; at most 2,000
};

ReportSummary summarize_report(const ReportData& data, const ReportOptions& options);
// The page: inline CSS, SVG drawn by inline script from the summary embedded as JSON; it loads
// nothing from anywhere (its Content-Security-Policy forbids it).
std::string report_html(const ReportSummary& summary, const ReportOptions& options);
// The same data as one JSON document, cell by cell, for notebooks.
std::string report_json(const ReportSummary& summary);

}  // namespace pdr
