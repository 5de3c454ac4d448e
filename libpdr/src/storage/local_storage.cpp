#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>

#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/sha256.h"
#include "pdr/storage.h"
#include "util/text.h"

namespace fs = std::filesystem;

namespace pdr {
namespace {

// An I/O failure with its errno as the code (a full disk stops the run; see JobResult).
Status io_error(const std::string& message, const std::error_code& ec) {
  return Status::Error(
      ErrorKind::kIo, message,
      ec.category() == std::generic_category() || ec.category() == std::system_category() ? ec.value() : 0);
}

// Copies into the destination directory under a temporary name and renames it into place (or
// to its staged name), so a reader never sees a half-written output. A staged output on the same
// filesystem is a hard link to the job's file when `link` is set: no data is copied and no new
// file is made (the job's directory is removed afterwards, leaving the stored name). Only a
// regular file with no other name is linked: a symbolic link (to a file that may go with the job
// directory) or a file that is also elsewhere (whose other name may change it) is copied.
class LocalStorage : public Storage {
 public:
  LocalStorage(std::string root, bool link) : root_(std::move(root)), link_(link) {}

  Result<StoredFile> store(const std::string& local_path, const std::string& relative_path, const std::string& kind,
                           const std::string& stage_tag) override {
    const fs::path dest = fs::path(root_) / relative_path;
    const fs::path target = stage_tag.empty() ? dest : fs::path(staged_path(dest.string(), stage_tag));
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return io_error(dest.parent_path().string() + ": cannot create directory: " + ec.message(), ec);
    auto sum = sha256_file(local_path);
    if (!sum.ok()) return sum.status();
    // A staged name is the attempt's own: the copy goes there directly.
    thread_local std::mt19937_64 rng(std::random_device{}());
    const fs::path tmp = stage_tag.empty()
                             ? dest.parent_path() / ("." + dest.filename().string() + ".tmp" + std::to_string(rng()))
                             : target;
    bool linked = false;
    struct stat own;
    if (link_ && !stage_tag.empty() && ::lstat(local_path.c_str(), &own) == 0 && S_ISREG(own.st_mode) &&
        own.st_nlink == 1) {
      linked = ::link(local_path.c_str(), tmp.c_str()) == 0;
      if (!linked && errno == EEXIST) {  // left by an attempt that died in this very step
        fs::remove(tmp, ec);
        linked = ::link(local_path.c_str(), tmp.c_str()) == 0;
      }
    }
    if (!linked) {
      if (!stage_tag.empty()) fs::remove(tmp, ec);  // not written through a link left behind
      fs::copy_file(local_path, tmp, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        std::error_code ignore;
        fs::remove(tmp, ignore);
        return io_error(tmp.string() + ": cannot store output: " + ec.message(), ec);
      }
      // Verify the copy before it takes the output's name: a job is finished only with outputs
      // that are stored and verified.
      auto copied = sha256_file(tmp.string());
      if (!copied.ok() || copied.value() != sum.value()) {
        std::error_code ignore;
        fs::remove(tmp, ignore);
        return Status::Io(dest.string() + ": the stored copy does not match the output (sha256)");
      }
    }
    if (tmp != target) {
      fs::rename(tmp, target, ec);
      if (ec) {
        std::error_code ignore;
        fs::remove(tmp, ignore);
        return io_error(target.string() + ": cannot store output: " + ec.message(), ec);
      }
    }
    struct stat sb;
    if (::stat(target.c_str(), &sb) != 0) {
      return Status::Io(dest.string() + ": stored output vanished: " + std::strerror(errno));
    }
    StoredFile f;
    f.kind = kind;
    f.path = dest.string();
    if (!stage_tag.empty()) f.staged_path = target.string();
    f.sha256 = sum.value();
    f.size = static_cast<long long>(sb.st_size);
    f.mtime = utc_time_text(sb.st_mtime);
    return f;
  }

  // All or nothing: when one output cannot take its name, those renamed before it are removed
  // again (their job is not recorded finished, so no final name may hold them), but for the
  // logs, which go back to their staged names: the caller keeps them, as any failed attempt's.
  Status promote(const std::vector<StoredFile>& files) override {
    for (size_t i = 0; i < files.size(); ++i) {
      const StoredFile& f = files[i];
      if (f.staged_path.empty()) continue;
      if (::rename(f.staged_path.c_str(), f.path.c_str()) != 0) {
        const int e = errno;
        struct stat sb;
        if (e == ENOENT && ::stat(f.path.c_str(), &sb) == 0 && static_cast<long long>(sb.st_size) == f.size) {
          continue;  // promoted before (an outcome replayed after a replay that was cut short)
        }
        for (size_t j = 0; j < i; ++j) {
          if (files[j].staged_path.empty()) continue;
          if (!is_step_log(files[j].kind) || ::rename(files[j].path.c_str(), files[j].staged_path.c_str()) != 0) {
            ::unlink(files[j].path.c_str());
          }
        }
        return Status::Error(ErrorKind::kIo, f.path + ": cannot give the stored output its name: " + std::strerror(e),
                             e);
      }
    }
    return Status::Ok();
  }

