// Whole-file reads, one home for them.
#pragma once

#include <string>

#include "pdr/status.h"

namespace pdr {

// The bytes of `path`; an I/O error naming the path when it cannot be read.
Result<std::string> read_file(const std::string& path);

}  // namespace pdr
