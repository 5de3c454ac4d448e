// Whole-file reads and replacements, one home for them.
#pragma once

#include <string>

#include "pdr/status.h"

namespace pdr {

// The bytes of `path`; an I/O error naming the path when it cannot be read.
Result<std::string> read_file(const std::string& path);

// Replaces `path` with `content` at once: written to a temporary name beside it and renamed, so
// a reader sees the old file or the new one, never a part. An I/O error names the path.
Status replace_file(const std::string& path, const std::string& content);

}  // namespace pdr
