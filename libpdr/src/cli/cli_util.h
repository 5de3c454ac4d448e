// Small helpers shared by the subcommands.
#pragma once

#include <unistd.h>

#include <string>

namespace pdr {

// The directory pdr_run was started in; relative paths in settings resolve against it.
inline std::string invocation_dir() {
  char buf[4096];
  return getcwd(buf, sizeof buf) != nullptr ? std::string(buf) : std::string(".");
}

}  // namespace pdr
