// Storage on an SSH server with OpenSSH's own clients (no shell on this side): one master
// connection per process (ControlMaster) that every worker's transfer reuses, the server's host
// key checked against known_hosts, key or password authentication (the password reaches ssh's
// askpass through its environment, never an argument or a file). Each file is uploaded (under
// its staged name, or a temporary one), checked by the server's sha256sum and renamed.
// The master is a child of this process, not a daemon: it runs in the foreground under a thread
// that waits for it, with a parent-death signal, so it ends with this process however that ends
// (SIGKILL included) and never keeps the password in a process of its own.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "pdr/process.h"
#include "pdr/settings.h"
#include "pdr/sha256.h"
#include "pdr/stop_signal.h"
#include "pdr/storage.h"
#include "storage/directory_listings.h"
#include "util/text.h"

namespace fs = std::filesystem;

namespace pdr {
namespace {

// A path as one word in an sftp batch file.
std::string batch_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class SftpStorage : public Storage {
 public:
  SftpStorage(const StorageSettings& s, std::string root, std::vector<std::string> env, std::string control_dir)
      : settings_(s),
        root_(std::move(root)),
        env_(std::move(env)),
        control_dir_(std::move(control_dir)),
        // A missing directory lists nothing (the remote command cannot fail); ssh failing can.
        listings_([this](const std::string& dir, std::string* out) {
          // A directory that does not exist is listed empty; an ls that fails on one that
          // does (permissions, an I/O error on the server) fails the listing.
          return run(
              ssh_,
              with_options({destination_, "--", "[ ! -e " + shell_quote(dir) + " ] || ls -1a -- " + shell_quote(dir)}),
              out);
        }) {
    ssh_ = find_program("ssh");
    sftp_ = find_program("sftp");
    destination_ = (settings_.username.empty() ? "" : settings_.username + "@") + settings_.host;
  }

  ~SftpStorage() override {
    end_master();
    std::error_code ec;
    fs::remove_all(control_dir_, ec);
  }

  // Opens the master connection (authentication happens here, once). A password is answered by
  // ssh's askpass mechanism: a script in this process's private control directory prints it
  // from the master's environment, so it is in no file, no argument and no later process.
  Status connect() {
    std::vector<std::string> argv = {"-M", "-N", "-o", "ControlPersist=no", destination_};
    std::vector<std::string> env = env_;
    if (!settings_.password.empty()) {
      const std::string askpass = control_dir_ + "/askpass";
      {
        std::ofstream f(askpass);
        f << "#!/bin/sh\nprintf '%s\\n' \"$PDR_SSH_PASSWORD\"\n";
        if (!f) return Status::Io("cannot write " + askpass);
      }
      fs::permissions(askpass, fs::perms::owner_all);
      env.push_back("PDR_SSH_PASSWORD=" + settings_.password);
      env.push_back("SSH_ASKPASS=" + askpass);
      env.push_back("SSH_ASKPASS_REQUIRE=force");
    }
    std::string out;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      if (start_master(with_options(argv, !settings_.password.empty()), env, &out)) return Status::Ok();
      // 255 is ssh's own failure (refused, reset, timed out); a wrong key or password answers the
      // same way every time, so only a few quick tries.
      std::this_thread::sleep_for(std::chrono::milliseconds(300 * attempt));
    }
    return Status::Usage("sftp storage: cannot connect to " + destination_ + " port " + std::to_string(settings_.port) +
                         ": " + out);
  }

  Result<StoredFile> store(const std::string& local_path, const std::string& relative_path, const std::string& kind,
                           const std::string& stage_tag) override {
    auto sum = sha256_file(local_path);
    if (!sum.ok()) return sum.status();
    const std::string final_path = root_ + "/" + relative_path;
    const std::string dest = stage_tag.empty() ? final_path : staged_path(final_path, stage_tag);
    // A staged name is the attempt's own: the upload goes there directly.
    const std::string tmp =
        stage_tag.empty() ? dest + ".tmp" + std::to_string(getpid()) + "-" + std::to_string(++counter_) : dest;
    std::string batch;
    std::string dir;
    std::istringstream parts(dest.substr(0, dest.find_last_of('/')));
    for (std::string part; std::getline(parts, part, '/');) {
      dir += (dir.empty() && dest[0] != '/' ? "" : "/") + part;
      if (!part.empty()) batch += "-mkdir " + batch_quote(dir) + "\n";
    }
    batch += "put " + batch_quote(local_path) + " " + batch_quote(tmp) + "\n";
    std::string out;
    // What a failed upload left under its own name (this attempt's staged name, or a temporary
    // one) goes again; best effort.
    auto drop = [&] {
      std::string ignored;
      sftp("-rm " + batch_quote(tmp) + "\n", &ignored);
      listings_.forget(tmp);
    };
    if (!sftp(batch, &out)) {
      drop();
      return Status::Io("sftp upload of " + final_path + " failed: " + out);
    }
    std::string remote_sum;
    if (!remote_sha256(tmp, &remote_sum)) {
      drop();
      return Status::Io(final_path + ": the server's sha256sum of the uploaded copy failed");
    }
    if (remote_sum != sum.value()) {
      drop();
      return Status::Io(final_path + ": the uploaded copy does not match the output (sha256)");
    }
    if (tmp != dest && !sftp("rename " + batch_quote(tmp) + " " + batch_quote(dest) + "\n", &out)) {
      drop();
      return Status::Io("sftp rename to " + final_path + " failed: " + out);
    }
    listings_.forget(dest);
    std::error_code ec;
    StoredFile f;
    f.kind = kind;
    f.path = url_of(final_path);
    if (!stage_tag.empty()) f.staged_path = url_of(dest);
    f.sha256 = sum.value();
    f.size = static_cast<long long>(fs::file_size(local_path, ec));
    f.mtime = utc_time_text(std::time(nullptr));
    return f;
  }

