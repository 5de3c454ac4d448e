#include "pdr/grid_value.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pdr {
namespace {

TEST(GridValueTest, GrammarAcceptsPlainDecimals) {
  struct Case {
    const char* in;
    const char* text;
    double encoded;
  };
  for (const Case& c : {Case{"30", "30", 30}, Case{"05", "05", 5}, Case{"-05", "-05", -5}, Case{"00", "00", 0},
                        Case{"0", "00", 0}, Case{"-0", "00", 0}, Case{"+30", "30", 30}, Case{"30.0", "30", 30},
                        Case{"3.50", "3.5", 3.5}, Case{".5", "0.5", 0.5}, Case{"5.", "05", 5}, Case{"-10", "-10", -10},
                        Case{"007", "07", 7}, Case{"100", "100", 100}}) {
    auto v = parse_grid_value(Axis::Dens, c.in);
    ASSERT_TRUE(v.ok()) << c.in << ": " << v.status().message();
    EXPECT_EQ(v->text, c.text) << c.in;
    EXPECT_EQ(v->encoded, c.encoded) << c.in;
  }
}

TEST(GridValueTest, GrammarRejectsEverythingElse) {
  for (const char* bad : {"", "-", ".", "1e1", "2*15", "30 ", " 30", "0x10", "abc", "3.0.1", "--3", "nan", "inf",
                          "__import__('os')", "1,5"}) {
    auto v = parse_grid_value(Axis::Chi, bad);
    ASSERT_FALSE(v.ok()) << "'" << bad << "'";
    EXPECT_EQ(v.status().kind(), ErrorKind::kUsage);
    EXPECT_EQ(v.status().message().rfind(std::string("chi value '") + bad + "'", 0), 0u) << v.status().message();
  }
}

TEST(GridValueTest, OutOfRangeNamesTheRangeAndControlCharactersAreEscaped) {
  auto big = parse_grid_value(Axis::Dens, "4000");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("dens value '4000' is out of range (from -3076 to 3080)"), std::string::npos)
      << big.status().message();
  auto tiny = parse_grid_value(Axis::Chi, "-4000");
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.status().message().find("is out of range (from -3076 to 3080)"), std::string::npos);
  EXPECT_TRUE(parse_grid_value(Axis::Dens, "3080").ok());
  // 10^-307.7 is a subnormal double, whose text would not read back as a number.
  EXPECT_TRUE(parse_grid_value(Axis::Dens, "-3076").ok());
  for (const char* subnormal : {"-3077", "-3080", "-3230"}) {
    auto v = parse_grid_value(Axis::Mass, subnormal);
    ASSERT_FALSE(v.ok()) << subnormal;
    EXPECT_NE(v.status().message().find("is out of range (from -3076 to 3080)"), std::string::npos)
        << v.status().message();
  }
  EXPECT_FALSE(parse_grid_value(Axis::Metal, "0." + std::string(309, '0') + "1").ok());
  auto ctrl = parse_grid_value(Axis::Mass, "3\n0");
  ASSERT_FALSE(ctrl.ok());
  EXPECT_NE(ctrl.status().message().find("mass value '3\\n0'"), std::string::npos) << ctrl.status().message();
  EXPECT_EQ(ctrl.status().message().find('\n'), std::string::npos);
}

TEST(GridValueTest, EncodingIsTenLog10ExceptMetalInPercent) {
  EXPECT_DOUBLE_EQ(parse_grid_value(Axis::Dens, "30")->physical, 1000.0);
  EXPECT_DOUBLE_EQ(parse_grid_value(Axis::Mass, "-10")->physical, 0.1);
  EXPECT_DOUBLE_EQ(parse_grid_value(Axis::Chi, "00")->physical, 1.0);
  EXPECT_NEAR(parse_grid_value(Axis::Dens, "3.0")->physical, 1.99526, 1e-5);
  EXPECT_DOUBLE_EQ(parse_grid_value(Axis::Metal, "100")->physical, 1.0);
  EXPECT_DOUBLE_EQ(parse_grid_value(Axis::Metal, "50")->physical, 0.5);
  // A metallicity in percent of solar cannot be negative (the 10*log10 axes can).
  auto negative = parse_grid_value(Axis::Metal, "-100");
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().message(),
            "metal value '-100' is negative (the metallicity in percent of solar, such as 100 or 50)");
  EXPECT_TRUE(parse_grid_value(Axis::Metal, "-0")->physical == 0.0);
}

