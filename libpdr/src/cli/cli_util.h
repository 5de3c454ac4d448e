// Small helpers shared by the subcommands.
#pragma once

#include <unistd.h>

#include <memory>
#include <string>

#include "pdr/cli.h"
#include "pdr/job_store.h"
#include "pdr/settings.h"

namespace pdr {

// The directory pdr_run was started in; relative paths in settings resolve against it.
inline std::string invocation_dir() {
  char buf[4096];
  return getcwd(buf, sizeof buf) != nullptr ? std::string(buf) : std::string(".");
}

// The settings and the existing job database of a reading subcommand (status, verify): the
// model and base directory are not needed, and a missing SQLite file is an error, not created.
// A command to paste, as printed in hints: `pdr_run <subcommand> [--config FILE] --model-name M`,
// with this invocation's configuration file (absolute) and words quoted only where the shell needs it.
std::string next_command(const CliOptions& options, const std::string& subcommand, const std::string& model);

// `st` with the configuration's notes appended (an ignored empty PDR_* variable explains a
// missing value); the notes logged as warnings.
Status with_notes(const Status& st, const Config& config);
void log_config_notes(const Config& config);

// Why this user cannot read the SQLite file at `path` ("cannot be looked at: Permission denied",
// "is not readable by this user: ..."); empty when it can, or when there is no file (SQLite itself
// says only "unable to open database file").
std::string sqlite_file_unreadable(const std::string& path);

struct OpenedStore {
  Settings settings;
  std::unique_ptr<JobStore> store;
};
// `read_only`: the database is only read (status): nothing is created, upgraded or written, and a
// SQLite file is opened read-only; a database without pdr_run's current tables is an error.
Result<OpenedStore> open_existing_store(const CliOptions& options, const EnvLookup& env, const char* command,
                                        bool read_only = false);

}  // namespace pdr
