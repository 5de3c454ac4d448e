// The pdr_run command line: every subcommand's flags, help and examples (cli/commands.cpp), the
// parse, and the call of the chosen subcommand.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>

#include "pdr/config.h"
#include "pdr/status.h"

namespace pdr {

class CommandLine {
 public:
  CommandLine();
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // Reads the flags. Returns an exit code when there is nothing to run: --help (printed to
  // `out`) or a usage error (one line to `err`, exit 2).
  std::optional<int> parse(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

  // Runs the subcommand parse() chose; returns its exit code.
  int run(const EnvLookup& env, std::ostream& out);

 private:
  Status check_flag_places() const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdr
