// `pdr_run submit`: register the grid once and submit one `pdr_run worker` per node as a Slurm
// array job.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <vector>

#include "cli/cli_util.h"
#include "cli/run_common.h"
#include "pdr/cli.h"
#include "pdr/exit_code.h"
#include "pdr/process.h"
#include "pdr/runtime_prediction.h"
#include "pdr/stop_signal.h"
#include "util/text.h"

extern char** environ;

namespace pdr {
namespace {

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("pdr_run") : p.string();
}

// The sbatch array script: one task per node, each running `pdr_run worker` on the model with
// the same configuration file and the flags that change how a job runs. No secret is written:
// the database password reaches the tasks through the environment Slurm exports from sbatch.
std::string slurm_script(const CliOptions& o, const Settings& s, const std::string& log_pattern) {
  const SlurmSettings& sl = s.slurm;
  const int workers = s.run.workers;
  std::ostringstream out;
  out << "#!/bin/bash\n";
  out << "#SBATCH --job-name=pdr_run-" << s.pdr.model_name << "\n";
  out << "#SBATCH --array=0-" << sl.nodes - 1 << "\n";
  out << "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n";
  out << "#SBATCH --cpus-per-task=" << (sl.cpus_per_task > 0 ? sl.cpus_per_task : workers) << "\n";
  out << "#SBATCH --output=" << log_pattern << "\n";
  if (sl.signal_seconds > 0) out << "#SBATCH --signal=B:TERM@" << sl.signal_seconds << "\n";
  if (!sl.partition.empty()) out << "#SBATCH --partition=" << sl.partition << "\n";
  if (!sl.time.empty()) out << "#SBATCH --time=" << sl.time << "\n";
  if (!sl.account.empty()) out << "#SBATCH --account=" << sl.account << "\n";
  // sbatch reads #SBATCH lines only up to the first command: the extra directives go first, the
  // extra commands (module load ...) after them, each kind in the order given.
  auto directive = [](const std::string& line) { return line.rfind("#SBATCH", 0) == 0; };
  for (const auto& line : sl.extra_lines) {
    if (directive(line)) out << line << "\n";
  }
  for (const auto& line : sl.extra_lines) {
    if (!directive(line)) out << line << "\n";
  }
  out << "# Written by pdr_run submit. Each task joins model " << s.pdr.model_name
      << " and claims jobs until none is pending;\n# on SIGTERM (before the time limit) it stops claiming and puts "
         "its running jobs back to pending.\n";
  out << "cd " << shell_quote(invocation_dir()) << " || exit 2\n";
  std::vector<std::string> argv = {self_executable(), "worker"};
  if (!o.config_file.empty()) {
    argv.push_back("--config");
    argv.push_back(std::filesystem::absolute(o.config_file).lexically_normal().string());
  }
  for (const auto& a :
       std::vector<std::string>{"--model-name", s.pdr.model_name, "--parallel", "--workers", std::to_string(workers)}) {
    argv.push_back(a);
  }
  if (o.species) {
    argv.push_back("--species");
    for (const auto& sp : *o.species) argv.push_back(sp);
  }
  if (!s.run.json_template.empty()) {
    argv.push_back("--json-template");
    argv.push_back(s.run.json_template);
  }
  if (o.keep_tmp) argv.push_back("--keep-tmp");
  out << "exec";
  for (const auto& a : argv) out << " " << shell_quote(a);
  out << "\n";
  return out.str();
}

std::string timestamp() { return utc_time_text(static_cast<long long>(std::time(nullptr)), "%Y%m%d-%H%M%S"); }

// Writes the script and submits it; returns what sbatch --parsable answered.
Result<std::string> write_and_submit(const std::string& sbatch, const std::string& dir, const std::string& script_path,
                                     const std::string& script, const StopSignal& stop) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  {
    std::ofstream f(script_path);
    f << script;
    if (!f) return Status::Usage("cannot write " + script_path);
  }
  // sbatch gets this process's whole environment: Slurm hands it to the tasks (the password
  // included, which is therefore never written into the script).
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  std::string answer;
  if (stop.requested()) return Status::Error(ErrorKind::kInterrupted, "interrupted: nothing was submitted");
  bool stopped = false;
  if (!run_captured(sbatch, {"sbatch", "--parsable", script_path}, environment, 120, &answer, "", CapturedRun::Helper,
                    &stop, &stopped)) {
    if (stopped) {
      // sbatch may have handed the array to Slurm before it was stopped: say so, submit nothing more.
      return Status::Error(ErrorKind::kInterrupted,
                           "interrupted while sbatch ran: the array may or may not be submitted; look with squeue -u "
                           "$USER before submitting again (the grid stays registered; script " +
                               script_path + ")");
    }
    return Status::Usage("sbatch failed: " + answer + " (the grid stays registered; script " + script_path + ")");
  }
  return answer;
}