TEST(GridValueTest, RtotMatchesThePredecessor) {
  // M = 0.1, n = 1e3, alpha 1.5, rcore 0.2 -> 2.4578e17 cm (predecessor, verified).
  auto r = compute_rtot(0.1, 1e3, 1.5, 0.2);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(*r / 2.4578e17, 1.0, 1e-4);
  // The effective parameter row of the predecessor: M = 1, n = 100 -> 1.14080656968219e+18.
  auto r2 = compute_rtot(1.0, 100.0, 1.5, 0.2);
  ASSERT_TRUE(r2.ok());
  EXPECT_NEAR(*r2, 1.14080656968219e+18, 1.14080656968219e+18 * 1e-13);
}

// The predecessor's job names (values as typed) and the names pdr_run gives the same points.
TEST(GridValueTest, CanonicalJobNameOfThePredecessorsSpellings) {
  EXPECT_EQ(canonical_job_name("100_30_0_10_00"), "100_30_00_10_00");
  EXPECT_EQ(canonical_job_name("100_3.0_-5_1.0_00"), "100_03_-05_01_00");
  EXPECT_EQ(canonical_job_name("100_30.50_-0_+7_00"), "100_30.5_00_07_00");
  EXPECT_EQ(canonical_job_name("100_30_-10_10_00"), "") << "already canonical";
  // The quick test of a canonical name agrees with parsing it.
  for (const char* t : {"0",    "00",  "-0",   "-00", "5",  "05", "-5",   "-05",  "30", "030",  "100",
                        "0100", "3.0", "3.50", "0.5", ".5", "5.", "-0.5", "00.5", "+7", "1000", "-10.25"}) {
    auto v = parse_grid_value(Axis::Dens, t);
    ASSERT_TRUE(v.ok()) << t;
    const std::string name = std::string("100_") + t + "_-10_10_00";
    EXPECT_EQ(canonical_job_name(name), v->text == t ? std::string() : "100_" + v->text + "_-10_10_00") << t;
  }
  for (const char* other : {"", "100_30_-10_10", "100_30_-10_10_01", "100_30_-10_10_00_00", "x_30_-10_10_00",
                            "100_30_1e1_10_00", "-100_30_-10_10_00", "100__-10_10_00"}) {
    EXPECT_EQ(canonical_job_name(other), "") << other;
  }
}

TEST(GridValueTest, RtotRejectsAlphaThree) {
  auto r = compute_rtot(1.0, 100.0, 3.0, 0.2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("alpha = 3"), std::string::npos);
}

// A grid value at the end of a double's range is named as such, not blamed on alpha and rcore.
TEST(GridValueTest, RtotBeyondADoublesRangeNamesTheClumpNotTheProfile) {
  for (auto [mass, density] : {std::pair{9.88131e-324, 1e3}, std::pair{1.0, 1e308}, std::pair{1e308, 1e-300}}) {
    auto r = compute_rtot(mass, density, 1.5, 0.2);
    ASSERT_FALSE(r.ok()) << mass << " " << density;
    EXPECT_NE(r.status().message().find("has no clump radius (rtot) a double can hold"), std::string::npos)
        << r.status().message();
  }
  auto profile = compute_rtot(1.0, 100.0, 1.5, 5.0);
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.status().message(), "alpha 1.5 and rcore 5 give no positive clump radius");
}

}  // namespace
}  // namespace pdr
