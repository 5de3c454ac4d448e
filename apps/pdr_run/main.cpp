// pdr_run: flags -> CommandLine -> a pdr:: subcommand -> exit code (see pdr/exit_code.h).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "pdr/command_line.h"
#include "pdr/exit_code.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("pdr_run"));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S [%l] %v");
  try {
    pdr::CommandLine command_line;
    if (auto done = command_line.parse(argc, argv, std::cout, std::cerr)) return *done;
    return command_line.run(pdr::process_environment(), std::cout);
  } catch (const std::exception& e) {
    // Subcommands report their errors themselves; anything else that escapes is one line.
    std::cerr << "pdr_run: unexpected error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "pdr_run: unexpected error\n";
  }
  return pdr::kExitUsage;
}
