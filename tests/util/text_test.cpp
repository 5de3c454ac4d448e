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

TEST(TextTest, PrintableEscapesControlCharactersOnOneLine) {
  EXPECT_EQ(printable("plain text, ü"), "plain text, ü");
  EXPECT_EQ(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(printable("bell\x07 esc\x1b[31m del\x7f"), "bell\\x07 esc\\x1b[31m del\\x7f");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
}

TEST(TextTest, CountsReadAsWords) {
  EXPECT_EQ(count_text(1, "point"), "1 point");
  EXPECT_EQ(count_text(0, "point"), "0 points");
  EXPECT_EQ(count_text(2, "failed attempt"), "2 failed attempts");
}

TEST(TextTest, EditDistanceCountsSingleCharacterEdits) {
  EXPECT_EQ(edit_distance("stat", "status"), 2u);
  EXPECT_EQ(edit_distance("wroker", "worker"), 2u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("doctor", "doctor"), 0u);
}

TEST(TextTest, TheSha256OfAnAnswerIsItsFirstLineStartingWith64HexDigits) {
  const std::string sum(64, 'a');
  EXPECT_EQ(sha256_in_answer(sum + "  out.dat\n"), sum);
  EXPECT_EQ(sha256_in_answer("2026/12/05 17:24:12 NOTICE: Config file \"x\" not found - using defaults\n" + sum +
                             "  out.dat\n"),
            sum);
  EXPECT_EQ(sha256_in_answer("Could not chdir to home directory /nonexistent\n" + sum + "\tout.dat"), sum);
  EXPECT_EQ(sha256_in_answer(std::string(63, 'a') + "  short\n"), "");
  EXPECT_EQ(sha256_in_answer(std::string(64, 'A') + "  upper case is not sha256sum's\n"), "");
  EXPECT_EQ(sha256_in_answer(sum + "0  too long\n"), "");
  EXPECT_EQ(sha256_in_answer("\\" + sum + "  a\\\\name\n"), sum);  // an escaped name
  EXPECT_EQ(sha256_in_answer(""), "");
}

}  // namespace
}  // namespace pdr
