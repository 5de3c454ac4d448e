#include "pdr/job.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string_view>

#include <spdlog/spdlog.h>

#include "engine/tarball.h"
#include "pdr/process.h"
#include "pdr/sha256.h"
#include "pdr/stop_signal.h"
#include "pdr/storage.h"
#include "pdr/template.h"
#include "pdr/work_area.h"
#include "util/file.h"
#include "util/text.h"

namespace fs = std::filesystem;

namespace pdr {
namespace {

Status write_file(const std::string& path, const std::string& text, bool append = false) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  if (fd < 0) return Status::Error(ErrorKind::kIo, path + ": cannot write: " + std::strerror(errno), errno);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : ENOSPC;
      ::close(fd);
      return Status::Error(ErrorKind::kIo, path + ": cannot write: " + std::strerror(e), e);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::Error(ErrorKind::kIo, path + ": cannot write: " + std::strerror(errno), errno);
  return Status::Ok();
}

// Errors of the host, not of a job: no space, no quota, a read-only or vanished file system.
bool is_host_failure(int error_number) {
  return error_number == ENOSPC || error_number == EDQUOT || error_number == EROFS || error_number == EIO;
}

// What a failed program said last: its own last non-empty lines (not the Begin/End/Running
// lines pdr_run writes around it), trimmed, shortened and joined with " | ".
std::string program_tail(const std::string& path, size_t count = 3) {
  auto text = read_file(path);
  if (!text.ok()) return {};
  std::istringstream in(text.value());
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    if (line.rfind("Begin of PDR Job: ", 0) == 0 || line.rfind("End of PDR Job: ", 0) == 0 ||
        line.rfind("Running onion for ", 0) == 0) {
      continue;
    }
    if (line.size() > 160) line = line.substr(0, 160) + "...";
    kept.push_back(printable(line));
    if (kept.size() > count) kept.erase(kept.begin());
  }
  std::string out;
  for (const auto& l : kept) out += (out.empty() ? "" : " | ") + l;
  return out;
}

// The work of one job, stage by stage; each stage failure ends the job with "<stage>: ...".
class JobExecution {
 public:
  JobExecution(const JobPlan& plan, Storage& storage, const ClaimedJob& job, const ParameterValues& params,
               const StopSignal* stop, const JobControl* control)
      : plan_(plan),
        storage_(storage),
        job_(job),
        params_(params),
        stop_(stop),
        control_(control),
        cancel_(control != nullptr ? control->cancel : nullptr) {
    result_.job = job;
    env_ = plan.child_env;
    env_.push_back("PDR_JOB_NAME=" + job.name);
    env_.push_back("PDR_JOB_ID=" + std::to_string(job.id));
    // Unique on this host while this process lives: what carries it was started by this attempt.
    static std::atomic<long long> attempts{0};
    attempt_ = job_attempt_entry(job.id, getpid(), ++attempts);
    env_.push_back(attempt_);
  }

  JobResult run() {
    const auto start = std::chrono::steady_clock::now();
    try {
      if (job_.onion_only) {
        // --force-onion: the onion step again, on the pdr outputs this job stored before.
        if (setup() && fetch_pdr_outputs() && run_onions()) result_.state = JobState::Finished;
      } else if (setup() && run_pdr() && run_onions() && store_pdr_outputs()) {
        result_.state = JobState::Finished;
      }
    } catch (const std::exception& e) {
      // The outputs staged so far stay listed (they are discarded with the failure) and the
      // directory is removed below.
      fail(Stage::Setup, std::string("unexpected error: ") + e.what());
    }
    cleanup();
    result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result_;
  }

 private:
  const PdrSettings& pdr() const { return plan_.settings.pdr; }

  // The attempt failed in `stage`: `what` happened there ("exit code 3"), `detail` adds what
  // people need but a next attempt may see differently (the program's last output). An onion
  // step names its species.
  bool fail(Stage stage, const std::string& what, const std::string& detail = "", const std::string& species = "") {
    result_.state = JobState::Failed;
    result_.stage = stage;
    result_.cause = one_line((species.empty() ? "" : species + ": ") + what).substr(0, 255);
    result_.error =
        one_line(std::string(to_string(stage)) + (species.empty() ? "" : " " + species) + ": " + what + detail);
    return false;
  }