  // Every staged file of the outcome renamed in one sftp batch (one round trip).
  Status promote(const std::vector<StoredFile>& files) override {
    std::vector<const StoredFile*> staged;
    for (const auto& f : files) {
      if (!f.staged_path.empty()) staged.push_back(&f);
    }
    if (staged.empty()) return Status::Ok();
    std::string out;
    bool renamed = sftp(rename_batch(staged, ""), &out);
    if (!renamed) {
      // The batch stops at its first failed rename. A copy that another process renamed first
      // (a start's settle or a verify renaming the same attempt's copies) is not a failure:
      // every copy is renamed once more, each failure passed over ("-rename"), and then a copy
      // still staged is a failure, one gone must have left the recorded output under its name.
      std::string ignored;
      sftp(rename_batch(staged, "-"), &ignored);
      for (const StoredFile* f : staged) listings_.forget(remote_of(f->staged_path));
      renamed = true;
      for (const StoredFile* f : staged) {
        if (listings_.contains(remote_of(f->staged_path)) || !check(*f).empty()) {
          renamed = false;
          break;
        }
      }
    }
    if (!renamed) {
      // Remove what took its name (no final name may hold an output of a job that is not
      // recorded finished).
      std::string undo, ignored;
      for (const auto& f : files) {
        if (!f.staged_path.empty()) undo += "-rm " + batch_quote(remote_of(f.path)) + "\n";
        listings_.forget(remote_of(f.path));
      }
      sftp(undo, &ignored);
      return Status::Io("sftp rename of staged outputs failed: " + out);
    }
    for (const auto& f : files) listings_.forget(remote_of(f.path));
    return Status::Ok();
  }

  // `prefix` "-": a failed rename does not end the batch.
  std::string rename_batch(const std::vector<const StoredFile*>& files, const std::string& prefix) const {
    std::string batch;
    for (const StoredFile* f : files) {
      batch +=
          prefix + "rename " + batch_quote(remote_of(f->staged_path)) + " " + batch_quote(remote_of(f->path)) + "\n";
    }
    return batch;
  }

  void discard(const std::vector<StoredFile>& files) override {
    std::string batch;
    for (const auto& f : files) {
      if (!f.staged_path.empty()) batch += "-rm " + batch_quote(remote_of(f.staged_path)) + "\n";
    }
    std::string out;
    if (!batch.empty()) sftp(batch, &out);
  }

  // One remote `find` over the output directories; a missing one holds none.
  Result<std::vector<std::string>> staged_copies() override {
    std::string dirs, out;
    for (const auto& dir : output_directories()) dirs += " " + shell_quote(root_ + "/" + dir);
    if (!run(ssh_,
             with_options({destination_, "--",
                           "for d in" + dirs +
                               "; do [ ! -d \"$d\" ] || find \"$d\" -mindepth 1 -maxdepth 1 \\( -type f -o -type l \\) "
                               "-name '.*.staged-*' || exit 1; done"}),
             &out)) {
      return Status::Io("listing " + url_of(root_) + " failed: " + out);
    }
    std::vector<std::string> found;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      std::string final_path, tag;
      if (!line.empty() && parse_staged_path(line, &final_path, &tag)) found.push_back(url_of(line));
    }
    return found;
  }

  Status remove_copy(const std::string& staged) override {
    std::string out;
    if (!sftp("rm " + batch_quote(remote_of(staged)) + "\n", &out)) {
      return Status::Io("sftp rm " + staged + " failed: " + out);
    }
    listings_.forget(remote_of(staged));
    return Status::Ok();
  }

