// The report's two forms: the HTML page (inline CSS and script, the summary embedded compactly)
// and the JSON document (cell by cell, for notebooks).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "pdr/report.h"
#include "util/text.h"

namespace pdr {

// page.css and page.js, embedded at configure time (report_assets.cpp.in).
extern const char* const kReportCss;
extern const char* const kReportJs;

namespace {

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string num(long long v) { return std::to_string(v); }
std::string num(int v) { return std::to_string(v); }

template <class T, class F>
std::string array(const std::vector<T>& items, F each) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + each(items[i]);
  return out + "]";
}

std::string axis_json(const ReportAxis& a) {
  std::vector<size_t> idx(a.values.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return "{\"name\":" + json_quote(a.name) + ",\"binned\":" + (a.binned ? "true" : "false") +
         ",\"labels\":" + array(idx, [&](size_t i) { return json_quote(a.label(i)); }) +
         ",\"values\":" + array(a.values, [](double v) { return num(v); }) + "}";
}

std::string failures_json(const ReportSummary& s) {
  return array(s.failures, [](const FailureGroup& g) {
    std::string region = "{";
    for (const auto& [axis, r] : g.region) {
      region += (region.size() > 1 ? "," : "") + json_quote(axis) + ":[" + num(r[0]) + "," + num(r[1]) + "]";
    }
    return "{\"stage\":" + json_quote(g.stage) + ",\"cause\":" + json_quote(g.cause) + ",\"count\":" + num(g.count) +
           ",\"examples\":" + array(g.examples, [](const std::string& e) { return json_quote(e); }) +
           ",\"region\":" + region + "}}";
  });
}

std::string hosts_json(const ReportSummary& s) {
  return array(s.hosts, [](const HostRow& h) {
    return "{\"host\":" + json_quote(h.host) + ",\"finished\":" + num(h.finished) + ",\"failed\":" + num(h.failed) +
           ",\"running\":" + num(h.running) + ",\"timed\":" + num(h.runtime_n) + ",\"mean_runtime\":" +
           (h.runtime_n > 0 ? num(h.runtime_sum / static_cast<double>(h.runtime_n)) : std::string("null")) + "}";
  });
}

std::string runs_json(const ReportSummary& s) {
  return array(s.runs, [](const RunRecord& r) {
    return "{\"host\":" + json_quote(r.host) + ",\"pid\":" + num(r.pid) + ",\"workers\":" + num(r.workers) +
           ",\"state\":" + json_quote(r.state) + ",\"seen_as\":" + json_quote(r.seen_as) +
           ",\"shown\":" + json_quote(r.shown) + ",\"silent_seconds\":" + num(r.silent_seconds) +
           ",\"started_at\":" + json_quote(r.started_at) + ",\"updated_at\":" + json_quote(r.updated_at) +
           ",\"pool\":{\"open\":" + num(r.pool.size) + ",\"in_use\":" + num(r.pool.in_use) +
           ",\"idle\":" + num(r.pool.idle) + ",\"created\":" + num(r.pool.created) +
           ",\"validated\":" + num(r.pool.validated) + ",\"replaced\":" + num(r.pool.replaced) +
           ",\"failed\":" + num(r.pool.failed) + "}}";
  });
}

std::string counts_json(const ReportSummary& s) {
  std::string out = "{";
  for (const char* state : kReportStates) {
    auto it = s.counts.find(state);
    out += (out.size() > 1 ? "," : "") + json_quote(state) + ":" + num(it == s.counts.end() ? 0LL : it->second);
  }
  return out + "}";
}

std::string series_json(const ReportSummary& s) {
  return "{\"start\":" + json_quote(utc_time_text(s.series_start)) + ",\"start_epoch\":" + num(s.series_start) +
         ",\"bucket_seconds\":" + num(s.bucket_seconds) +
         ",\"finished\":" + array(s.finished_per_bucket, [](long long v) { return num(v); }) +
         ",\"running\":" + array(s.running, [](double v) { return num(std::round(v * 100) / 100); }) +
         ",\"rate_per_hour\":" + num(s.rate_per_hour) +
         ",\"eta_seconds\":" + (s.eta_seconds < 0 ? std::string("null") : num(s.eta_seconds)) + "}";
}

// A run time in two characters: 100 ln(seconds) + 700 in base 64 (1 % steps from 1 ms to
// beyond a year); ".." for none.
constexpr const char* kCode64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void append_code(std::string* out, double seconds) {
  if (seconds < 0) {
    *out += "..";
    return;
  }
  const long v = std::lround(std::clamp(100 * std::log(std::max(seconds, 0.001)) + 700, 0.0, 4095.0));
  *out += kCode64[v / 64];
  *out += kCode64[v % 64];
}

std::string panels_compact(const ReportSummary& s) {
  return array(s.panels, [](const ReportPanel& p) {
    std::string states, runtimes, predicted, failures = "{", multi = "{", names = "{";
    bool any_predicted = false;
    for (size_t i = 0; i < p.cells.size(); ++i) {
      const ReportCell& c = p.cells[i];
      const std::string st = c.state();
      states += st.empty() ? '.' : st == "failed" ? 'x' : st[0];
      append_code(&runtimes, c.runtime_n > 0 ? c.runtime_sum / static_cast<double>(c.runtime_n) : -1);
      append_code(&predicted, c.predicted_n > 0 ? c.predicted_sum / static_cast<double>(c.predicted_n) : -1);
      any_predicted = any_predicted || c.predicted_n > 0;
      const std::string key = "\"" + std::to_string(i) + "\":";
      if (c.failure >= 0) {
        failures += (failures.size() > 1 ? "," : "") + key + num(c.failure);
        names += (names.size() > 1 ? "," : "") + key + json_quote(c.example);
      }
      if (c.jobs() > 1) {
        multi += (multi.size() > 1 ? "," : "") + key + "[";
        for (size_t k = 0; k < c.counts.size(); ++k) multi += (k ? "," : "") + num(c.counts[k]);
        multi += "]";
      }
    }
    return "{\"a\":" + std::to_string(p.a) + ",\"b\":" + std::to_string(p.b) + ",\"s\":" + json_quote(states) +
           ",\"rt\":" + json_quote(runtimes) + ",\"pr\":" + json_quote(any_predicted ? predicted : "") +
           ",\"f\":" + failures + "},\"m\":" + multi + "},\"n\":" + names + "}}";
  });
}

// JSON inside <script>: no "</script>" or "<!--" can end it early.
std::string script_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string report_json(const ReportSummary& s) {
  std::string cells = "[";
  bool first = true;
  for (const auto& p : s.panels) {
    for (size_t i = 0; i < p.cells.size(); ++i) {
      const ReportCell& c = p.cells[i];
      if (c.jobs() == 0) continue;
      const size_t xi = i % s.x.values.size(), yi = i / s.x.values.size();
      std::string states;
      for (size_t k = 0; k < c.counts.size(); ++k)
        states += ",\"" + std::string(kReportStates[k]) + "\":" + num(c.counts[k]);
      cells += std::string(first ? "" : ",\n") + "{" + json_quote(s.x.name) + ":" + json_quote(s.x.label(xi)) + "," +
               json_quote(s.y.name) + ":" + json_quote(s.y.label(yi)) + "," + json_quote(s.pa.name) + ":" +
               json_quote(s.pa.label(p.a)) + "," + json_quote(s.pb.name) + ":" + json_quote(s.pb.label(p.b)) + states +
               ",\"mean_runtime\":" +
               (c.runtime_n > 0 ? num(c.runtime_sum / static_cast<double>(c.runtime_n)) : std::string("null")) +
               ",\"mean_predicted\":" +
               (c.predicted_n > 0 ? num(c.predicted_sum / static_cast<double>(c.predicted_n)) : std::string("null")) +
               ",\"failure\":" + (c.failure >= 0 ? num(c.failure) : std::string("null")) +
               ",\"example\":" + json_quote(c.example) + "}";
      first = false;
    }
  }
  cells += "]";
  return "{\"model\":" + json_quote(s.model) + ",\"generated_at\":" + json_quote(s.now) +
         ",\"counts\":" + counts_json(s) + ",\"axes\":{\"x\":" + axis_json(s.x) + ",\"y\":" + axis_json(s.y) +
         ",\"panel_a\":" + axis_json(s.pa) + ",\"panel_b\":" + axis_json(s.pb) + "},\n\"cells\":" + cells +
         ",\n\"progress\":" + series_json(s) + ",\n\"failures\":" + failures_json(s) + ",\n\"hosts\":" + hosts_json(s) +
         ",\n\"runs\":" + runs_json(s) + ",\n\"predicted_vs_actual\":" +
         array(s.predicted_vs_actual,
               [](const std::array<double, 2>& p) { return "[" + num(p[0]) + "," + num(p[1]) + "]"; }) +
         "}\n";
}

std::string report_html(const ReportSummary& s, const ReportOptions& options) {
  const std::string data =
      "{\"model\":" + json_quote(s.model) + ",\"now\":" + json_quote(s.now) + ",\"now_epoch\":" + num(s.now_epoch) +
      ",\"counts\":" + counts_json(s) + ",\"x\":" + axis_json(s.x) + ",\"y\":" + axis_json(s.y) +
      ",\"pa\":" + axis_json(s.pa) + ",\"pb\":" + axis_json(s.pb) + ",\"rtmin\":" + num(s.runtime_min) +
      ",\"rtmax\":" + num(s.runtime_max) + ",\"panels\":" + panels_compact(s) + ",\"series\":" + series_json(s) +
      ",\"failures\":" + failures_json(s) + ",\"hosts\":" + hosts_json(s) + ",\"runs\":" + runs_json(s) + ",\"pva\":" +
      array(s.predicted_vs_actual,
            [](const std::array<double, 2>& p) { return "[" + num(p[0]) + "," + num(p[1]) + "]"; }) +
      ",\"refresh\":" + num(options.refresh_seconds) + "}";
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "script-src 'unsafe-inline'; img-src data:\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  if (options.refresh_seconds > 0) {
    page += "<meta http-equiv=\"refresh\" content=\"" + num(std::ceil(options.refresh_seconds)) + "\">\n";
  }
  page += "<title>pdr_run report: " + html_escape(s.model) + "</title>\n<style>\n" + std::string(kReportCss) +
          "</style>\n</head>\n<body>\n<main id=\"report\"><noscript>This report draws its charts with the script "
          "inside it; allow scripts for this file, or read the same data with pdr_run report --json.</noscript>"
          "</main>\n<script type=\"application/json\" id=\"report-data\">" +
          script_safe(data) + "</script>\n<script>\n" + std::string(kReportJs) + "</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace pdr
