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
  // listing, failed or not, is remembered until forget(): a storage that does not answer is
  // asked once per directory, not once per file.
  std::optional<bool> find(const std::string& path) {
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? path : path.substr(0, slash);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = listings_.find(dir);
    if (it == listings_.end()) {
      std::optional<std::set<std::string>> names;
      std::string out;
      for (int attempt = 1; attempt <= 3; ++attempt) {
        if (list_(dir, &out)) {
          names.emplace();
          std::istringstream lines(out);
          for (std::string line; std::getline(lines, line);) names->insert(line);
          break;
        }
        if (attempt < 3) std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      }
      it = listings_.emplace(dir, std::move(names)).first;
    }
    if (!it->second.has_value()) return std::nullopt;
    return it->second->count(name) != 0;
  }

  // Whether a file that could not be read is listed: the known listing when it says the file
  // is absent, else a fresh one (so many missing files cost one listing per directory, and a
  // file listed before is looked for again).
  std::optional<bool> find_again(const std::string& path) {
    const std::optional<bool> known = find(path);
    if (known.has_value() && !*known) return known;
    forget(path);
    return find(path);
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
  std::map<std::string, std::optional<std::set<std::string>>> listings_;  // nullopt: it failed
};

}  // namespace pdr