  Status retrieve(const std::string& relative_path, const std::string& local_path) override {
    std::string out;
    const std::string src = root_ + "/" + relative_path;
    if (!sftp("get " + batch_quote(src) + " " + batch_quote(local_path) + "\n", &out)) {
      return Status::Io("sftp download of " + src + " failed: " + out);
    }
    return Status::Ok();
  }

  bool exists(const std::string& stored_path) override { return listings_.contains(remote_of(stored_path)); }
  std::optional<bool> find(const std::string& stored_path) override { return listings_.find(remote_of(stored_path)); }

  std::string check(const StoredFile& f) override {
    std::string sum;
    if (!remote_sha256(remote_of(f.path), &sum)) {
      // Missing only when its directory's listing says so; else the server did not answer, or
      // could not read it.
      const std::optional<bool> listed = listings_.find_again(remote_of(f.path));
      if (listed.has_value() && !*listed) return "output missing: " + f.path;
      // Listed but not hashed (a permission on the server): there, but its content unknown.
      return (listed.has_value() ? kOutputUnreadable : kStorageUnreachable) +
             std::string("ssh sha256sum of " + f.path + " failed");
    }
    if (sum != f.sha256) return "output changed (sha256): " + f.path;
    return "";
  }

 private:
  std::string url_of(const std::string& remote) const {
    return "sftp://" + destination_ + ":" + std::to_string(settings_.port) + remote;
  }

  // The remote path of a recorded "sftp://user@host:port/path".
  std::string remote_of(const std::string& stored) const {
    const std::string prefix = "sftp://" + destination_ + ":" + std::to_string(settings_.port);
    return stored.rfind(prefix, 0) == 0 ? stored.substr(prefix.size()) : stored;
  }

  std::vector<std::string> with_options(std::vector<std::string> args, bool password = false,
                                        bool sftp_port = false) const {
    std::vector<std::string> o = {sftp_port ? "-P" : "-p",
                                  std::to_string(settings_.port),
                                  "-o",
                                  "ControlPath=" + control_dir_ + "/cm",
                                  "-o",
                                  "StrictHostKeyChecking=yes",
                                  "-o",
                                  "ConnectTimeout=20",
                                  "-o",
                                  "ServerAliveInterval=15"};
    if (!settings_.known_hosts.empty()) o.insert(o.end(), {"-o", "UserKnownHostsFile=" + settings_.known_hosts});
    if (!settings_.key_file.empty()) o.insert(o.end(), {"-i", settings_.key_file});
    if (password) {
      o.insert(o.end(), {"-o", "PreferredAuthentications=password,keyboard-interactive", "-o",
                         "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"});
    } else {
      o.insert(o.end(), {"-o", "BatchMode=yes"});
    }
    args.insert(args.begin(), o.begin(), o.end());
    return args;
  }

