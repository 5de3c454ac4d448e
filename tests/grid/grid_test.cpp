#include "pdr/grid.h"

#include <gtest/gtest.h>

#include "pdr/settings.h"

#include <cmath>
#include <set>
#include <vector>

namespace pdr {
namespace {

Settings settings_with(std::vector<std::string> metal, std::vector<std::string> dens, std::vector<std::string> mass,
                       std::vector<std::string> chi) {
  Settings s;
  s.model.metal = std::move(metal);
  s.model.dens = std::move(dens);
  s.model.mass = std::move(mass);
  s.model.chi = std::move(chi);
  s.model.alpha = "1.5";
  s.model.rcore = "0.2";
  s.model.chemistry = "H H2 CO";
  return s;
}

TEST(GridTest, CartesianProductInThePredecessorsOrder) {
  auto plan = plan_grid(settings_with({"100", "50"}, {"30", "40"}, {"-10"}, {"10", "100"}));
  ASSERT_TRUE(plan.ok());
  std::vector<std::string> names;
  for (const auto& p : plan->points) names.push_back(p.job_name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"100_30_-10_10_00", "100_30_-10_100_00", "100_40_-10_10_00", "100_40_-10_100_00",
                                      "50_30_-10_10_00", "50_30_-10_100_00", "50_40_-10_10_00", "50_40_-10_100_00"}));
}

TEST(GridTest, NamesUseCanonicalValues) {
  auto plan = plan_grid(settings_with({"100"}, {"30.0"}, {"-5"}, {"0"}));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->points[0].job_name, "100_30_-05_00_00");
}

TEST(GridTest, DuplicateValuesAreReportedAndRunOnce) {
  auto plan = plan_grid(settings_with({"100"}, {"30", "30.0", "40", "30"}, {"-10"}, {"10"}));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->points.size(), 2u);
  ASSERT_EQ(plan->notes.size(), 2u);
  EXPECT_EQ(plan->notes[0], "dens: value '30.0' repeats '30'; that point is run once");
}

TEST(GridTest, ParameterRowCarriesGridValuesAndDefaults) {
  auto plan = plan_grid(settings_with({"100"}, {"20"}, {"00"}, {"00"}));
  ASSERT_TRUE(plan.ok());
  const auto p = plan->points[0].params();
  // The point's hash is the hash of its whole row, though the row is shared.
  EXPECT_EQ(plan->points[0].param_hash, parameter_hash(p));
  EXPECT_EQ(plan->points[0].param("xnsur"), "100");
  EXPECT_EQ(plan->points[0].param("cosray"), "2e-16");
  EXPECT_EQ(p.at("xnsur"), "100");
  EXPECT_EQ(p.at("mass"), "1");
  EXPECT_EQ(p.at("sint"), "1");
  EXPECT_EQ(p.at("zmetal"), "1");
  EXPECT_NEAR(std::stod(p.at("rtot")), 1.14080656968219e+18, 1e5);
  EXPECT_EQ(p.at("cosray"), "2e-16");
  EXPECT_EQ(p.at("beta"), "-1");
  EXPECT_EQ(p.at("fuvstring"), "Lyalpha.fuv");
  EXPECT_EQ(p.at("species"), "H H2 CO");
  EXPECT_EQ(p.count("comments"), 0u);
}

TEST(GridTest, IdentityIgnoresSpellingButNotPhysics) {
  auto a = plan_grid(settings_with({"100"}, {"30"}, {"-10"}, {"10"}));
  auto b = plan_grid(settings_with({"100.0"}, {"30.00"}, {"-10"}, {"10.0"}));
  EXPECT_EQ(a->points[0].param_hash, b->points[0].param_hash);
  Settings s = settings_with({"100"}, {"30"}, {"-10"}, {"10"});
  s.non_default["cosray"] = "5e-17";
  auto c = plan_grid(s);
  EXPECT_NE(a->points[0].param_hash, c->points[0].param_hash);
  EXPECT_EQ(a->points[0].job_name, c->points[0].job_name);
}

TEST(GridTest, APlanOnlyShownIsNotHashedAndOtherwiseTheSame) {
  const Settings s = settings_with({"100"}, {"30", "40"}, {"-10"}, {"10", "20"});
  auto hashed = plan_grid(s);
  std::vector<GridPoint> shown;
  auto listed = plan_grid(
      s, [&](const GridPoint& p) { shown.push_back(p); }, /*hash_points=*/false);
  ASSERT_TRUE(hashed.ok() && listed.ok());
  ASSERT_EQ(shown.size(), hashed->points.size());
  EXPECT_EQ(listed->count, hashed->count);
  for (size_t i = 0; i < shown.size(); ++i) {
    EXPECT_EQ(shown[i].job_name, hashed->points[i].job_name);
    EXPECT_EQ(shown[i].params(), hashed->points[i].params());
    EXPECT_TRUE(shown[i].param_hash.empty());
    EXPECT_EQ(hashed->points[i].param_hash.size(), 64u);
  }
}

TEST(GridTest, RandomGridIsReproducibleFromItsSeed) {
  Settings s = settings_with({"100"}, {"20", "40"}, {"-10", "00"}, {"00", "30"});
  s.model.random = true;
  s.model.random_count = 40;
  s.model.random_seed = 1234;
  auto a = plan_grid(s);
  auto b = plan_grid(s);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->seed, 1234u);
  ASSERT_EQ(a->points.size(), b->points.size());
  for (size_t i = 0; i < a->points.size(); ++i) EXPECT_EQ(a->points[i].job_name, b->points[i].job_name);
  std::set<std::string> names;
  for (const auto& p : a->points) {
    EXPECT_TRUE(names.insert(p.job_name).second) << "a point is run once";
    EXPECT_EQ(p.metal.text, "100");  // one value: kept
    EXPECT_GE(p.dens.encoded, 20);
    EXPECT_LE(p.dens.encoded, 40);
    EXPECT_GE(p.mass.encoded, -10);
    EXPECT_LE(p.mass.encoded, 0);
    EXPECT_EQ(p.dens.encoded, std::floor(p.dens.encoded));
  }
  EXPECT_GT(a->points.size(), 30u);
  // Zero-padded draws have canonical names ("05", "-05") and parse back.
  s.model.random_seed = 99;
  s.model.random_count = 200;
  s.model.dens = {"-9", "9"};
  auto c = plan_grid(s);
  ASSERT_TRUE(c.ok()) << c.status().message();
  bool padded = false;
  for (const auto& p : c->points) padded = padded || p.dens.text == "05" || p.dens.text == "-05";
  EXPECT_TRUE(padded);
  s.model.random_seed = 100;
  auto d = plan_grid(s);
  EXPECT_NE(d->points[0].job_name + d->points[1].job_name, c->points[0].job_name + c->points[1].job_name);
}

TEST(GridTest, RandomGridNeedsIntegerBounds) {
  Settings s = settings_with({"100"}, {"20", "30.5"}, {"-10"}, {"10"});
  s.model.random = true;
  auto r = plan_grid(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "random grids draw integers, but dens has '30.5'");
}

TEST(GridTest, BadValuesAndEmptyListsAreErrors) {
  auto bad = plan_grid(settings_with({"100"}, {"30", "3e1"}, {"-10"}, {"10"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("dens value '3e1'"), std::string::npos);
  auto empty = plan_grid(settings_with({"100"}, {}, {"-10"}, {"10"}));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "dens: the list of values is empty");
}

}  // namespace
}  // namespace pdr