// What makes a submission pointless or unsafe: refused, or said.
Status check_submission(const CliOptions& options, const PreparedGrid& g) {
  if (!options.workers && g.config.integer("run.workers") == 0) {
    // The cores of this (login) node say nothing about the compute nodes.
    return Status::Usage("submit needs --workers W (jobs per node), or run.workers in the config");
  }
  const Settings& s = g.run->settings();
  if (s.database.type == "sqlite") {
    spdlog::warn(
        "database.type is sqlite: every node must see {} on a shared filesystem that supports locking; "
        "MySQL/MariaDB is the safe choice for several nodes",
        s.database.path);
  }
  return Status::Ok();
}

// slurm.sbatch as a path, or found on PATH.
Result<std::string> find_sbatch(const PreparedGrid& g) {
  const Settings& s = g.run->settings();
  const std::string sbatch =
      s.slurm.sbatch.find('/') != std::string::npos ? s.slurm.sbatch : find_program(s.slurm.sbatch);
  if (sbatch.empty() || access(sbatch.c_str(), X_OK) != 0) {
    return Status::Usage("slurm.sbatch: '" + s.slurm.sbatch + "' not found (from " + g.config.origin("slurm.sbatch") +
                         "); is Slurm installed here?");
  }
  return sbatch;
}

// The Slurm jobs of this user under `job_name` that are queued or running, as squeue lists them
// (squeue beside sbatch, or on PATH; an array once, by its job id); empty when there are none or
// squeue cannot tell.
std::vector<std::string> queued_jobs(const std::string& sbatch, const std::string& job_name, const StopSignal& stop) {
  if (job_name.find(',') != std::string::npos) return {};  // squeue --name takes a list
  std::string squeue = (std::filesystem::path(sbatch).parent_path() / "squeue").string();
  if (access(squeue.c_str(), X_OK) != 0) squeue = find_program("squeue");
  if (squeue.empty()) return {};
  std::string answer;
  if (!run_captured(squeue,
                    {"squeue", "--noheader", "--user", std::to_string(getuid()), "--name", job_name, "--format", "%F"},
                    child_environment(), 30, &answer, "", CapturedRun::Helper, &stop)) {
    return {};
  }
  std::vector<std::string> ids;
  std::istringstream lines(answer);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::find(ids.begin(), ids.end(), line) == ids.end()) ids.push_back(line);
  }
  return ids;
}

void print_submitted(const CliOptions& options, const Settings& s, const RegisterReport& reg, const std::string& job_id,
                     const std::string& script_path, std::ostream& out) {
  const long long pending = static_cast<long long>(reg.pending + reg.other_pending);
  out << "model " << s.pdr.model_name << ": " << count_size(reg.points, "point") << " (" << reg.created << " new, "
      << reg.already_finished << " already done, " << pending << " pending)\n";
  out << "submitted Slurm job " << job_id << ": " << s.slurm.nodes << " array tasks x " << s.run.workers
      << " workers; script " << script_path << "\n";
  out << "logs:  " << s.slurm.script_dir << "/" << s.pdr.model_name << "-" << job_id << "_<task>.log\n";
  out << "watch: " << next_command(options, "status", s.pdr.model_name) << "    squeue -j " << job_id << "\n";
}

}  // namespace

