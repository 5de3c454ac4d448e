// Small text and host helpers shared across the library (one home for each).
#pragma once

#include <string>

namespace pdr {

// ASCII lower case.
std::string lower(std::string text);
// One word for a POSIX shell: single-quoted, a quote inside as '\''.
std::string shell_quote(const std::string& word);
// This host's name ("unknown" when it cannot be read).
std::string host_name();
// A duration for people: "42s", "3m05s", "2h07m"; "?" when negative (unknown).
std::string duration_text(long long seconds);
// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by '?'.
std::string valid_utf8(const std::string& text);

}  // namespace pdr
