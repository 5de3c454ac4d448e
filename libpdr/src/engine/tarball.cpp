#include "engine/tarball.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "pdr/stop_signal.h"
#include "util/file.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// "tar: <what>: <why>", errno as its code.
Status io_error(const std::string& what, int code) {
  return Status::Error(ErrorKind::kIo, "tar: " + what + ": " + std::strerror(code), code);
}

// The owner and group names of ids, as tar shows them ("" when the id has no name), looked up
// once per process: every job's tarball names the same few, and each lookup reads /etc/passwd
// or /etc/group (or asks nscd/sssd) anew. Only a definite answer (a name, or none) is kept; a
// lookup that failed (a directory service that did not answer) is tried again next time.
class IdNames {
 public:
  static std::string user(uid_t uid) {
    return instance().lookup(instance().users_, uid, [](unsigned id, std::string* name) {
      return find_name<struct passwd>(id, name, getpwuid_r, [](const struct passwd& p) { return p.pw_name; });
    });
  }
  static std::string group(gid_t gid) {
    return instance().lookup(instance().groups_, gid, [](unsigned id, std::string* name) {
      return find_name<struct group>(id, name, getgrgid_r, [](const struct group& g) { return g.gr_name; });
    });
  }

 private:
  // getpwuid_r / getgrgid_r with a buffer that grows while it is too small (a large group);
  // false when the lookup itself failed.
  template <class Entry, class Get, class NameOf>
  static bool find_name(unsigned id, std::string* name, Get get, NameOf name_of) {
    std::vector<char> buf(16384);
    for (;;) {
      Entry entry{};
      Entry* found = nullptr;
      const int r = get(id, &entry, buf.data(), buf.size(), &found);
      if (r == ERANGE && buf.size() < (size_t{1} << 24)) {
        buf.resize(buf.size() * 2);
        continue;
      }
      if (r != 0) return false;
      *name = found != nullptr ? name_of(*found) : "";
      return true;
    }
  }
  static IdNames& instance() {
    static IdNames names;
    return names;
  }
  template <class Find>
  std::string lookup(std::map<unsigned, std::string>& cache, unsigned id, Find find) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = cache.find(id);
      if (it != cache.end()) return it->second;
    }
    std::string name;
    if (!find(id, &name)) return "";  // outside the lock: a directory service may be slow
    std::lock_guard<std::mutex> lock(mutex_);
    return cache.emplace(id, std::move(name)).first->second;
  }
  std::mutex mutex_;
  std::map<unsigned, std::string> users_, groups_;  // GUARDED_BY(mutex_)
};

class TarWriter {
 public:
  TarWriter(const std::string& out, const StopSignal* cancel) : out_(out), cancel_(cancel), tar_(archive_write_new()) {}

  Status open() {
    if (!tar_) return io_error(out_, ENOMEM);
    if (archive_write_set_format_gnutar(tar_.get()) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(tar_.get()) != ARCHIVE_OK ||
        archive_write_open_filename(tar_.get(), out_.c_str()) != ARCHIVE_OK) {
      return failed(out_);
    }
    return Status::Ok();
  }

  // `path` on disk, stored as `name`; a directory with everything below it.
  Status add(const std::string& path, const std::string& name) {
    if (cancel_ != nullptr && cancel_->requested()) return io_error(out_, ECANCELED);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return io_error(path, errno);
    std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
    archive_entry_copy_stat(entry.get(), &st);
    archive_entry_set_pathname(entry.get(), S_ISDIR(st.st_mode) ? (name + "/").c_str() : name.c_str());
    // Owner and group names, as tar shows them.
    if (const std::string u = IdNames::user(st.st_uid); !u.empty()) archive_entry_set_uname(entry.get(), u.c_str());
    if (const std::string g = IdNames::group(st.st_gid); !g.empty()) archive_entry_set_gname(entry.get(), g.c_str());
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      const fs::path target = fs::read_symlink(path, ec);
      if (ec) return Status::Error(ErrorKind::kIo, "tar: " + path + ": " + ec.message(), ec.value());
      archive_entry_set_symlink(entry.get(), target.c_str());
    }
    if (!S_ISREG(st.st_mode)) archive_entry_set_size(entry.get(), 0);
    if (archive_write_header(tar_.get(), entry.get()) < ARCHIVE_WARN) return failed(path);
    if (S_ISREG(st.st_mode)) {
      if (Status s = copy_data(path); !s.ok()) return s;
    }
    if (!S_ISDIR(st.st_mode)) return Status::Ok();
    std::vector<std::string> children;
    std::error_code ec;
    for (const auto& e : list_directory(path, ec)) children.push_back(e.path().filename().string());
    if (ec) return Status::Error(ErrorKind::kIo, "tar: " + path + ": " + ec.message(), ec.value());
    std::sort(children.begin(), children.end());
    for (const auto& c : children) {
      if (Status s = add(path + "/" + c, name + "/" + c); !s.ok()) return s;
    }
    return Status::Ok();
  }

  Status close() {
    if (archive_write_close(tar_.get()) != ARCHIVE_OK) return failed(out_);
    return Status::Ok();
  }

 private:
  Status copy_data(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path, errno);
    std::vector<char> buf(1 << 16);
    Status st = Status::Ok();
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        st = io_error(path, errno);
        break;
      }
      if (n == 0) break;
      if (archive_write_data(tar_.get(), buf.data(), static_cast<size_t>(n)) < 0) {
        st = failed(out_);
        break;
      }
    }
    ::close(fd);
    return st;
  }

  Status failed(const std::string& what) {
    const int code = archive_errno(tar_.get());
    const char* why = archive_error_string(tar_.get());
    if (why == nullptr) return io_error(what, code);
    return Status::Error(ErrorKind::kIo, "tar: " + what + ": " + why, code);
  }

  std::string out_;
  const StopSignal* cancel_;
  std::unique_ptr<archive, ArchiveDeleter> tar_;
};

}  // namespace

Status write_tar_gz(const std::string& dir, const std::string& member, const std::string& out,
                    const StopSignal* cancel) {
  Status st = Status::Ok();
  {
    TarWriter tar(out, cancel);
    st = tar.open();
    if (st.ok()) st = tar.add(dir + "/" + member, member);
    if (st.ok()) st = tar.close();
  }
  if (!st.ok()) ::unlink(out.c_str());
  return st;
}

}  // namespace pdr
