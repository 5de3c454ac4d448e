// A gzip-compressed tar of a job's directory, written in-process with libarchive (no tar or
// gzip child per job). It holds what `tar -czf OUT -C DIR MEMBER` holds, in GNU tar format:
// MEMBER/ and everything below it (directories, regular files, symbolic links), with their
// modes, owners and times, names in sorted order.
#pragma once

#include <string>

#include "pdr/status.h"

namespace pdr {

class StopSignal;

// Writes OUT (replacing it) from DIR/MEMBER. An error names the file and what failed, with
// errno as its code (ENOSPC: the disk is full); `cancel` (may be null), once requested, ends it
// with an error. A partial OUT is removed.
Status write_tar_gz(const std::string& dir, const std::string& member, const std::string& out,
                    const StopSignal* cancel = nullptr);

}  // namespace pdr
