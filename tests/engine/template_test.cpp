#include "pdr/template.h"

#include <gtest/gtest.h>

#include "pdr/grid.h"
#include "pdr/settings.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

ParameterValues sample_row() {
  Settings s;
  s.model.metal = {"100"};
  s.model.dens = {"30"};
  s.model.mass = {"-10"};
  s.model.chi = {"10"};
  s.model.alpha = "1.5";
  s.model.rcore = "0.2";
  s.model.chemistry = "HE+ HE  H+   CO ";
  auto plan = plan_grid(s);
  EXPECT_TRUE(plan.ok());
  return plan->points[0].params();
}

TEST(TemplateTest, NumberFormatsMatchThePredecessor) {
  EXPECT_EQ(format_real(1000.0), "1.000e+03");
  EXPECT_EQ(format_real(2.4578e17), "2.458e+17");
  EXPECT_EQ(format_real(0.0), "0.000e+00");
  EXPECT_EQ(format_real(1.5), "1.500000");
  EXPECT_EQ(format_real(100.0), "100.000000");
  EXPECT_EQ(format_real(0.1), "0.100000");
  EXPECT_EQ(format_real(0.09), "9.000e-02");
  EXPECT_EQ(format_real(-1.0), "-1.000000");
  EXPECT_EQ(format_real(2e-16), "2.000e-16");
}

TEST(TemplateTest, BundledTemplatesRenderWithoutLeftovers) {
  const ParameterValues row = sample_row();
  for (auto [file, kind] : {std::pair{"PDRNEW.INP.template", TemplateKind::PdrNew},
                            std::pair{"pdr_config.json.template", TemplateKind::Json}}) {
    const std::string path = std::string(PDR_SOURCE_DIR) + "/config/templates/" + file;
    const std::string text = test::read_text(path);
    ASSERT_FALSE(text.empty()) << path;
    ASSERT_TRUE(check_template(text, kind, path).ok());
    auto out = render_template(text, kind, row, "chem.dat", path);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out->find("KT_VAR"), std::string::npos) << file;
  }
}

TEST(TemplateTest, SpeciesAndGridFollowTheTemplateKind) {
  ParameterValues row = sample_row();
  auto inp = render_template("A\nKT_VARspecies_\nKT_VARgrid_|\n", TemplateKind::PdrNew, row, "", "t");
  ASSERT_TRUE(inp.ok());
  EXPECT_EQ(*inp, "A\nSPECIES  HE+\nSPECIES  HE\nSPECIES  H+\nSPECIES  CO\n|\n");
  row["grid"] = "1";
  auto json = render_template("{\"s\": KT_VARspecies_, \"g\": KT_VARgrid_, \"c\": \"KT_VARCHEM_DATABASE_FILE_\"}",
                              TemplateKind::Json, row, "chem.dat", "t");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "{\"s\": [\"HE+\", \"HE\", \"H+\", \"CO\"], \"g\": true, \"c\": \"chem.dat\"}");
}

TEST(TemplateTest, LongestNameWinsAndTrailingUnderscoreStays) {
  const ParameterValues row = sample_row();
  // d2gratio1 vs d2gratio10; h2_use_gbar followed by an extra underscore.
  auto out = render_template("KT_VARd2gratio10_ KT_VARd2gratio1_ KT_VARh2_use_gbar__ KT_VARXhtry_",
                             TemplateKind::PdrNew, row, "", "t");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "0.000e+00 8.275e-03 1_ 1.000e+06");
}

TEST(TemplateTest, UnknownPlaceholderIsAnErrorWithItsLine) {
  Status st = check_template("line one\nvalue KT_VARnosuch_\n", TemplateKind::PdrNew, "tpl/PDRNEW.INP.template");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "tpl/PDRNEW.INP.template:2: unknown placeholder KT_VARnosuch_");
  // CHEM_DATABASE_FILE exists only in the JSON template.
  EXPECT_FALSE(check_template("KT_VARCHEM_DATABASE_FILE_", TemplateKind::PdrNew, "t").ok());
}

TEST(TemplateTest, PlaceholderWithoutValueIsAnError) {
  ParameterValues row = sample_row();
  row.erase("cosray");
  auto out = render_template("x\nKT_VARcosray_\n", TemplateKind::PdrNew, row, "", "t");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "t:2: placeholder KT_VARcosray_ has no value");
}

}  // namespace
}  // namespace pdr
