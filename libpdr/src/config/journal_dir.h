// Where outage journals go unless run.journal_dir says: one directory per user in the scratch
// directory, and the directory every user shared before (its journals are still replayed).
#pragma once

#include <unistd.h>

#include <string>

namespace pdr {

inline std::string default_journal_dir(const std::string& scratch_dir) {
  return scratch_dir + "/pdr_run-journal-" + std::to_string(getuid());
}

inline std::string shared_journal_dir(const std::string& scratch_dir) { return scratch_dir + "/pdr_run-journal"; }

}  // namespace pdr