  // Starts the master in the foreground on a thread of its own and waits until it answers on its
  // control socket (true), or it ended or did not answer within its connect timeout and the
  // time to log in (false, `*out` says why).
  bool start_master(std::vector<std::string> args, const std::vector<std::string>& env, std::string* out) {
    end_master(false);  // an earlier one
    ProcessSpec spec;
    spec.executable = ssh_;
    args.insert(args.begin(), fs::path(ssh_).filename().string());
    spec.argv = std::move(args);
    spec.env = env;
    spec.output_path = control_dir_ + "/master.log";
    std::error_code ec;
    fs::remove(spec.output_path, ec);
    master_stop_ = std::make_unique<StopSignal>();
    master_ended_ = false;
    spec.cancel = master_stop_.get();
    // The parent-death signal is tied to the thread that starts the child: this one waits for
    // it, so it lives exactly as long as the master.
    master_ = std::thread([this, spec] {
      master_result_ = run_process(spec, nullptr);
      master_ended_ = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    for (int wait_ms = 10;; wait_ms = std::min(wait_ms * 2, 200)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      if (master_ended_) break;
      std::string ignored;
      if (run(ssh_, with_options({"-O", "check", destination_}), &ignored)) return true;
      if (std::chrono::steady_clock::now() > deadline) break;
    }
    end_master(false);
    const std::string log = last_line(read_master_log());
    *out = master_result_.describe() + (log.empty() ? "" : ": " + log);
    return false;
  }

  // Asks the master to end (`politely`: over its control socket first), then stops it; it ends
  // by itself with this process otherwise.
  void end_master(bool politely = true) {
    if (!master_.joinable()) return;
    if (!master_ended_ && !politely) {
      master_stop_->request();
    } else if (!master_ended_) {
      std::string out;
      run(ssh_, with_options({"-O", "exit", destination_}), &out);
      for (int i = 0; i < 100 && !master_ended_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (!master_ended_) master_stop_->request();
    }
    master_.join();
  }

  std::string read_master_log() const {
    std::ifstream f(control_dir_ + "/master.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  static std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const size_t nl = text.find_last_of('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
  }

  bool remote_sha256(const std::string& path, std::string* sum) {
    std::string out;
    if (!run(ssh_, with_options({destination_, "--", "sha256sum -- " + shell_quote(path)}), &out)) return false;
    // The server may say more than the sum ("Could not chdir to home directory ...", a banner).
    *sum = sha256_in_answer(out);
    return !sum->empty();
  }

  bool sftp(const std::string& batch, std::string* out) {
    const std::string file = control_dir_ + "/batch" + std::to_string(++counter_);
    {
      std::ofstream f(file);
      f << batch;
    }
    const bool ok = run(sftp_, with_options({"-q", "-b", file, destination_}, false, true), out);
    std::error_code ec;
    fs::remove(file, ec);
    return ok;
  }

  bool run(const std::string& program, std::vector<std::string> args, std::string* out,
           const std::vector<std::string>& env = {}, CapturedRun kind = CapturedRun::Helper) {
    args.insert(args.begin(), fs::path(program).filename().string());
    return run_captured(program, args, env.empty() ? env_ : env, settings_.transfer_timeout, out, "", kind);
  }

  StorageSettings settings_;
  std::string root_;
  std::vector<std::string> env_;
  std::string control_dir_, ssh_, sftp_, destination_;
  std::atomic<long long> counter_{0};
  DirectoryListings listings_;
  std::thread master_;
  std::unique_ptr<StopSignal> master_stop_;
  std::atomic<bool> master_ended_{false};
  ProcessResult master_result_;
};

// Whether `dir` holds only what a control directory holds (the master's socket and its log, the
// askpass script, sftp batch files), nothing below it: anything else is not ours to remove.
bool holds_only_control_files(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    struct stat sb;
    if (::lstat(it->path().c_str(), &sb) != 0 || S_ISDIR(sb.st_mode)) return false;
    const bool batch =
        name.rfind("batch", 0) == 0 && name.size() > 5 && name.find_first_not_of("0123456789", 5) == std::string::npos;
    // ssh binds the socket under a temporary name ("cm.<random>") and renames it.
    if (!(name == "cm" || name.rfind("cm.", 0) == 0 || name == "master.log" || name == "askpass" || batch)) {
      return false;
    }
  }
  return !ec;
}

// Control directories of earlier processes of this user that ended without removing theirs
// (SIGKILL, a power cut): "pdr-ssh-<pid>-XXXXXX" whose process is gone and whose control socket
// no master answers (a live process in another PID namespace that shares /tmp keeps its own).
void remove_stale_control_dirs(const std::string& tmp) {
  std::error_code ec;
  for (fs::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string prefix = "pdr-ssh-";
    if (name.rfind(prefix, 0) != 0) continue;
    const auto dash = name.find('-', prefix.size());
    if (dash == std::string::npos || dash == prefix.size()) continue;
    const std::string digits = name.substr(prefix.size(), dash - prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    struct stat sb;
    if (::lstat(it->path().c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != ::geteuid()) continue;
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (!holds_only_control_files(it->path())) continue;
    const std::string socket = it->path().string() + "/cm";
    if (::lstat(socket.c_str(), &sb) == 0) {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (socket.size() >= sizeof addr.sun_path) continue;
      std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      const bool answered = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
      ::close(fd);
      if (answered) continue;
    }
    std::error_code removed;
    fs::remove_all(it->path(), removed);
  }
}

}  // namespace

Result<std::unique_ptr<Storage>> open_sftp_storage(const StorageSettings& settings, const std::string& model_root,
                                                   const std::vector<std::string>& env) {
  for (const char* program : {"ssh", "sftp"}) {
    if (find_program(program).empty()) {
      return Status::Usage(std::string("storage.type sftp: ") + program +
                           " is not installed (apt-get install openssh-client)");
    }
  }
  const char* tmp = std::getenv("TMPDIR");
  const std::string tmp_dir = tmp != nullptr && *tmp ? tmp : "/tmp";
  remove_stale_control_dirs(tmp_dir);
  // The pid in the name tells a later process whether this one still runs.
  std::string pattern = tmp_dir + "/pdr-ssh-" + std::to_string(::getpid()) + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return Status::Io("cannot create a directory for the ssh control socket");
  auto storage = std::make_unique<SftpStorage>(settings, model_root, env, buf.data());
  if (Status st = storage->connect(); !st.ok()) return st;
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace pdr
