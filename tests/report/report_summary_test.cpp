// The report's data (summarize_report) and its two forms, on jobs made up here.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "pdr/report.h"

namespace pdr {
namespace {

ReportJob job(long long id, double dens, double chi, double mass, const std::string& state) {
  ReportJob j;
  j.id = id;
  j.name = "job" + std::to_string(id);
  j.dens = dens;
  j.chi = chi;
  j.mass = mass;
  j.metal = 100;
  j.state = state;
  return j;
}

// Finished `seconds` long, `ago` seconds before now, on `host`.
ReportJob finished(long long id, double dens, double chi, double mass, long long ago, long long seconds,
                   const std::string& host = "n1") {
  ReportJob j = job(id, dens, chi, mass, "finished");
  j.finished_ago = ago;
  j.started_ago = ago + seconds;
  j.host = host;
  return j;
}

ReportJob failed(long long id, double dens, double chi, double mass, const std::string& stage, const std::string& cause,
                 const std::string& host = "n1") {
  ReportJob j = job(id, dens, chi, mass, "failed");
  j.stage = stage;
  j.cause = cause;
  j.started_ago = 50;
  j.finished_ago = 40;
  j.host = host;
  return j;
}

ReportData three_axes() {
  ReportData d;
  d.model = "m";
  d.now = "2026-12-03 12:00:00";
  long long id = 0;
  for (double mass : {-10.0, 0.0}) {
    for (double dens : {30.0, 40.0, 50.0}) {
      for (double chi : {10.0, 20.0}) {
        ++id;
        if (dens == 30) {
          d.jobs.push_back(finished(id, dens, chi, mass, 100 + id, 10 * id, id % 2 ? "n1" : "n2"));
        } else if (dens == 40 && mass == 0) {
          d.jobs.push_back(failed(id, dens, chi, mass, "pdr", "exit code 3", "n2"));
        } else if (dens == 40) {
          ReportJob r = job(id, dens, chi, mass, "running");
          r.started_ago = 30;
          r.host = "n1";
          d.jobs.push_back(r);
        } else {
          d.jobs.push_back(job(id, dens, chi, mass, "pending"));
        }
      }
    }
  }
  return d;
}

const ReportCell& cell_at(const ReportSummary& s, size_t panel, double x, double y) {
  const ReportPanel& p = s.panels.at(panel);
  return p.cells.at(s.x.index_of(x) + s.x.values.size() * s.y.index_of(y));
}

TEST(ReportSummaryTest, CellsHoldTheirJobsOnePanelPerValueOfTheOtherAxes) {
  const ReportSummary s = summarize_report(three_axes(), ReportOptions{});
  EXPECT_EQ(s.counts.at("finished"), 4);
  EXPECT_EQ(s.counts.at("failed"), 2);
  EXPECT_EQ(s.counts.at("running"), 2);
  EXPECT_EQ(s.counts.at("pending"), 4);
  EXPECT_EQ(s.x.name, "dens");
  EXPECT_EQ(s.y.name, "chi");
  EXPECT_EQ(s.pa.name, "mass");
  EXPECT_EQ(s.pb.name, "metal");
  ASSERT_EQ(s.panels.size(), 2u) << "mass -10 and 0, one metal";
  EXPECT_EQ(s.x.values, (std::vector<double>{30, 40, 50}));
  EXPECT_EQ(s.panels[0].cells.size(), 6u);
  EXPECT_EQ(cell_at(s, 0, 40, 20).state(), "running");
  EXPECT_EQ(cell_at(s, 1, 40, 20).state(), "failed");
  EXPECT_EQ(cell_at(s, 1, 50, 10).state(), "pending");
  const ReportCell& done = cell_at(s, 0, 30, 20);  // job 2: 20 s long
  EXPECT_EQ(done.state(), "finished");
  EXPECT_EQ(done.runtime_n, 1);
  EXPECT_DOUBLE_EQ(done.runtime_sum, 20);
  EXPECT_DOUBLE_EQ(s.runtime_min, 10);
  EXPECT_DOUBLE_EQ(s.runtime_max, 80);
  // The failures: one group, its examples and region.
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].count, 2);
  EXPECT_EQ(s.failures[0].stage, "pdr");
  EXPECT_EQ(s.failures[0].cause, "exit code 3");
  EXPECT_EQ(s.failures[0].region.at("chi"), (std::array<double, 2>{10, 20}));
  EXPECT_EQ(s.failures[0].region.at("dens"), (std::array<double, 2>{40, 40}));
  EXPECT_EQ(cell_at(s, 1, 40, 10).failure, 0);
  // Hosts: finished, failed, running and the mean run time of the finished.
  ASSERT_EQ(s.hosts.size(), 2u);
  EXPECT_EQ(s.hosts[0].host, "n1");
  EXPECT_EQ(s.hosts[0].running, 2);
  EXPECT_EQ(s.hosts[1].failed, 2);
}

