#include "util/file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
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

Status replace_file(const std::string& path, const std::string& content) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string tmp = dir + "." + name + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Io(path + ": cannot write: " + std::strerror(errno));
    out << content;
    out.flush();
    if (!out) {
      const int e = errno;
      std::remove(tmp.c_str());
      return Status::Io(path + ": cannot write: " + std::strerror(e != 0 ? e : EIO));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    return Status::Io(path + ": cannot replace: " + std::strerror(e));
  }
  return Status::Ok();
}

std::vector<std::filesystem::directory_entry> list_directory(const std::filesystem::path& dir, std::error_code& ec) {
  std::vector<std::filesystem::directory_entry> out;
  std::filesystem::directory_iterator it(dir, ec);
  for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) out.push_back(*it);
  return out;
}

namespace {

// Gives every directory below (and at) `path` its owner's rwx, not following links.
void make_writable(const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(path, ec);
  if (ec || st.type() != std::filesystem::file_type::directory) return;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  for (const auto& entry : list_directory(path, ec)) make_writable(entry.path());
}

}  // namespace

void remove_tree(const std::filesystem::path& path, std::error_code& ec) {
  ec.clear();
  std::filesystem::remove_all(path, ec);
  if (!ec) return;
  make_writable(path);
  ec.clear();
  std::filesystem::remove_all(path, ec);
}

void remove_entry(const std::filesystem::path& path, std::error_code& ec) {
  ec.clear();
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return;
  remove_tree(path, ec);  // a directory (EISDIR), or a name in one that is not writable
}

}  // namespace pdr