  // A file system error in `stage`: a host failure (the job goes back to pending and this
  // process stops claiming) when it is the disk's, not the job's.
  bool fail_io(Stage stage, const std::string& what, const std::error_code& ec, const std::string& species = "") {
    result_.host_failure = is_host_failure(ec.value());
    return fail(stage, what + ": " + ec.message(), "", species);
  }

  static std::string one_line(std::string text) {
    for (char& c : text) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return text;
  }

  bool stopped() {
    result_.state = JobState::Pending;
    result_.exit_code.reset();  // an earlier step's 0 is not this attempt's end
    result_.error = cancel_ != nullptr && cancel_->requested() ? "lease lost: stopped" : "interrupted";
    return false;
  }

  // The job's own directory: one a finished job handed back (exactly as fresh), or a new one.
  bool setup() {
    if (area() != nullptr) dir_ = area()->take_reusable();
    // Checked again when taken: the base directory may have changed while it waited, or it may
    // have been removed meanwhile.
    if (!dir_.empty() && !reset_for_reuse(/*clean=*/false)) {
      std::error_code ec;
      remove_tree(dir_, ec);
      dir_.clear();
    }
    if (dir_.empty() && !make_dir()) return false;
    return write_inputs();
  }

  // In the process's work area unless the directory is to be kept (--keep-tmp).
  WorkArea* area() const { return control_ != nullptr && !plan_.settings.run.keep_tmp ? control_->area : nullptr; }