TEST(ReportSummaryTest, OtherAxesMakeOtherMapsAndBadAxesAreRefused) {
  ReportOptions o;
  ASSERT_TRUE(parse_report_axes("mass,dens", &o).ok());
  const ReportSummary s = summarize_report(three_axes(), o);
  EXPECT_EQ(s.x.name, "mass");
  EXPECT_EQ(s.pa.name, "chi");
  EXPECT_EQ(s.panels.size(), 2u) << "chi 10 and 20";
  for (const char* bad : {"dens,dens", "dens", "dens,temp", ""}) {
    ReportOptions x;
    const Status st = parse_report_axes(bad, &x);
    EXPECT_EQ(st.kind(), ErrorKind::kUsage) << bad;
    EXPECT_NE(st.message().find("--axes"), std::string::npos) << st.message();
  }
}

TEST(ReportSummaryTest, RandomPointsAreBinnedSoAMapStaysSmall) {
  ReportData d;
  d.now = "2026-12-03 12:00:00";
  for (int i = 0; i < 1000; ++i) d.jobs.push_back(job(i, 30 + i * 0.013, 10 + i * 0.021, 0, "pending"));
  const ReportSummary s = summarize_report(d, ReportOptions{});
  EXPECT_TRUE(s.x.binned);
  EXPECT_LE(s.x.values.size(), 60u);
  EXPECT_LE(s.y.values.size(), 60u);
  long long jobs = 0;
  for (const auto& p : s.panels) {
    for (const auto& c : p.cells) jobs += c.jobs();
  }
  EXPECT_EQ(jobs, 1000) << "every job in some cell";
  EXPECT_EQ(s.x.index_of(30), 0u);
  EXPECT_EQ(s.x.index_of(30 + 999 * 0.013), s.x.values.size() - 1);
  EXPECT_NE(s.x.label(0).find('-'), std::string::npos) << "a bin is a range: " << s.x.label(0);
}

TEST(ReportSummaryTest, PanelsStayFewWhenTheOtherAxesHaveManyValues) {
  ReportData d;
  d.now = "2026-12-03 12:00:00";
  long long id = 0;
  for (int mass = 0; mass < 30; ++mass) {
    for (int metal = 1; metal <= 20; ++metal) {
      ReportJob j = job(++id, 30, 10, mass, "pending");
      j.metal = metal * 5;
      d.jobs.push_back(j);
    }
  }
  const ReportSummary s = summarize_report(d, ReportOptions{});
  EXPECT_LE(s.pa.values.size() * s.pb.values.size(), 400u);
  EXPECT_EQ(s.pb.values.size(), 20u) << "the axis with fewer values keeps them";
  EXPECT_TRUE(s.pa.binned);
  long long jobs = 0;
  for (const auto& p : s.panels) jobs += p.cells.at(0).jobs();
  EXPECT_EQ(jobs, 600);
}

