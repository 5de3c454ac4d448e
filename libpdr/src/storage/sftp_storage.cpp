// Storage on an SSH server with OpenSSH's own clients (no shell on this side): one master
// connection per process (ControlMaster) that every worker's transfer reuses, the server's host
// key checked against known_hosts, key or password authentication (the password reaches sshpass
// through its environment, never an argument). Each file is uploaded under a temporary name,
// checked by the server's sha256sum and renamed into place.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pdr/process.h"
#include "storage/directory_listings.h"
#include "pdr/settings.h"
#include "pdr/sha256.h"
#include "pdr/storage.h"

namespace fs = std::filesystem;

namespace pdr {
namespace {

// A remote path as one word for the server's shell.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

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
          return run(ssh_, with_options({destination_, "--", "ls -1a " + shell_quote(dir) + " 2>/dev/null || true"}),
                     out);
        }) {
    ssh_ = find_program("ssh");
    sftp_ = find_program("sftp");
    destination_ = (settings_.username.empty() ? "" : settings_.username + "@") + settings_.host;
  }

  ~SftpStorage() override {
    std::string out;
    run(ssh_, with_options({"-O", "exit", destination_}), &out);
    std::error_code ec;
    fs::remove_all(control_dir_, ec);
  }

  // Opens the master connection (authentication happens here, once).
  Status connect() {
    std::vector<std::string> argv = {"-M", "-N", "-f", "-o", "ControlPersist=yes", destination_};
    std::vector<std::string> env = env_;
    std::string program = ssh_;
    if (!settings_.password.empty()) {
      program = find_program("sshpass");
      if (program.empty()) return Status::Usage("storage.password for sftp needs sshpass (apt-get install sshpass)");
      env.push_back("SSHPASS=" + settings_.password);
      argv.insert(argv.begin(), {"-e", ssh_});
    }
    std::string out;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      if (run(program, with_options(argv, !settings_.password.empty()), &out, env)) return Status::Ok();
      // 255 is ssh's own failure (refused, reset, timed out); a wrong key or password answers the
      // same way every time, so only a few quick tries.
      std::this_thread::sleep_for(std::chrono::milliseconds(300 * attempt));
    }
    return Status::Usage("sftp storage: cannot connect to " + destination_ + " port " + std::to_string(settings_.port) +
                         ": " + out);
  }

  Result<StoredFile> store(const std::string& local_path, const std::string& relative_path,
                           const std::string& kind) override {
    auto sum = sha256_file(local_path);
    if (!sum.ok()) return sum.status();
    const std::string dest = root_ + "/" + relative_path;
    const std::string tmp = dest + ".tmp" + std::to_string(getpid()) + "-" + std::to_string(++counter_);
    std::string batch;
    std::string dir;
    std::istringstream parts(dest.substr(0, dest.find_last_of('/')));
    for (std::string part; std::getline(parts, part, '/');) {
      dir += (dir.empty() && dest[0] != '/' ? "" : "/") + part;
      if (!part.empty()) batch += "-mkdir " + batch_quote(dir) + "\n";
    }
    batch += "put " + batch_quote(local_path) + " " + batch_quote(tmp) + "\n";
    std::string out;
    if (!sftp(batch, &out)) return Status::Io("sftp upload of " + dest + " failed: " + out);
    std::string remote_sum;
    if (!remote_sha256(tmp, &remote_sum) || remote_sum != sum.value()) {
      sftp("-rm " + batch_quote(tmp) + "\n", &out);
      return Status::Io(dest + ": the uploaded copy does not match the output (sha256)");
    }
    if (!sftp("rename " + batch_quote(tmp) + " " + batch_quote(dest) + "\n", &out)) {
      return Status::Io("sftp rename to " + dest + " failed: " + out);
    }
    listings_.forget(dest);
    std::error_code ec;
    StoredFile f;
    f.kind = kind;
    f.path = "sftp://" + destination_ + ":" + std::to_string(settings_.port) + dest;
    f.sha256 = sum.value();
    f.size = static_cast<long long>(fs::file_size(local_path, ec));
    f.mtime = utc_time_text(std::time(nullptr));
    return f;
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

  std::string check(const StoredFile& f) override {
    std::string sum;
    if (!remote_sha256(remote_of(f.path), &sum)) return "output missing: " + f.path;
    if (sum != f.sha256) return "output changed (sha256): " + f.path;
    return "";
  }

 private:
  // The remote path of a recorded "sftp://user@host:port/path".
  std::string remote_of(const std::string& stored) const {
    const std::string prefix = "sftp://" + destination_ + ":" + std::to_string(settings_.port);
    return stored.rfind(prefix, 0) == 0 ? stored.substr(prefix.size()) : stored;
  }

  std::vector<std::string> with_options(std::vector<std::string> args, bool password = false,
                                        bool sftp_port = false) const {
    std::vector<std::string> o = {sftp_port ? "-P" : "-p", std::to_string(settings_.port), "-o",
                                  "ControlPath=" + control_dir_ + "/cm", "-o", "StrictHostKeyChecking=yes",
                                  "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15"};
    if (!settings_.known_hosts.empty()) o.insert(o.end(), {"-o", "UserKnownHostsFile=" + settings_.known_hosts});
    if (!settings_.key_file.empty()) o.insert(o.end(), {"-i", settings_.key_file});
    if (password) {
      o.insert(o.end(), {"-o", "PreferredAuthentications=password,keyboard-interactive", "-o",
                         "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"});
    } else {
      o.insert(o.end(), {"-o", "BatchMode=yes"});
    }
    // sshpass's own arguments come first, then ssh's options.
    size_t at = 0;
    if (!args.empty() && args[0] == "-e") at = 2;
    args.insert(args.begin() + static_cast<long>(at), o.begin(), o.end());
    return args;
  }

  bool remote_sha256(const std::string& path, std::string* sum) {
    std::string out;
    if (!run(ssh_, with_options({destination_, "--", "sha256sum -- " + shell_quote(path)}), &out)) return false;
    std::istringstream in(out);
    in >> *sum;
    return sum->size() == 64;
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
           const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), fs::path(program).filename().string());
    return run_captured(program, args, env.empty() ? env_ : env, settings_.transfer_timeout, out);
  }

  StorageSettings settings_;
  std::string root_;
  std::vector<std::string> env_;
  std::string control_dir_, ssh_, sftp_, destination_;
  std::atomic<long long> counter_{0};
  DirectoryListings listings_;
};

}  // namespace

Result<std::unique_ptr<Storage>> open_sftp_storage(const StorageSettings& settings, const std::string& model_root,
                                                   const std::vector<std::string>& env) {
  for (const char* program : {"ssh", "sftp"}) {
    if (find_program(program).empty()) {
      return Status::Usage(std::string("storage.type sftp: ") + program + " is not installed (apt-get install openssh-client)");
    }
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/pdr-ssh-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return Status::Io("cannot create a directory for the ssh control socket");
  auto storage = std::make_unique<SftpStorage>(settings, model_root, env, buf.data());
  if (Status st = storage->connect(); !st.ok()) return st;
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace pdr