  bool make_dir() {
    std::error_code ec;
    const std::string root = area() != nullptr ? area()->path() : plan_.settings.run.scratch_dir;
    if (area() == nullptr) fs::create_directories(root, ec);  // a work area that vanished is not made again unlocked
    // A kept directory names its job; one in the work area serves one job after another.
    std::string pattern =
        root + (area() != nullptr ? std::string("/pdr-job-XXXXXX") : "/pdr-job" + std::to_string(job_.id) + "-XXXXXX");
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      result_.host_failure = true;  // no job can run here until it is fixed
      return fail(Stage::Setup, "cannot create a working directory in " + root + ": " + std::strerror(errno));
    }
    dir_ = buf.data();
    std::vector<std::string> outs = {"pdroutput", "onionoutput", "Out"};
    for (const auto& d : plan_.settings.run.pdr_out_dirs) outs.push_back(d);
    for (const auto& d : outs) {
      fs::create_directories(fs::path(dir_) / d, ec);
      if (ec) {
        return fail_io(Stage::Setup, dir_ + "/" + d, ec);
      }
    }
    const std::string base = pdr().base_dir;
    for (const auto& d : plan_.settings.run.pdr_inp_dirs) {
      const fs::path src = fs::path(base) / d;
      if (!fs::is_directory(src, ec)) continue;
      if (d == "pdrinpdata") {
        // A real directory of links: chem_rates.dat is added here without touching the base dir.
        fs::create_directories(fs::path(dir_) / d, ec);
        const auto entries = list_directory(src, ec);
        if (ec) return fail_io(Stage::Setup, "cannot read " + src.string(), ec);
        for (const auto& entry : entries) {
          fs::create_symlink(entry.path(), fs::path(dir_) / d / entry.path().filename(), ec);
          if (ec) return fail_io(Stage::Setup, "cannot link " + entry.path().string(), ec);
        }
      } else {
        fs::create_directory_symlink(src, fs::path(dir_) / d, ec);
        if (ec) return fail_io(Stage::Setup, "cannot link " + src.string(), ec);
      }
    }
    const fs::path chem_link = fs::path(dir_) / "pdrinpdata" / "chem_rates.dat";
    fs::create_directories(chem_link.parent_path(), ec);
    fs::remove(chem_link, ec);
    fs::create_symlink(plan_.provenance.chem_full_path, chem_link, ec);
    if (ec) return fail_io(Stage::Setup, "cannot link the chemistry file", ec);
    for (const std::string* exe :
         {&pdr().pdr_file_name, &pdr().onion_file_name, &pdr().getctrlind_file_name, &pdr().mrt_file_name}) {
      fs::create_symlink(fs::path(base) / *exe, fs::path(dir_) / *exe, ec);
      if (ec) return fail_io(Stage::Setup, "cannot link " + *exe, ec);
    }
    return true;
  }

  bool write_inputs() {
    if (!plan_.pdrnew_template.empty()) {
      auto text = render_template(plan_.pdrnew_template, TemplateKind::PdrNew, params_, pdr().chem_database,
                                  plan_.pdrnew_template_path);
      if (!text.ok()) return fail(Stage::Setup, text.status().message());
      if (Status st = write_file(dir_ + "/PDRNEW.INP", text.value()); !st.ok()) return setup_write_failed(st);
    }
    auto json = render_template(plan_.json_template, TemplateKind::Json, params_, pdr().chem_database,
                                plan_.json_template_path);
    if (!json.ok()) return fail(Stage::Setup, json.status().message());
    if (Status st = write_file(dir_ + "/pdr_config.json", json.value()); !st.ok()) return setup_write_failed(st);
    return true;
  }

  bool setup_write_failed(const Status& st, Stage stage = Stage::Setup, const std::string& species = "") {
    result_.host_failure = is_host_failure(st.code());
    return fail(stage, st.message(), "", species);
  }

  ProcessResult run_step(const std::string& exe, std::vector<std::string> args, const std::string& output) {
    ProcessSpec spec;
    spec.executable = dir_ + "/" + exe;
    spec.argv = {"./" + exe};
    for (auto& a : args) spec.argv.push_back(std::move(a));
    spec.cwd = dir_;
    spec.env = env_;
    spec.output_path = output;
    spec.timeout_seconds = plan_.settings.run.step_timeout;
    spec.cancel = cancel_;
    ProcessResult r = run_process(spec, stop_);
    if (first_pid_ == 0) first_pid_ = r.pid;
    // What the step left running outside its process group ends with it too: nothing the job
    // started may change its directory or outputs once the step is over.
    if (r.pid > 0) {
      if (const int n = end_processes_with(attempt_, r.pid); n > 0) {
        spdlog::warn("job {}: {} left {} process{} running outside its process group; ended", job_.name, exe, n,
                     n == 1 ? "" : "es");
      }
    }
    return r;
  }

  // `kept_as`: where the program's whole output was stored ("" when it could not be).
  bool step_failed(Stage stage, const std::string& species, const ProcessResult& r, const std::string& output,
                   const std::string& kept_as) {
    if (r.outcome == ProcessResult::Outcome::Stopped) return stopped();
    // A program that failed on a full working disk failed because of the host, not the job:
    // less than 1 MiB or no inode left (what it tried to write may have been more than is left).
    struct statvfs fsinfo;
    if (statvfs(dir_.c_str(), &fsinfo) == 0 &&
        (static_cast<unsigned long long>(fsinfo.f_bavail) * fsinfo.f_frsize < (1ULL << 20) ||
         (fsinfo.f_files > 0 && fsinfo.f_favail == 0))) {
      result_.host_failure = true;
    }
    if (r.outcome == ProcessResult::Outcome::Exited) result_.exit_code = r.exit_code;
    std::string detail;
    const std::string tail = program_tail(output);
    if (!tail.empty() || !kept_as.empty()) {
      detail = " (last output: " + (tail.empty() ? std::string("none") : tail) +
               (kept_as.empty() ? std::string() : "; full output: " + kept_as) + ")";
    }
    return fail(stage, r.describe(), detail, species);
  }

  bool run_pdr() {
    const std::string textout = dir_ + "/pdroutput/TEXTOUT";
    if (Status st = write_file(textout, "Begin of PDR Job: " + local_time_text() + "\n", true); !st.ok()) {
      return setup_write_failed(st, Stage::Pdr);
    }
    entered(Stage::Pdr);
    ProcessResult r = run_step(pdr().pdr_file_name, {}, textout);
    // The closing line is for people reading the log; the run's outcome does not depend on it
    // (a disk that filled meanwhile is found when the outputs are stored).
    (void)write_file(textout, "End of PDR Job: " + local_time_text() + "\n", true);
    if (!r.success()) {
      return step_failed(Stage::Pdr, "", r, textout, keep_log(textout));
    }
    result_.exit_code = 0;
    if (!fs::is_regular_file(dir_ + "/pdroutput/pdrstruct_s.hdf5")) {
      keep_log(textout);
      return fail(Stage::Pdr, "finished but wrote no pdroutput/pdrstruct_s.hdf5");
    }
    return true;
  }

  bool fetch_pdr_outputs() {
    Status st = storage_.retrieve("pdrgrid/pdrstruct" + job_.name + ".hdf5", dir_ + "/pdroutput/pdrstruct_s.hdf5");
    if (!st.ok()) return fail(Stage::Onion, st.message());
    // CTRL_IND is optional for the predecessor's layout; use it when it was stored.
    Status ctrl = storage_.retrieve("pdrgrid/CTRL_IND" + job_.name, dir_ + "/pdroutput/CTRL_IND");
    (void)ctrl;
    return true;
  }

  bool run_onions() {
    std::error_code ec;
    const fs::path out = fs::path(dir_) / "onionoutput";
    for (const auto& species : plan_.settings.model.species) {
      for (const auto& entry : list_directory(out, ec)) remove_entry(entry.path(), ec);
      fs::copy_file(fs::path(pdr().base_dir) / "onioninpdata" / ("ONION3.INP." + species),
                    fs::path(dir_) / "ONION3.INP", fs::copy_options::overwrite_existing, ec);
      if (ec) {
        // The cause without the job's directory (the same failure reads the same next time);
        // the error names it: a full scratch disk is told by where it is.
        result_.host_failure = is_host_failure(ec.value());
        return fail(Stage::Onion, "cannot copy ONION3.INP." + species + ": " + ec.message(), " (into " + dir_ + ")");
      }
      const fs::path ctrl = fs::path(dir_) / "pdroutput" / "CTRL_IND";
      if (fs::exists(ctrl, ec)) {
        fs::copy_file(ctrl, fs::path(dir_) / "CTRL_IND", fs::copy_options::overwrite_existing, ec);
      }
      const std::string textout = (out / "TEXTOUT").string();
      if (Status st = write_file(textout, "Running onion for " + species + "\n"); !st.ok()) {
        return setup_write_failed(st, Stage::Onion, species);
      }
      entered(Stage::Onion, species);
      ProcessResult r = run_step(pdr().onion_file_name, {dir_ + "/pdroutput/pdrstruct_s.hdf5"}, textout);
      if (!r.success()) {
        const std::string kept = store("oniongrid/TEXTOUT" + job_.name + "_" + species, textout, "onion_log")
                                     ? result_.files.back().path
                                     : std::string();
        return step_failed(Stage::Onion, species, r, textout, kept);
      }
      const auto outputs = list_directory(out, ec);
      if (ec) return fail_io(Stage::Onion, "cannot read " + out.string(), ec, species);
      for (const auto& entry : outputs) {
        if (!entry.is_regular_file(ec)) continue;
        const std::string name = entry.path().filename().string();
        const std::string rel = name == "TEXTOUT" ? "oniongrid/TEXTOUT" + job_.name + "_" + species
                                                  : "oniongrid/ONION" + job_.name + "." + name;
        if (!store(rel, entry.path().string(), name == "TEXTOUT" ? "onion_log" : "onion")) return false;
      }
    }
    return true;
  }

  bool store_pdr_outputs() {
    entered(Stage::Storage);
    const std::string& n = job_.name;
    struct Output {
      std::string local, stored, kind;
    };
    const std::vector<Output> outputs = {
        {"pdroutput/TEXTOUT", "TEXTOUT" + n, "output_textout_file"},
        {"pdroutput/pdrout.hdf", "pdr" + n + ".hdf", "output_hdf4_file"},
        {"pdroutput/pdrstruct_s.hdf5", "pdrstruct" + n + ".hdf5", "pdrstruct"},
        {"pdroutput/pdrchem_c.hdf5", "pdrchem" + n + ".hdf5", "pdrchem"},
        {"pdroutput/chemchk.out", "chemchk" + n + ".out", "output_chemchk_file"},
        {"PDRNEW.INP", "PDRNEW" + n + ".INP", "input_pdrnew_inp_file"},
        {"pdr_config.json", "pdr_config" + n + ".json", "input_json_file"},
        {"pdroutput/CTRL_IND", "CTRL_IND" + n, "output_ctrl_ind_file"},
    };
    for (const auto& o : outputs) {
      const std::string local = dir_ + "/" + o.local;
      if (!fs::is_regular_file(local)) continue;
      if (!store("pdrgrid/" + o.stored, local, o.kind)) return false;
    }
    // MCDRT<job>.tar.gz of Out/, built inside this job's own directory.
    const std::string tarball = dir_ + "/MCDRT" + n + ".tar.gz";
    if (Status st = write_tar_gz(dir_, "Out", tarball, cancel_); !st.ok()) {
      if (cancel_ != nullptr && cancel_->requested()) return stopped();
      result_.host_failure = is_host_failure(st.code());
      // The cause without the job's directory, so the same failure reads the same next time.
      return fail(Stage::Storage, "tar of Out/: " + std::string(st.code() ? std::strerror(st.code()) : "failed"),
                  " (" + st.message() + ")");
    }
    return store("pdrgrid/MCDRT" + n + ".tar.gz", tarball, "output_mcdrt_zip_file");
  }

  bool store(const std::string& rel, const std::string& local, const std::string& kind) {
    // Outputs are staged, so storing after a lost lease is harmless; this only saves the work.
    if (cancel_ != nullptr && cancel_->requested()) {
      result_.state = JobState::Pending;
      result_.error = "lease lost: outputs not stored";
      return false;
    }
    auto f = store_file(local, rel, kind);
    if (!f.ok()) {
      // A storage that refuses this job's readable output (no permission, a path that is not a
      // directory) refuses every other job's too: the host's failure, like a full disk, so that
      // the run stops claiming instead of running each job to the end max_attempts times.
      const int code = f.status().code();
      // (Not when the job's own directory was made unwritable by its program: a step's log is
      // copied there first.)
      result_.host_failure =
          is_host_failure(code) || ((code == EACCES || code == EPERM || code == ENOTDIR) &&
                                    ::access(local.c_str(), R_OK) == 0 && ::access(dir_.c_str(), W_OK) == 0);
      return fail(Stage::Storage, f.status().message());
    }
    result_.files.push_back(f.value());
    return true;
  }

  // A step's log is stored from a snapshot of this job's own: whatever a step left running still
  // holds the log and may write to it, while storing reads it (rclone refuses a file that
  // changes as it copies it; a changed file fails its check) and afterwards (a stored log linked
  // to it would change after its sum was recorded). The snapshot goes with the directory.
  Result<StoredFile> store_file(const std::string& local, const std::string& rel, const std::string& kind) {
    if (!is_step_log(kind)) return storage_.store(local, rel, kind, stage_tag());
    const std::string snapshot = dir_ + "/.pdr-stored-log-" + std::to_string(++snapshots_);
    std::error_code ec;
    fs::copy_file(local, snapshot, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return Status::Error(ErrorKind::kIo, local + ": cannot copy the log for storing: " + ec.message(), ec.value());
    return storage_.store(snapshot, rel, kind, stage_tag());
  }

  void entered(Stage stage, const std::string& detail = "") {
    if (control_ != nullptr && control_->stage_started) control_->stage_started(stage, detail);
  }

  // Outputs are staged under this attempt's own names until its outcome is recorded.
  std::string stage_tag() const { return control_ != nullptr ? control_->stage_tag : std::string(); }

  // A failing job keeps its output log in storage as TEXTOUT<job>, for reading what went wrong.
  // Stores the pdr log of a failed attempt; returns where it will be ("" when it could not be).
  std::string keep_log(const std::string& textout) {
    auto f = store_file(textout, "pdrgrid/TEXTOUT" + job_.name, "output_textout_file");
    if (!f.ok()) return {};
    result_.files.push_back(f.value());
    return f->path;
  }

  void cleanup() {
    if (dir_.empty()) return;
    if (plan_.settings.run.keep_tmp) {
      result_.kept_dir = dir_;
      return;
    }
    // Only after a finish, where every program ended by itself (a killed or failed one may have
    // left something behind that the next job must not see), and when nothing the job started
    // still uses it.
    // It is reused under a new name: a process the job left running that remembers the
    // directory by its path (one that cleared its environment and works elsewhere is not
    // found, nor is one whose pid came after a wraparound of pids) writes into nothing, not
    // into the next job's outputs.
    if (area() != nullptr && result_.state == JobState::Finished) {
      std::error_code canon;
      const fs::path real = fs::canonical(dir_, canon);
      if (!canon && !a_process_uses(real.string(), first_pid_) && rename_for_reuse() &&
          reset_for_reuse(/*clean=*/true)) {
        area()->give_back(dir_);
        return;
      }
    }
    std::error_code ec;
    remove_tree(dir_, ec);
    if (ec) spdlog::warn("job {}: cannot remove its working directory {}: {}", job_.name, dir_, ec.message());
  }

  // Gives the directory a new name of the same form make_dir() makes; false when it cannot.
  bool rename_for_reuse() {
    static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 random{std::random_device{}()};
    const std::string parent = dir_.substr(0, dir_.rfind('/') + 1);
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::string name = parent + "pdr-job-";
      for (int i = 0; i < 6; ++i) name += kChars[random() % (sizeof kChars - 1)];
      int renamed = ::renameat2(AT_FDCWD, dir_.c_str(), AT_FDCWD, name.c_str(), RENAME_NOREPLACE);
      if (renamed != 0 && errno == EINVAL) {
        // A filesystem without RENAME_NOREPLACE (NFS): onto a fresh empty directory of that
        // name, which a rename replaces, so nothing of another directory is.
        if (::mkdir(name.c_str(), 0700) == 0 && (renamed = ::rename(dir_.c_str(), name.c_str())) != 0) {
          const int e = errno;
          ::rmdir(name.c_str());
          errno = e;
        }
      }
      if (renamed == 0) {
        dir_ = name;
        return true;
      }
      if (errno != EEXIST) return false;
    }
    return false;
  }

  // Makes the directory what make_dir() makes now: its links (each to the same target) and its
  // output directories, empty; with `clean`, everything the job wrote goes, without it the
  // directory must be that already. False (the directory is not reused) when anything else is
  // found or cannot be removed, or on any error.
  //
  // A finished job's directory is cleaned when it is given back, and checked whole when it is
  // taken (the base directory may have changed meanwhile, something may have written there):
  // that check is the one that counts, so the clean only removes what the job wrote, without
  // reading every link again.
  bool reset_for_reuse(bool clean) noexcept {
    try {
      return reset_layout(clean, /*check_links=*/!clean);
    } catch (const std::exception&) {
      return false;
    }
  }

  bool reset_layout(bool clean, bool check_links) {
    std::error_code ec;
    const std::string base = pdr().base_dir;
    std::map<std::string, fs::path> links;  // name -> target
    std::set<std::string> outs = {"pdroutput", "onionoutput", "Out"};
    for (const auto& d : plan_.settings.run.pdr_out_dirs) outs.insert(d);
    for (const std::string* exe :
         {&pdr().pdr_file_name, &pdr().onion_file_name, &pdr().getctrlind_file_name, &pdr().mrt_file_name}) {
      links[*exe] = fs::path(base) / *exe;
    }
    std::map<std::string, fs::path> inpdata;  // pdrinpdata/: a real directory of links
    for (const auto& d : plan_.settings.run.pdr_inp_dirs) {
      const fs::path src = fs::path(base) / d;
      if (d == "pdrinpdata") {
        if (!check_links) continue;
        if (!fs::is_directory(src, ec)) continue;
        for (const auto& entry : list_directory(src, ec)) inpdata[entry.path().filename()] = entry.path();
        if (ec) return false;
      } else if (!check_links || fs::is_directory(src, ec)) {
        links[d] = src;  // unchecked, a name is only kept: the check when taken looks at it
      }
    }
    inpdata["chem_rates.dat"] = plan_.provenance.chem_full_path;
    // Names that overlap (an output directory named like a link) or nested output directories
    // (a/b): not the layout this checks, so such directories are not reused.
    if (links.count("pdrinpdata") != 0 || outs.count("pdrinpdata") != 0) return false;
    for (const auto& o : outs) {
      if (links.count(o) != 0 || o.find('/') != std::string::npos) return false;
    }
    const auto same_links = [&ec](const fs::path& dir, const std::map<std::string, fs::path>& expected) {
      size_t seen = 0;
      for (const auto& entry : list_directory(dir, ec)) {
        const auto it = expected.find(entry.path().filename());
        if (it == expected.end() || !entry.is_symlink(ec) || fs::read_symlink(entry.path(), ec) != it->second) {
          return false;
        }
        ++seen;
      }
      return !ec && seen == expected.size();
    };
    // Each directory as make_dir() makes it: its owner may write there (a job may take that away).
    const auto owner_may_write = [&ec](const fs::path& p) {
      return (fs::symlink_status(p, ec).permissions() & fs::perms::owner_all) == fs::perms::owner_all && !ec;
    };
    if (check_links && !owner_may_write(dir_)) return false;
    size_t seen = 0;
    const auto entries = list_directory(dir_, ec);
    if (ec) return false;
    for (const auto& entry : entries) {
      const std::string name = entry.path().filename();
      if (const auto it = links.find(name); it != links.end()) {
        if (check_links && (!entry.is_symlink(ec) || fs::read_symlink(entry.path(), ec) != it->second)) return false;
        ++seen;
      } else if (outs.count(name) != 0 || name == "pdrinpdata") {
        // Never emptied through a link (a job may have made one of them a link elsewhere).
        if (entry.is_symlink(ec) || !entry.is_directory(ec)) return false;
        if (name == "pdrinpdata") {
          if (check_links && (!owner_may_write(entry.path()) || !same_links(entry.path(), inpdata))) return false;
        } else {
          if (check_links && !owner_may_write(entry.path())) return false;
          const auto inner_entries = list_directory(entry.path(), ec);
          if (ec) return false;
          for (const auto& inner : inner_entries) {
            if (!clean) return false;
            remove_entry(inner.path(), ec);
            if (ec) return false;
          }
        }
        ++seen;
      } else {
        if (!clean) return false;
        remove_entry(entry.path(), ec);
      }
      if (ec) return false;
    }
    // Unchecked, a link the base directory no longer has may be counted: the check decides.
    return !ec && (!check_links || seen == links.size() + outs.size() + 1);
  }

  const JobPlan& plan_;
  Storage& storage_;
  const ClaimedJob& job_;
  const ParameterValues& params_;
  const StopSignal* stop_;
  const JobControl* control_;
  const StopSignal* cancel_;
  std::vector<std::string> env_;
  std::string dir_;
  std::string attempt_;      // PDR_JOB_ATTEMPT=..., in every program's environment
  long long first_pid_ = 0;  // of the job's first program
  int snapshots_ = 0;        // of logs, for storing
  JobResult result_;
};

}  // namespace

std::string job_attempt_entry(long long job_id, long long run_pid, long long serial) {
  return "PDR_JOB_ATTEMPT=" + std::to_string(job_id) + "-" + std::to_string(run_pid) + "-" + std::to_string(serial);
}

bool is_attempt_of_run(std::string_view entry, long long run_pid) {
  constexpr std::string_view name = "PDR_JOB_ATTEMPT=";
  if (entry.substr(0, name.size()) != name) return false;
  const std::string_view rest = entry.substr(name.size());
  const auto first = rest.find('-'), last = rest.rfind('-');
  return first != std::string_view::npos && first != last &&
         rest.substr(first + 1, last - first - 1) == std::to_string(run_pid);
}

JobResult execute_job(const JobPlan& plan, Storage& storage, const ClaimedJob& job, const ParameterValues& params,
                      const StopSignal* stop, const JobControl* control) {
  try {
    return JobExecution(plan, storage, job, params, stop, control).run();
  } catch (const std::exception& e) {
    JobResult r;
    r.job = job;
    r.state = JobState::Failed;
    r.stage = Stage::Setup;
    r.cause = std::string("unexpected error: ") + e.what();
    r.error = "setup: " + r.cause;
    return r;
  }
}

}  // namespace pdr
