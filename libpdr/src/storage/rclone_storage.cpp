// Storage on any rclone remote through the rclone command (no shell): copyto per file, which
// creates remote directories as needed, a sha256 read back from the remote after every upload,
// and one listing per remote directory to tell which outputs exist.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/sha256.h"
#include "pdr/storage.h"
#include "storage/directory_listings.h"
#include "util/text.h"

namespace fs = std::filesystem;

namespace pdr {
namespace {

class RcloneStorage : public Storage {
 public:
  RcloneStorage(std::string rclone, std::string root, std::vector<std::string> env, double timeout)
      : rclone_(std::move(rclone)),
        root_(std::move(root)),
        env_(without_log_settings(std::move(env))),
        timeout_(timeout),
        listings_([this](const std::string& dir, std::string* out) {
          if (run({"lsf", "--files-only", dir}, out)) return true;
          if (out->find("directory not found") == std::string::npos) return false;
          out->clear();  // listed: nothing there yet
          return true;
        }) {}

  Result<StoredFile> store(const std::string& local_path, const std::string& relative_path, const std::string& kind,
                           const std::string& stage_tag) override {
    auto sum = sha256_file(local_path);
    if (!sum.ok()) return sum.status();
    const std::string dest = remote_path(relative_path);
    const std::string target = stage_tag.empty() ? dest : staged_path(dest, stage_tag);
    std::string out;
    // A staged name is this attempt's own: what a failed upload left under it goes again (a
    // final name is left as it is).
    auto drop_staged = [&] {
      if (target == dest) return;
      std::string ignored;
      run({"deletefile", target}, &ignored);
      listings_.forget(target);
    };
    if (!run({"copyto", local_path, target}, &out)) {
      drop_staged();
      return Status::Io("rclone copyto " + dest + " failed: " + out);
    }
    // Read the copy's checksum back from the remote before calling it stored.
    std::string remote_sum;
    if (!hash_of(target, &remote_sum, &out)) {
      drop_staged();
      return Status::Io("rclone hashsum sha256 " + dest + " failed: " + out);
    }
    if (remote_sum != sum.value()) {
      drop_staged();
      return Status::Io(dest + ": the stored copy does not match the output (sha256)");
    }
    std::error_code ec;
    StoredFile f;
    f.kind = kind;
    f.path = dest;
    if (!stage_tag.empty()) f.staged_path = target;
    f.sha256 = sum.value();
    f.size = static_cast<long long>(fs::file_size(local_path, ec));
    f.mtime = utc_time_text(std::time(nullptr));
    listings_.forget(dest);
    return f;
  }

  // One server-side move per file (--ignore-times: replace the destination even when its size
  // and time look the same).
  // All or nothing: when one output cannot take its name, those moved before it are deleted
  // again (their job is not recorded finished, so no final name may hold them), but for the
  // logs, which go back to their staged names: the caller keeps them. A copy that
  // another process moved first (a start's settle or a verify renaming the same attempt's
  // copies) is not a failure: its final name holds the recorded output.
  Status promote(const std::vector<StoredFile>& files) override {
    std::vector<const StoredFile*> moved;  // by this call: the undo touches only these
    for (const StoredFile& f : files) {
      if (f.staged_path.empty()) continue;
      std::string out;
      if (run({"moveto", "--ignore-times", f.staged_path, f.path}, &out)) {
        moved.push_back(&f);
      } else if (!moved_before(f)) {
        for (const StoredFile* m : moved) {  // removed; the logs back to their staged names (kept)
          std::string ignored;
          if (!is_step_log(m->kind) || !run({"moveto", "--ignore-times", m->path, m->staged_path}, &ignored)) {
            run({"deletefile", m->path}, &ignored);
          }
          listings_.forget(m->path);
          listings_.forget(m->staged_path);
        }
        return Status::Io("rclone moveto " + f.path + " failed: " + out);
      }
      listings_.forget(f.path);
    }
    return Status::Ok();
  }

  void discard(const std::vector<StoredFile>& files) override {
    for (const auto& f : files) {
      std::string out;
      if (!f.staged_path.empty()) run({"deletefile", f.staged_path}, &out);
    }
  }

  Result<std::vector<std::string>> staged_copies() override {
    std::vector<std::string> found;
    for (const auto& dir : output_directories()) {
      std::string out;
      if (!run({"lsf", "--files-only", "--include", ".*.staged-*", remote_path(dir)}, &out)) {
        if (out.find("directory not found") != std::string::npos) continue;
        return Status::Io("rclone lsf " + remote_path(dir) + " failed: " + out);
      }
      std::istringstream lines(out);
      for (std::string line; std::getline(lines, line);) {
        std::string final_path, tag;
        const std::string copy = remote_path(dir + "/" + line);
        if (!line.empty() && parse_staged_path(copy, &final_path, &tag)) found.push_back(copy);
      }
    }
    return found;
  }

  Status remove_copy(const std::string& staged) override {
    std::string out;
    if (!run({"deletefile", staged}, &out)) return Status::Io("rclone deletefile " + staged + " failed: " + out);
    listings_.forget(staged);
    return Status::Ok();
  }

