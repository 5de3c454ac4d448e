#include "util/text.h"

#include <gtest/gtest.h>

namespace pdr {
namespace {

TEST(TextTest, LowerChangesAsciiOnly) { EXPECT_EQ(lower("Float DOUBLE \xC3\x84"), "float double \xC3\x84"); }

TEST(TextTest, ShellQuoteKeepsEverySingleQuoteInsideOneWord) {
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(TextTest, ValidUtf8ReplacesOnlyBrokenBytes) {
  EXPECT_EQ(valid_utf8("T = 5 \xE2\x84\x83"), "T = 5 \xE2\x84\x83");
  EXPECT_EQ(valid_utf8("cut \xE2\x84"), "cut ??");
  EXPECT_EQ(valid_utf8("overlong \xC0\xAF"), "overlong ??");
  EXPECT_EQ(valid_utf8("surrogate \xED\xA0\x80"), "surrogate ???");
}

TEST(TextTest, DurationsReadAsSecondsMinutesOrHours) {
  EXPECT_EQ(duration_text(42), "42s");
  EXPECT_EQ(duration_text(185), "3m05s");
  EXPECT_EQ(duration_text(7620), "2h07m");
  EXPECT_EQ(duration_text(-1), "?");
}

TEST(TextTest, HostNameIsThisHost) { EXPECT_FALSE(host_name().empty()); }

}  // namespace
}  // namespace pdr