int submit_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (options.scheduler != "slurm") {
    return usage_error(
        Status::Usage("--scheduler: '" + options.scheduler + "' is not supported (use --scheduler slurm)"));
  }
  CliOptions o = options;
  o.parallel = true;  // each task runs its workers in parallel
  StopSignal stop;    // from the planning on (run_command.cpp)
  if (!options.dry_run) StopSignal::install_handlers(&stop);
  auto grid = prepare_grid(o, env, /*keep_points=*/!options.dry_run);
  if (!grid.ok()) return usage_error(grid.status());
  PreparedGrid& g = grid.value();
  GridRun& run = *g.run;
  const Settings& s = run.settings();
  if (Status st = check_submission(options, g); !st.ok()) return usage_error(st);
  const std::string stem = s.pdr.model_name + "-" + timestamp();
  const std::string script_path = s.slurm.script_dir + "/" + stem + ".sbatch";
  const std::string log_pattern = s.slurm.script_dir + "/" + s.pdr.model_name + "-%A_%a.log";
  const std::string script = slurm_script(o, s, log_pattern);
  if (options.dry_run) {
    out << "# pdr_run submit --dry-run: nothing was registered, written or submitted\n";
    out << "# " << g.plan.count << " planned jobs of model '" << s.pdr.model_name << "'; " << s.slurm.nodes
        << " array tasks x " << s.run.workers << " workers; the script would be " << script_path << "\n";
    out << script;
    return kExitAllDone;
  }
  auto sbatch = find_sbatch(g);
  if (!sbatch.ok()) return usage_error(sbatch.status());
  if (Status st = check_creatable(s.slurm.script_dir, true, "slurm.script_dir"); !st.ok()) return usage_error(st);
  if (stop.requested()) return interrupted_while_planning(s.pdr.model_name);
  log_notes(g);
  if (Status st = run.check_locations(/*registering=*/true); !st.ok()) return usage_error(st);
  if (Status st = run.open(stop); !st.ok()) return setup_error(st, s.pdr.model_name);
  if (Status st = run.register_points(g.plan.points, stop); !st.ok()) {
    return setup_error(st, s.pdr.model_name);
  }
  const RegisterReport& reg = run.registered();
  const long long pending = static_cast<long long>(reg.pending + reg.other_pending);
  if (pending == 0) {
    out << "model " << s.pdr.model_name << ": " << count_size(reg.points, "point")
        << ", all already done; nothing submitted\n";
    return kExitAllDone;
  }
  if (stop.requested()) {  // after the registration, before anything reaches Slurm
    spdlog::error("interrupted: model {} is registered, nothing was submitted", s.pdr.model_name);
    return kExitInterrupted;
  }
  // Another array of this model still queued or running: nothing runs twice (the workers share
  // the grid through the database), but a second submit is more often a slip than more nodes.
  const std::string name = "pdr_run-" + s.pdr.model_name;
  if (auto earlier = queued_jobs(sbatch.value(), name, stop); !earlier.empty()) {
    std::string list;
    for (const auto& id : earlier) list += (list.empty() ? "" : " ") + id;
    spdlog::warn(
        "model {} already has Slurm job(s) {} queued or running ({}); this array's workers share its pending jobs "
        "with them (scancel the one not wanted)",
        s.pdr.model_name, list, name);
  }
  auto answer = write_and_submit(sbatch.value(), s.slurm.script_dir, script_path, script, stop);
  if (!answer.ok()) {
    spdlog::error("{}", answer.status().message());
    return answer.status().kind() == ErrorKind::kInterrupted ? kExitInterrupted : kExitUsage;
  }
  // sbatch --parsable answers "<id>[;<cluster>]"; its warnings ("sbatch: warning: ...") may come
  // first, in the same captured output: the id is the last line that starts with a digit.
  std::string job_id;
  {
    std::istringstream lines(answer.value());
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) job_id = line.substr(0, line.find(';'));
    }
  }
  if (job_id.empty()) job_id = answer->substr(0, answer->find_first_of(";\n"));
  print_submitted(options, s, reg, job_id, script_path, out);
  if (auto limit = parse_slurm_time(s.slurm.time); limit && *limit > 0) {
    // Each node's workers claim only what fits in its allocation (walltime-aware claiming).
    std::string line;
    if (run.predict_fit(static_cast<double>(*limit), &line).ok()) out << line << "\n";
  }
  return kExitAllDone;
}

}  // namespace pdr