  Status retrieve(const std::string& relative_path, const std::string& local_path) override {
    std::string out;
    const std::string src = remote_path(relative_path);
    if (!run({"copyto", src, local_path}, &out)) return Status::Io("rclone copyto " + src + " failed: " + out);
    return Status::Ok();
  }

  bool exists(const std::string& stored_path) override { return listings_.contains(stored_path); }
  std::optional<bool> find(const std::string& stored_path) override { return listings_.find(stored_path); }

  std::string check(const StoredFile& f) override {
    std::string sum, out;
    if (!hash_of(f.path, &sum, &out)) {
      // Missing only when its directory's listing says so; else rclone did not answer, or could
      // not read it.
      const std::optional<bool> listed = listings_.find_again(f.path);
      if (listed.has_value() && !*listed) return "output missing: " + f.path;
      // Listed but not hashed (a permission on the server): there, but its content unknown.
      return (listed.has_value() ? kOutputUnreadable : kStorageUnreachable) +
             std::string("rclone hashsum sha256 " + f.path + ": " + out);
    }
    if (sum != f.sha256) return "output changed (sha256): " + f.path;
    return "";
  }

  // A remote rclone has no configuration for fails every store the same way, after each job
  // computed its outputs: refused when the storage opens. Any other failure (a server that does
  // not answer) is left to the run, which tells an outage apart.
  Status check_remote(const std::string& remote) {
    std::string out;
    // Not for as long as a transfer may take: a server that does not answer is the run's to
    // tell apart, and the start is not held up by it.
    if (run_captured(rclone_, {"rclone", "-q", "lsf", "--dirs-only", "--max-depth", "1", root_}, env_,
                     timeout_ > 0 ? std::min(timeout_, 20.0) : 20.0, &out)) {
      return Status::Ok();
    }
    if (out.find("didn't find section in config file") != std::string::npos ||
        out.find("didn't find backend called") != std::string::npos) {
      return Status::Usage(
          "storage.rclone_remote: '" + remote +
          "' is not a remote rclone knows (set one up with rclone config or RCLONE_CONFIG_<NAME>_TYPE)");
    }
    return Status::Ok();
  }

 private:
  // Whether a staged copy whose move failed was moved by another process: it is gone and its
  // final name holds the recorded output.
  bool moved_before(const StoredFile& f) {
    listings_.forget(f.staged_path);
    return !listings_.contains(f.staged_path) && check(f).empty();
  }

  // rclone refuses -q beside RCLONE_VERBOSE or RCLONE_LOG_LEVEL ("Can't set -q and
  // --log-level"): those of the user's environment are not passed on.
  static std::vector<std::string> without_log_settings(std::vector<std::string> env) {
    env.erase(std::remove_if(env.begin(), env.end(),
                             [](const std::string& e) {
                               for (const char* name : {"RCLONE_VERBOSE=", "RCLONE_LOG_LEVEL=", "RCLONE_QUIET="}) {
                                 if (e.rfind(name, 0) == 0) return true;
                               }
                               return false;
                             }),
              env.end());
    return env;
  }

  std::string remote_path(const std::string& relative) const { return root_ + "/" + relative; }

  // The sha256 of a remote file; false (with rclone's answer in `out`) when there is none.
  bool hash_of(const std::string& path, std::string* sum, std::string* out = nullptr) {
    std::string answer;
    const bool ran = run({"hashsum", "sha256", path}, &answer);
    *sum = ran ? sha256_in_answer(answer) : "";
    if (out != nullptr)
      *out = sum->empty() && ran ? "no sha256 in its answer: " + printable(answer.substr(0, 200)) : answer;
    return !sum->empty();
  }

  // Runs rclone; `out` gets what it printed, or one line saying what went wrong.
  // Quiet (-q): its notices ("Config file ... not found - using defaults" for a remote set up
  // by RCLONE_CONFIG_* variables alone) are not mixed into the answers read here.
  bool run(std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {"rclone", "-q"});
    return run_captured(rclone_, args, env_, timeout_, out);
  }

  std::string rclone_, root_;
  std::vector<std::string> env_;
  double timeout_;
  DirectoryListings listings_;
};

}  // namespace

Result<std::unique_ptr<Storage>> open_rclone_storage(const StorageSettings& settings, const std::string& model_root,
                                                     const std::vector<std::string>& env) {
  const std::string rclone = find_program("rclone");
  if (rclone.empty())
    return Status::Usage("storage.type rclone: the rclone command is not installed (apt-get install rclone)");
  // model_root is <base_dir>/<model>; the predecessor's remote_path_prefix is cut from its front.
  std::string path = model_root;
  if (!settings.remote_path_prefix.empty() && path.rfind(settings.remote_path_prefix, 0) == 0) {
    path = path.substr(settings.remote_path_prefix.size());
  }
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  const std::string& remote = settings.rclone_remote;
  const std::string root = remote.back() == ':' ? remote + path : remote + "/" + path;
  auto storage = std::make_unique<RcloneStorage>(rclone, root, env, settings.transfer_timeout);
  if (Status st = storage->check_remote(remote); !st.ok()) return st;
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace pdr
