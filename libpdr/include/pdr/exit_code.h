// The process exit codes pdr_run documents; scripts and schedulers rely on them.
#pragma once

namespace pdr {

enum ExitCode : int {
  kExitAllDone = 0,       // every job finished or was already done
  kExitSomeFailed = 1,    // at least one job failed
  kExitUsage = 2,         // usage, configuration or database error; nothing was run
  kExitInterrupted = 130  // SIGINT/SIGTERM: children stopped, their jobs put back to pending
};

}  // namespace pdr
