// Which files a remote storage holds, listed once per directory and remembered, for deciding
// whether recorded outputs still exist without one remote call per file. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace pdr {

class DirectoryListings {
 public:
  // `list(dir, &out)` prints the file names of `dir`, one a line; false when it failed.
  using Lister = std::function<bool(const std::string& dir, std::string* out)>;
  explicit DirectoryListings(Lister list) : list_(std::move(list)) {}

  // Whether `path` ("<dir>/<name>") is listed; nullopt when its directory could not be listed
  // (three tries; a lister reports a directory that does not exist as listed and empty). A
  // failed listing is not remembered: the next question tries again.
  std::optional<bool> find(const std::string& path) {
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? path : path.substr(0, slash);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = listings_.find(dir);
    if (it == listings_.end()) {
      std::string out;
      for (int attempt = 1;; ++attempt) {
        if (list_(dir, &out)) break;
        if (attempt == 3) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      }
      std::set<std::string> names;
      std::istringstream lines(out);
      for (std::string line; std::getline(lines, line);) names.insert(line);
      it = listings_.emplace(dir, std::move(names)).first;
    }
    return it->second.count(name) != 0;
  }

  // find(), with a directory that could not be listed counting as empty.
  bool contains(const std::string& path) { return find(path).value_or(false); }

  // Drops what is known about the directory of `path` (after writing there).
  void forget(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    listings_.erase(path.substr(0, path.find_last_of('/')));
  }

 private:
  Lister list_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> listings_;
};

}  // namespace pdr