TEST(ReportSummaryTest, ProgressCountsFinishesPerBucketAndTheTimeLeft) {
  ReportData d;
  d.now = "2026-12-03 12:00:00";
  // 30 jobs finished over the last 30 minutes, one a minute, each 120 s long; 10 pending.
  for (int i = 0; i < 30; ++i) d.jobs.push_back(finished(i, 30, 10 + i, 0, 60 * i, 120));
  for (int i = 0; i < 10; ++i) d.jobs.push_back(job(100 + i, 40, 10 + i, 0, "pending"));
  const ReportSummary s = summarize_report(d, ReportOptions{});
  EXPECT_EQ(s.bucket_seconds, 10) << "about 32 minutes in at most 240 buckets";
  long long sum = 0;
  for (long long n : s.finished_per_bucket) sum += n;
  EXPECT_EQ(sum, 30);
  // Two jobs overlap at any time (120 s each, one started every 60 s): on average 2 running.
  ASSERT_GT(s.running.size(), 100u);
  EXPECT_NEAR(s.running[s.running.size() / 2], 2.0, 0.01);
  // 30 in the last 32 min, i.e. the last hour's rate over 32 min: ~56/h; 10 left: ~640 s.
  EXPECT_NEAR(s.rate_per_hour, 30 * 3600.0 / (29 * 60 + 120), 1);
  EXPECT_NEAR(s.eta_seconds, 10 / s.rate_per_hour * 3600, 1);
  // Nothing left: no time left; nothing finished lately: unknown.
  ReportData none;
  none.now = d.now;
  none.jobs.push_back(job(1, 30, 10, 0, "pending"));
  EXPECT_EQ(summarize_report(none, ReportOptions{}).eta_seconds, -1);
  EXPECT_TRUE(summarize_report(none, ReportOptions{}).finished_per_bucket.empty());
}

TEST(ReportSummaryTest, PredictedAgainstActualIsSampled) {
  ReportData d;
  d.now = "2026-12-03 12:00:00";
  for (int i = 0; i < 5000; ++i) {
    ReportJob j = finished(i, 30 + i % 50, 10 + i / 50, 0, 10, 20);
    j.predicted = 25;
    d.jobs.push_back(j);
  }
  const ReportSummary s = summarize_report(d, ReportOptions{});
  EXPECT_EQ(s.predicted_vs_actual.size(), 2000u);
  EXPECT_EQ(s.predicted_vs_actual[0], (std::array<double, 2>{25, 20}));
}

TEST(ReportSummaryTest, TheJsonIsOneDocumentCellByCell) {
  ReportData d = three_axes();
  d.jobs[2].cause = "a \"quoted\" </script> cause\nwith a newline";
  d.jobs[2].state = "failed";
  d.jobs[2].stage = "onion";
  const std::string json = report_json(summarize_report(d, ReportOptions{}));
  YAML::Node doc = YAML::Load(json);  // JSON is YAML: parsed by the library the config uses
  EXPECT_EQ(doc["model"].as<std::string>(), "m");
  EXPECT_EQ(doc["counts"]["failed"].as<int>(), 3);
  EXPECT_EQ(doc["cells"].size(), 12u);
  EXPECT_EQ(doc["axes"]["x"]["name"].as<std::string>(), "dens");
  EXPECT_EQ(doc["failures"].size(), 2u);
  bool quoted = false;
  for (const auto& f : doc["failures"])
    quoted = quoted || f["cause"].as<std::string>().find("</script>") != std::string::npos;
  EXPECT_TRUE(quoted) << "the cause as it was";
  EXPECT_EQ(doc["progress"]["bucket_seconds"].as<int>(), 1);
}

TEST(ReportSummaryTest, ThePageLoadsNothingAndNoTextEndsItsScript) {
  ReportData d = three_axes();
  d.jobs[5].cause = "</script><script>alert(1)</script>";
  d.jobs[5].state = "failed";
  d.model = "<b>m</b>";
  ReportOptions o;
  o.refresh_seconds = 30;
  const std::string page = report_html(summarize_report(d, o), o);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_NE(page.find("<meta http-equiv=\"refresh\" content=\"30\">"), std::string::npos);
  EXPECT_NE(page.find("<title>pdr_run report: &lt;b&gt;m&lt;/b&gt;</title>"), std::string::npos);
  // Exactly the page's own two scripts end: the data cannot close its element.
  size_t ends = 0;
  for (size_t at = page.find("</script>"); at != std::string::npos; at = page.find("</script>", at + 1)) ++ends;
  EXPECT_EQ(ends, 2u);
  for (const char* loads : {"src=", "href=", "url(", "@import", "fetch(", "XMLHttpRequest", "WebSocket"}) {
    EXPECT_EQ(page.find(loads), std::string::npos) << "the page would load something: " << loads;
  }
}

}  // namespace
}  // namespace pdr
