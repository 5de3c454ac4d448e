#include "util/file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace pdr {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Io(path + ": cannot read: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace pdr
