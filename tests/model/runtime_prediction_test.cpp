// Walltime-aware claiming's predictions: from neighbours in the grid, with fallbacks that say so.
#include "pdr/runtime_prediction.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pdr {
namespace {

// A smooth run-time surface like KOSMA-tau's: slower with density and FUV field, by factors.
double surface(double dens, double chi) { return 20.0 * std::exp(0.08 * (dens - 30) + 0.03 * (chi - 10)); }

std::string name(int dens, int chi) { return "100_" + std::to_string(dens) + "_-10_" + std::to_string(chi) + "_00"; }

TEST(RuntimePredictionTest, AJobsPointComesFromItsName) {
  auto p = job_point("100_30_-10_10_00");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size(), 4u);
  EXPECT_DOUBLE_EQ(p->at(0), 20.0) << "metal 100 % as 10*log10";
  EXPECT_DOUBLE_EQ(p->at(1), 30.0);
  EXPECT_DOUBLE_EQ(p->at(2), -10.0);
  EXPECT_DOUBLE_EQ(p->at(3), 10.0);
  EXPECT_FALSE(job_point("not_a_point"));
  EXPECT_FALSE(job_point("0_30_-10_10_00")) << "metal 0 has no logarithm";
}

TEST(RuntimePredictionTest, NeighboursPredictASmoothSurfaceWithinAFactorTwo) {
  // Every other point finished; the rest are predicted from them.
  std::vector<RuntimeSample> samples;
  std::vector<std::vector<double>> asked;
  for (int dens = 30; dens <= 70; dens += 2) {
    for (int chi = 10; chi <= 60; chi += 5) {
      const auto p = *job_point(name(dens, chi));
      if ((dens / 2 + chi / 5) % 2 == 0) {
        samples.push_back({p, surface(dens, chi)});
      } else {
        asked.push_back(p);
      }
    }
  }
  RuntimePredictor predictor(samples, asked, std::nullopt);
  size_t n = 0;
  for (const auto& p : asked) {
    const Prediction got = predictor.predict(p);
    ASSERT_TRUE(got.known());
    const double truth = surface(p[1], p[3]);
    EXPECT_LT(std::max(got.seconds / truth, truth / got.seconds), 2.0) << p[1] << " " << p[3];
    EXPECT_EQ(got.basis, "5 nearest finished points");
    ++n;
  }
  EXPECT_GT(n, 100u);
}

TEST(RuntimePredictionTest, WithoutNeighboursItFallsBackAndSaysSo) {
  const auto a = *job_point(name(30, 10));
  const auto b = *job_point(name(40, 20));
  RuntimePredictor none({}, {a}, std::nullopt);
  EXPECT_FALSE(none.predict(a).known()) << "nothing to predict from";
  RuntimePredictor expected({}, {a}, 600.0);
  EXPECT_DOUBLE_EQ(expected.predict(a).seconds, 600);
  EXPECT_EQ(expected.predict(a).basis, "run.expected_job_seconds (no finished job to predict from)");
  RuntimePredictor two({{a, 10}, {b, 30}}, {a, b}, 600.0);
  const auto mid = *job_point(name(35, 15));
  EXPECT_DOUBLE_EQ(two.predict(mid).seconds, 20);
  EXPECT_EQ(two.predict(mid).basis, "median of the model's 2 finished jobs");
  EXPECT_DOUBLE_EQ(two.predict(a).seconds, 10) << "a point's own run counts first";
  EXPECT_EQ(two.predict(a).basis, "its own earlier run");
  EXPECT_DOUBLE_EQ(two.unplaced().seconds, 20);
}

TEST(RuntimePredictionTest, TimeLeftInOurFormsAndSlurms) {
  EXPECT_EQ(parse_time_left("90m"), 5400);
  EXPECT_EQ(parse_time_left("2h30m"), 9000);
  EXPECT_EQ(parse_time_left("3600"), 3600);
  EXPECT_EQ(parse_time_left("29:59"), 1799) << "Slurm's MM:SS";
  EXPECT_EQ(parse_time_left("1:00:00"), 3600);
  EXPECT_EQ(parse_time_left("1-02:00:00"), 93600);
  EXPECT_EQ(parse_time_left("2-03"), 2 * 86400 + 3 * 3600);
  EXPECT_FALSE(parse_time_left("UNLIMITED"));
  EXPECT_FALSE(parse_time_left("soon"));
  EXPECT_FALSE(parse_time_left(""));
  // Typing errors, not times: a unit twice or out of order, a field past its clock.
  EXPECT_FALSE(parse_time_left("5m5m"));
  EXPECT_FALSE(parse_time_left("30s1h"));
  EXPECT_FALSE(parse_time_left("1-24:00:00"));
  EXPECT_FALSE(parse_time_left("0-00:60:00"));
  EXPECT_FALSE(parse_time_left("1:60:00"));
  EXPECT_EQ(parse_time_left("1d12h"), 129600);
  EXPECT_EQ(parse_time_left("90:00"), 5400) << "Slurm's MM:SS takes any minutes";
  EXPECT_FALSE(parse_time_left("1:2:3:4"));
  // A Slurm time limit: a plain number is minutes.
  EXPECT_EQ(parse_slurm_time("1"), 60);
  EXPECT_EQ(parse_slurm_time("90:00"), 5400);
  EXPECT_EQ(parse_slurm_time("2-00:00:00"), 172800);
  EXPECT_EQ(parse_slurm_time("1-12"), 129600);
  EXPECT_FALSE(parse_slurm_time(""));
  EXPECT_FALSE(parse_slurm_time("1h"));
}

}  // namespace
}  // namespace pdr
