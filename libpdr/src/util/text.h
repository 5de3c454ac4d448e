// Small text and host helpers shared across the library (one home for each).
#pragma once

#include <optional>
#include <string>

namespace pdr {

// ASCII lower case.
std::string lower(std::string text);
// `text` without the spaces, tabs and line ends around it.
std::string trim_space(const std::string& text);
// `text` with '%' and each character of `special` written as %XX (upper-case hex).
std::string percent_escape(const std::string& text, const std::string& special);
// One word for a POSIX shell: single-quoted, a quote inside as '\''.
std::string shell_quote(const std::string& word);
// This host's name ("unknown" when it cannot be read).
std::string host_name();
// This host's local time as "YYYY-MM-DD HH:MM:SS" (the predecessor's TEXTOUT markers).
std::string local_time_text();
// A time in UTC, "YYYY-MM-DD HH:MM:SS" or as the strftime `format` says.
std::string utc_time_text(long long epoch_seconds, const char* format = "%Y-%m-%d %H:%M:%S");
// A duration for people: "42s", "3m05s", "2h07m"; "?" when negative (unknown).
std::string duration_text(long long seconds);
// "90d", "12h", "1h30m", "45s" or plain seconds ("600") as seconds; nullopt when it is none of these.
std::optional<long long> parse_duration(const std::string& text);
// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by '?'.
std::string valid_utf8(const std::string& text);

// The number of single-character insertions, deletions and substitutions between a and b.
size_t edit_distance(const std::string& a, const std::string& b);

// `text` safe to print on one line: control characters as \n, \r, \t or \xNN, a backslash doubled.
std::string printable(const std::string& text);
// `text` as a JSON string, quotes included.
std::string json_quote(const std::string& text);
// "1 point", "2 points": a count with its noun, plural with an s.
std::string count_text(long long n, const std::string& noun);
// The first line of `answer` that starts with 64 lowercase hex digits (a sha256sum or
// `rclone hashsum sha256` line): those digits; "" when there is none. A tool may say more than
// the sum (a login banner, rclone's "NOTICE: Config file ... not found").
std::string sha256_in_answer(const std::string& answer);
// For sizes: a count never exceeds what long long holds.
inline std::string count_size(size_t n, const std::string& noun) { return count_text(static_cast<long long>(n), noun); }

}  // namespace pdr
