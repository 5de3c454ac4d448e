// SHA-256 digests (OpenSSL's libcrypto), as lowercase hex.
#pragma once

#include <string>

#include "pdr/status.h"

namespace pdr {

std::string sha256_hex(const std::string& data);
Result<std::string> sha256_file(const std::string& path);

}  // namespace pdr