  void discard(const std::vector<StoredFile>& files) override {
    for (const auto& f : files) {
      if (!f.staged_path.empty()) ::unlink(f.staged_path.c_str());
    }
  }

  bool exists(const std::string& stored_path) override { return find(stored_path).value_or(false); }

  // Absent only when the filesystem says so (ENOENT, ENOTDIR); any other error (a network
  // filesystem's EIO or ESTALE, a symlink loop) cannot tell.
  std::optional<bool> find(const std::string& stored_path) override {
    struct stat sb;
    if (::stat(stored_path.c_str(), &sb) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return std::nullopt;
  }

  Result<std::vector<std::string>> staged_copies() override {
    std::vector<std::string> found;
    for (const auto& dir : output_directories()) {
      const fs::path at = fs::path(root_) / dir;
      std::error_code ec;
      if (!fs::exists(at, ec)) continue;
      fs::directory_iterator it(at, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::string final_path, tag;
        if (!parse_staged_path(it->path().string(), &final_path, &tag)) continue;
        std::error_code gone;  // renamed or removed meanwhile (a run at work): passed over
        const fs::file_status st = it->symlink_status(gone);
        if (gone || (!fs::is_regular_file(st) && !fs::is_symlink(st))) continue;
        found.push_back(it->path().string());
      }
      if (ec) return Status::Io(at.string() + ": cannot list the stored outputs: " + ec.message());
    }
    return found;
  }

  Status remove_copy(const std::string& staged) override {
    if (::unlink(staged.c_str()) != 0 && errno != ENOENT) {
      return Status::Io(staged + ": cannot remove: " + std::strerror(errno));
    }
    return Status::Ok();
  }

  std::string check(const StoredFile& f) override {
    struct stat sb;
    if (::stat(f.path.c_str(), &sb) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return "output missing: " + f.path;
      return kStorageUnreachable + f.path + ": " + std::strerror(errno);
    }
    if (static_cast<long long>(sb.st_size) != f.size) return "output changed (size): " + f.path;
    auto sum = sha256_file(f.path);
    if (!sum.ok()) {
      // Gone between the stat and the read (removed, renamed over): missing, not unreadable.
      if (::stat(f.path.c_str(), &sb) != 0 && (errno == ENOENT || errno == ENOTDIR)) return "output missing: " + f.path;
      return kOutputUnreadable + sum.status().message();
    }
    if (sum.value() != f.sha256) return "output changed (sha256): " + f.path;
    return "";
  }

  Status retrieve(const std::string& relative_path, const std::string& local_path) override {
    const fs::path src = fs::path(root_) / relative_path;
    std::error_code ec;
    fs::copy_file(src, local_path, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::Io(src.string() + ": cannot retrieve stored output: " + ec.message());
    return Status::Ok();
  }

 private:
  std::string root_;
  bool link_;
};

}  // namespace

std::string staged_path(const std::string& final_path, const std::string& stage_tag) {
  const auto cut = final_path.find_last_of("/:") + 1;  // 0 without a directory
  return final_path.substr(0, cut) + "." + final_path.substr(cut) + ".staged-" + stage_tag;
}

bool parse_staged_path(const std::string& path, std::string* final_path, std::string* stage_tag) {
  const auto cut = path.find_last_of("/:") + 1;
  const std::string name = path.substr(cut);
  const auto mark = name.rfind(".staged-");
  if (name.size() < 2 || name[0] != '.' || mark == std::string::npos || mark < 2) return false;
  *final_path = path.substr(0, cut) + name.substr(1, mark - 1);
  *stage_tag = name.substr(mark + 8);
  return !stage_tag->empty();
}

Result<std::unique_ptr<Storage>> open_rclone_storage(const StorageSettings& settings, const std::string& model_root,
                                                     const std::vector<std::string>& env);

Result<std::unique_ptr<Storage>> open_sftp_storage(const StorageSettings& settings, const std::string& model_root,
                                                   const std::vector<std::string>& env);

Result<std::unique_ptr<Storage>> open_storage(const StorageSettings& settings, const std::string& model_root,
                                              const std::vector<std::string>& env) {
  if (settings.type == "rclone") return open_rclone_storage(settings, model_root, env);
  if (settings.type == "sftp") return open_sftp_storage(settings, model_root, env);
  if (settings.type != "local") return Status::Usage("storage.type '" + settings.type + "' is not available");
  std::error_code ec;
  for (const char* sub : {"pdrgrid", "oniongrid"}) {
    fs::create_directories(fs::path(model_root) / sub, ec);
    if (ec) return Status::Usage(model_root + "/" + sub + ": cannot create the storage directory: " + ec.message());
  }
  if (access(model_root.c_str(), W_OK) != 0) {
    return Status::Usage(model_root + ": storage directory is not writable");
  }
  return std::unique_ptr<Storage>(std::make_unique<LocalStorage>(model_root, settings.link_outputs));
}

}  // namespace pdr
