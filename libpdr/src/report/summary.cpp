// The report's data: jobs gathered into map cells, panels, a progress series, failure groups
// and hosts (report.h). Pure computation on ReportData: no database, no output.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

#include "pdr/report.h"

namespace pdr {

namespace {

constexpr size_t kMaxMapValues = 60;    // per map axis, before values are binned
constexpr size_t kMaxPanelValues = 32;  // per panel axis
constexpr size_t kMaxPanels = 400;      // beyond, the panel axis with more values is binned further
constexpr size_t kMaxBuckets = 240;     // progress series
constexpr size_t kMaxScatter = 2000;    // predicted vs actual points
const char* const kAxes[] = {"dens", "chi", "mass", "metal"};

double value_on(const ReportJob& j, const std::string& axis) {
  if (axis == "dens") return j.dens;
  if (axis == "chi") return j.chi;
  if (axis == "mass") return j.mass;
  return j.metal;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::round(v * 1000) / 1000);
  return buf;
}

ReportAxis make_axis(const std::string& name, const std::vector<ReportJob>& jobs, size_t max_values) {
  ReportAxis axis;
  axis.name = name;
  std::set<double> values;
  for (const auto& j : jobs) values.insert(value_on(j, name));
  if (values.size() <= max_values) {
    axis.values.assign(values.begin(), values.end());
    return axis;
  }
  // Too many distinct values (random points): equal bins over the range.
  const double lo = *values.begin(), hi = *values.rbegin();
  axis.binned = true;
  axis.width = (hi - lo) / static_cast<double>(max_values);
  for (size_t i = 0; i < max_values; ++i) axis.values.push_back(lo + axis.width * static_cast<double>(i));
  return axis;
}

long long epoch_of(const std::string& utc) {
  std::tm tm{};
  if (std::sscanf(utc.c_str(), "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6) {
    return static_cast<long long>(std::time(nullptr));
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<long long>(timegm(&tm));
}

size_t state_index(const std::string& state) {
  for (size_t i = 0; i < kReportStates.size(); ++i) {
    if (state == kReportStates[i]) return i;
  }
  return 0;  // anything else waits like a pending job
}

}  // namespace

Status parse_report_axes(const std::string& text, ReportOptions* options) {
  const auto comma = text.find(',');
  const std::string a = text.substr(0, comma), b = comma == std::string::npos ? "" : text.substr(comma + 1);
  auto known = [](const std::string& s) { return std::find(std::begin(kAxes), std::end(kAxes), s) != std::end(kAxes); };
  if (comma == std::string::npos || !known(a) || !known(b) || a == b) {
    return Status::Usage("--axes: expects two different axes of dens, chi, mass, metal, e.g. dens,chi (got '" + text +
                         "')");
  }
  options->x_axis = a;
  options->y_axis = b;
  return Status::Ok();
}

size_t ReportAxis::index_of(double v) const {
  if (values.empty()) return 0;
  if (binned) {
    const double k = width > 0 ? std::floor((v - values.front()) / width) : 0;
    return static_cast<size_t>(std::clamp(k, 0.0, static_cast<double>(values.size() - 1)));
  }
  auto it = std::lower_bound(values.begin(), values.end(), v - 1e-9);
  return it == values.end() ? values.size() - 1 : static_cast<size_t>(it - values.begin());
}

std::string ReportAxis::label(size_t i) const {
  if (i >= values.size()) return "";
  if (!binned) return number(values[i]);
  return number(values[i]) + "-" + number(values[i] + width);
}

std::string ReportCell::state() const {
  for (size_t i : {size_t{3}, size_t{1}, size_t{0}, size_t{5}, size_t{4}, size_t{2}}) {
    if (counts[i] > 0) return kReportStates[i];
  }
  return "";
}

ReportSummary summarize_report(const ReportData& data, const ReportOptions& options) {
  ReportSummary s;
  s.model = data.model;
  s.now = data.now;
  s.now_epoch = epoch_of(data.now);
  s.runs = data.runs;
  for (const char* state : kReportStates) s.counts[state] = 0;
  std::vector<std::string> panel_axes;
  for (const char* a : kAxes) {
    if (a != options.x_axis && a != options.y_axis) panel_axes.emplace_back(a);
  }
  s.x = make_axis(options.x_axis, data.jobs, kMaxMapValues);
  s.y = make_axis(options.y_axis, data.jobs, kMaxMapValues);
  s.pa = make_axis(panel_axes[0], data.jobs, kMaxPanelValues);
  s.pb = make_axis(panel_axes[1], data.jobs, kMaxPanelValues);
  while (s.pa.values.size() * s.pb.values.size() > kMaxPanels) {
    ReportAxis& wider = s.pa.values.size() >= s.pb.values.size() ? s.pa : s.pb;
    const size_t other = s.pa.values.size() * s.pb.values.size() / wider.values.size();
    wider = make_axis(wider.name, data.jobs, std::max<size_t>(1, kMaxPanels / other));
  }

  const size_t per_panel = s.x.values.size() * s.y.values.size();
  std::map<std::pair<size_t, size_t>, size_t> panel_of;  // (a, b) -> index in s.panels
  std::map<std::pair<std::string, std::string>, size_t> group_of;
  std::map<std::string, HostRow> hosts;
  long long first_start = s.now_epoch;
  struct Span {
    long long start, end;  // end: -1 while running
  };
  std::vector<Span> spans;
  std::vector<long long> finishes;
  // The panels that have jobs, in axis order (a, then b).
  for (const auto& j : data.jobs) {
    ++s.counts[kReportStates[state_index(j.state)]];
    panel_of.emplace(std::make_pair(s.pa.index_of(value_on(j, s.pa.name)), s.pb.index_of(value_on(j, s.pb.name))), 0);
  }
  size_t k = 0;
  for (auto& [key, index] : panel_of) {
    index = k++;
    ReportPanel p;
    p.a = key.first;
    p.b = key.second;
    p.cells.resize(per_panel);
    s.panels.push_back(std::move(p));
  }
  for (const auto& j : data.jobs) {
    const size_t st = state_index(j.state);
    const auto key = std::make_pair(s.pa.index_of(value_on(j, s.pa.name)), s.pb.index_of(value_on(j, s.pb.name)));
    ReportPanel& panel = s.panels[panel_of[key]];
    ReportCell& cell =
        panel.cells[s.x.index_of(value_on(j, s.x.name)) + s.x.values.size() * s.y.index_of(value_on(j, s.y.name))];
    ++cell.counts[st];
    const bool ended = j.started_ago >= 0 && j.finished_ago >= 0 && j.finished_ago <= j.started_ago;
    const double seconds = ended ? static_cast<double>(j.started_ago - j.finished_ago) : -1;
    if (st == 2 && seconds >= 0) {
      cell.runtime_sum += seconds;
      ++cell.runtime_n;
      if (j.predicted > 0) {
        cell.predicted_sum += j.predicted;
        ++cell.predicted_n;
        s.predicted_vs_actual.push_back({j.predicted, seconds});
      }
    }
    if (st == 3) {
      const auto gkey = std::make_pair(j.stage, j.cause.empty() ? j.error : j.cause);
      auto [g, added] = group_of.emplace(gkey, s.failures.size());
      if (added) s.failures.push_back(FailureGroup{gkey.first, gkey.second, 0, {}, {}});
      FailureGroup& group = s.failures[g->second];
      ++group.count;
      if (group.examples.size() < 3) group.examples.push_back(j.name);
      for (const char* a : kAxes) {
        const double v = value_on(j, a);
        auto [r, first] = group.region.emplace(a, std::array<double, 2>{v, v});
        if (!first) {
          r->second[0] = std::min(r->second[0], v);
          r->second[1] = std::max(r->second[1], v);
        }
      }
      if (cell.failure < 0) {
        cell.failure = static_cast<long long>(g->second);
        cell.example = j.name;
      }
    } else if (cell.example.empty()) {
      cell.example = j.name;
    }
    if (!j.host.empty() && (st == 1 || st == 2 || st == 3)) {
      HostRow& h = hosts[j.host];
      h.host = j.host;
      if (st == 1) ++h.running;
      if (st == 2) ++h.finished;
      if (st == 3) ++h.failed;
      if (st == 2 && seconds >= 0) {
        h.runtime_sum += seconds;
        ++h.runtime_n;
      }
    }
    // The timeline: what ran when (the latest attempt of jobs that ran or run).
    if (j.started_ago >= 0 && (st == 1 || ((st == 2 || st == 3) && ended))) {
      const long long start = s.now_epoch - j.started_ago;
      first_start = std::min(first_start, start);
      spans.push_back(Span{start, st == 1 ? -1 : s.now_epoch - j.finished_ago});
      if (st == 2) finishes.push_back(s.now_epoch - j.finished_ago);
    }
  }
  // Failures: the most frequent first (ties: as met).
  std::vector<size_t> order(s.failures.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return s.failures[a].count > s.failures[b].count; });
  std::vector<size_t> rank(order.size());
  std::vector<FailureGroup> sorted;
  for (size_t i = 0; i < order.size(); ++i) {
    rank[order[i]] = i;
    sorted.push_back(std::move(s.failures[order[i]]));
  }
  s.failures = std::move(sorted);
  bool any_runtime = false;
  for (auto& p : s.panels) {
    for (auto& c : p.cells) {
      if (c.failure >= 0) c.failure = static_cast<long long>(rank[static_cast<size_t>(c.failure)]);
      if (c.runtime_n == 0) continue;
      const double mean = c.runtime_sum / static_cast<double>(c.runtime_n);
      s.runtime_min = any_runtime ? std::min(s.runtime_min, mean) : mean;
      s.runtime_max = any_runtime ? std::max(s.runtime_max, mean) : mean;
      any_runtime = true;
    }
  }
  for (auto& [name, h] : hosts) s.hosts.push_back(h);
  // Predicted vs actual: every n-th, at most kMaxScatter.
  if (s.predicted_vs_actual.size() > kMaxScatter) {
    std::vector<std::array<double, 2>> some;
    const double step = static_cast<double>(s.predicted_vs_actual.size()) / kMaxScatter;
    for (size_t i = 0; i < kMaxScatter; ++i) {
      some.push_back(s.predicted_vs_actual[static_cast<size_t>(static_cast<double>(i) * step)]);
    }
    s.predicted_vs_actual = std::move(some);
  }

  // Progress over time, from the first start to now.
  s.series_start = first_start;
  const long long span = std::max<long long>(1, s.now_epoch - first_start);
  static const long long kBuckets[] = {1,    5,    10,       30,       60,        300,   900,
                                       1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400};
  s.bucket_seconds = kBuckets[std::size(kBuckets) - 1];
  for (long long b : kBuckets) {
    if (span / b < static_cast<long long>(kMaxBuckets)) {
      s.bucket_seconds = b;
      break;
    }
  }
  s.series_start = first_start - first_start % s.bucket_seconds;
  const size_t buckets = static_cast<size_t>(
      std::max<long long>(1, (s.now_epoch - s.series_start + s.bucket_seconds - 1) / s.bucket_seconds));
  if (!spans.empty()) {
    s.finished_per_bucket.assign(buckets, 0);
    s.running.assign(buckets, 0);
    for (long long t : finishes) {
      // A finish at now itself belongs to the last bucket, which ends there.
      const long long b =
          std::min<long long>((t - s.series_start) / s.bucket_seconds, static_cast<long long>(buckets) - 1);
      if (b >= 0) ++s.finished_per_bucket[static_cast<size_t>(b)];
    }
    // Jobs running in each bucket, on average over it: each attempt's overlap with the bucket.
    std::vector<double> busy(buckets, 0);
    const long long series_end = s.series_start + static_cast<long long>(buckets) * s.bucket_seconds;
    for (const auto& sp : spans) {
      const long long from = std::max(sp.start, s.series_start);
      const long long to = std::min(sp.end < 0 ? s.now_epoch : sp.end, series_end);
      for (long long b = (from - s.series_start) / s.bucket_seconds; b >= 0 && static_cast<size_t>(b) < buckets; ++b) {
        const long long lo = s.series_start + b * s.bucket_seconds, hi = lo + s.bucket_seconds;
        if (lo >= to) break;
        busy[static_cast<size_t>(b)] += static_cast<double>(std::min(hi, to) - std::max(lo, from));
      }
    }
    // The bucket that holds now is only partly gone.
    for (size_t i = 0; i < buckets; ++i) {
      const long long lo = s.series_start + static_cast<long long>(i) * s.bucket_seconds;
      const long long length = std::max<long long>(1, std::min(s.bucket_seconds, s.now_epoch - lo));
      s.running[i] = busy[i] / static_cast<double>(length);
    }
  }
  // The rate over the last hour (or since the first start, when shorter), and the time left.
  const long long window = std::min<long long>(3600, span);
  long long recent = 0;
  for (long long t : finishes) recent += t >= s.now_epoch - window ? 1 : 0;
  s.rate_per_hour = static_cast<double>(recent) * 3600.0 / static_cast<double>(window);
  const long long left = s.counts["pending"] + s.counts["running"];
  if (left == 0) {
    s.eta_seconds = 0;
  } else if (s.rate_per_hour > 0) {
    s.eta_seconds = static_cast<double>(left) / s.rate_per_hour * 3600.0;
  }
  return s;
}

}  // namespace pdr
