// Whole-file reads and replacements, one home for them.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "pdr/status.h"

namespace pdr {

// The bytes of `path`; an I/O error naming the path when it cannot be read.
Result<std::string> read_file(const std::string& path);

// Replaces `path` with `content` at once: written to a temporary name beside it and renamed, so
// a reader sees the old file or the new one, never a part. An I/O error names the path.
Status replace_file(const std::string& path, const std::string& content);

// The entries of `dir`, in directory order. When it cannot be read through, `ec` says why and
// the entries read so far are returned. Never throws (a range-for over a directory_iterator
// does: its increment has no error_code).
std::vector<std::filesystem::directory_entry> list_directory(const std::filesystem::path& dir, std::error_code& ec);

// Removes `path` and everything below it, as remove_all, also where a job left a directory
// without write permission for its owner (each such directory is made writable first).
void remove_tree(const std::filesystem::path& path, std::error_code& ec);

// Removes one file, link or directory tree: a file or link with one unlink (remove_tree first
// tries to open every name as a directory), anything else as remove_tree does.
void remove_entry(const std::filesystem::path& path, std::error_code& ec);

}  // namespace pdr
