// Every subcommand of pdr_run: its flags, help text and examples, and the function that runs it.
// A new subcommand is one entry in subcommands() and one *_command.cpp file.
#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdlib>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "pdr/cli.h"
#include "pdr/command_line.h"
#include "pdr/db_manager.h"
#include "pdr/exit_code.h"
#include "util/text.h"

namespace pdr {
namespace {

// CLI11 reads an integer as C does ("010" octal, "0x10" hex); a flag's number is decimal, as in
// the YAML file and PDR_* variables: leading zeros are dropped, a base prefix is refused.
CLI::Validator decimal() {
  return CLI::Validator(
      [](std::string& v) {
        const size_t sign = !v.empty() && (v[0] == '+' || v[0] == '-') ? 1 : 0;
        if (v.size() > sign + 1 && v[sign] == '0') {
          if (v.find_first_not_of("0123456789", sign) != std::string::npos) {
            return "'" + v + "' is not a decimal number";
          }
          const size_t digit = v.find_first_not_of('0', sign);
          v = v.substr(0, sign) + (digit == std::string::npos ? "0" : v.substr(digit));
        }
        return std::string();
      },
      "", "decimal");
}

using Handler = int (*)(const CliOptions&, const EnvLookup&, std::ostream&);

constexpr const char* kMainFooter = R"(Examples:
  pdr_run --config my.yaml --model-name demo --dens 30 40 --chi 10 100 --mass -10 --dry-run
  pdr_run --config my.yaml --model-name m1 --parallel --workers=4 --dens 30 40 --chi 10 100 --mass -10
  pdr_run status --model-name m1          counts per state and the failed jobs
  pdr_run status --model-name m1 --json   the same as one JSON object
  pdr_run status --model-name m1 --grid dens,chi   states over two axes (a failing region stands out)
  pdr_run status --watch                  refresh every 2 s
  pdr_run verify --model-name m1          re-check stored outputs; redo jobs whose outputs changed
  pdr_run worker --model-name m1 --parallel --workers 8   join a registered grid (another node)
  pdr_run retry --model-name m1           queue failed jobs again with fresh attempts
  pdr_run history --model-name m1 --job 100_30_-10_10_00   one job's life: claimed, reaped, finished ...
  pdr_run doctor --config my.yaml --nodes 4 --workers 16   check the setup (OK/WARN/FAIL per line)
  pdr_run submit --scheduler slurm --nodes 4 --workers 16 --model-name m1 --dens 30 40 --chi 10 100
                                          one worker per node as a Slurm array job
  pdr_run help status                     a subcommand's flags and examples (also: pdr_run status --help)
  pdr_run --version                       version, git revision, build type and database backends

Settings: built-in defaults < --config FILE < PDR_* environment < flags. Grid values use
10*log10 units for dens, mass and chi ("30" = 1e3) and percent for metal ("100" = solar).
Exit codes: 0 all jobs done, 1 some job failed, 2 usage/config/database error, 130 interrupted.)";

void add_common(CLI::App& a, CliOptions& o) {
  a.add_option("--config", o.config_file, "YAML configuration file")->check(CLI::ExistingFile);
  a.add_option("--model-name", o.model_name, "grid (model) name; outputs go to <storage>/<name>");
}

void add_run_flags(CLI::App& a, CliOptions& o) {
  a.add_flag("--parallel", o.parallel, "run jobs in parallel");
  a.add_option("--workers", o.workers, "number of parallel jobs (default: cores - run.reserved_cpus)")
      ->transform(decimal());
  a.add_option("--cpus", o.cpus, "accepted for the predecessor's scripts and ignored, as it did; use --workers")
      ->transform(decimal());
  a.add_flag("--keep-tmp", o.keep_tmp, "keep each job's working directory");
  a.add_option("--species", o.species, "onion species, e.g. CO C+ C O");
}

// For the processes that run jobs (a grid run, a worker), not for submit (which has --time).
void add_time_left_flag(CLI::App& a, CliOptions& o) {
  a.add_option("--time-left", o.time_left,
               "how long this process may run (90m, 2h30m, 3600): it starts only jobs predicted to finish in time "
               "(run.time_left; inside Slurm the allocation's end counts too)")
      ->type_name("DURATION");
}

// The flags that describe a grid: for a run and for `submit`.
void add_grid_flags(CLI::App& a, CliOptions& o) {
  a.add_flag("--dry-run", o.dry_run, "print the effective configuration and the planned jobs; write nothing");
  auto* single = a.add_flag("--single", o.single, "run exactly one grid point");
  auto* grid = a.add_flag("--grid", o.grid, "run the whole grid (the default)");
  single->excludes(grid);
  add_run_flags(a, o);
  a.add_option("--metal", o.metal, "metallicity values in percent of solar, e.g. 100 50")->allow_extra_args();
  a.add_option("--dens", o.dens, "surface density values, 10*log10(n/cm^-3), e.g. 30 40");
  a.add_option("--mass", o.mass, "clump mass values, 10*log10(M/Msun), e.g. -10 0");
  a.add_option("--chi", o.chi, "FUV field values, 10*log10(chi), e.g. 10 100");
  a.add_flag("--force-onion", o.force_onion, "run onion again for finished points, on their stored pdr outputs");
  a.add_flag("--random", o.random, "draw random points instead of the full grid (see --random-count, --seed)");
  a.add_option("--random-count", o.random_count, "number of random points (default 50)")->transform(decimal());
  a.add_option("--seed", o.seed, "seed of the random draw, to repeat it exactly");
  a.add_option("--json-template", o.json_template,
               "pdr_config.json template for this run only (the base directory's stays untouched)");
}

void status_flags(CLI::App& a, CliOptions& o) {
  a.add_flag("--json", o.json, "print one JSON object (an array without --model-name)");
  a.add_flag("--watch", o.watch, "print it again every --interval seconds until Ctrl-C");
  a.add_option("--interval", o.interval, "seconds between --watch updates (default 2)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            // A range whose comparisons a NaN would pass: checked as "inside", not "not outside".
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (end == text.c_str() || *end != '\0' || !(v >= 0.1 && v <= 86400.0)) {
              return "expects seconds from 0.1 to 86400, not " + text;
            }
            return {};
          },
          "SECONDS"));
  a.add_option("--grid", o.grid_axes, "a map of job states over two axes, e.g. --grid dens,chi (others aggregated)");
  a.add_option("--show", o.show, "with --grid: states (the default) or runtime (the mean run time of finished jobs)");
  a.add_flag("--recount", o.recount,
             "count the jobs from their rows and rewrite the kept counters first (doctor says when needed)");
}

void worker_flags(CLI::App& a, CliOptions& o) {
  add_run_flags(a, o);
  add_time_left_flag(a, o);
  a.add_option("--json-template", o.json_template, "pdr_config.json template for this run only");
}

void retry_flags(CLI::App& a, CliOptions& o) {
  a.add_flag("--ownerless", o.ownerless,
             "also queue jobs the Python pdr_run left running (it records no owner): only when no such run is alive");
}

void report_flags(CLI::App& a, CliOptions& o) {
  a.add_option("--out", o.out_file,
               "where to write it (default report.html, or report.json with --json; - for stdout)");
  a.add_option("--axes", o.axes, "the maps' two axes (default dens,chi); the other two make the panels");
  a.add_option("--watch", o.every, "rewrite the file every SECONDS until Ctrl-C; the page reloads itself");
  a.add_flag("--json", o.json, "write the same data as one JSON document (for notebooks)");
}

void history_flags(CLI::App& a, CliOptions& o) {
  a.add_option("--job", o.job, "one job, by name or id (default: every job of the model)");
  a.add_option("--since", o.since, "only events since then: a duration back (2h, 3d) or a UTC time YYYY-MM-DD[ HH:MM]");
  a.add_option(
      "--reason", o.reason,
      "only one kind of event: registering, registered, claimed, started, finished, failed, retry, reaped, released, "
      "rejected, "
      "requeued, replayed");
  a.add_flag("--json", o.json, "print the events as one JSON array");
  a.add_flag("--prune", o.prune,
             "delete old events of every model (or of --model-name) with nothing pending or running");
  a.add_option("--older-than", o.older_than, "with --prune: events older than this (e.g. 90d)");
}

void doctor_flags(CLI::App& a, CliOptions& o) {
  a.add_flag("--parallel", o.parallel, "check for a parallel run");
  a.add_option("--workers", o.workers, "workers per process (for the max_connections check)")->transform(decimal());
  a.add_option("--nodes", o.nodes, "processes/nodes sharing the database (slurm.nodes)")->transform(decimal());
}

void submit_flags(CLI::App& a, CliOptions& o) {
  add_grid_flags(a, o);
  a.add_option("--scheduler", o.scheduler, "batch system (slurm)")->required();
  a.add_option("--nodes", o.nodes, "array tasks, one worker process per node (slurm.nodes)")->transform(decimal());
  a.add_option("--partition", o.partition, "Slurm partition (slurm.partition)");
  a.add_option("--time", o.time_limit, "time limit per task, Slurm format, e.g. 2-00:00:00 (slurm.time)");
  a.add_option("--account", o.account, "Slurm account (slurm.account)");
  a.add_option("--sbatch-line", o.sbatch_lines,
               "an extra line for the script header (repeatable), e.g. '#SBATCH --mem=8G'")
      ->take_all();
}

struct Subcommand {
  const char* name;
  const char* description;
  void (*flags)(CLI::App&, CliOptions&);
  Handler run;
  const char* examples;  // the footer of its --help
};

const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> all = {
      {"status", "show job counts per state and failed jobs", status_flags, status_command, R"(Examples:
  pdr_run status --config my.yaml --model-name m1             counts per state and the failed jobs
  pdr_run status --config my.yaml --model-name m1 --json      the same as one JSON object
  pdr_run status --config my.yaml --model-name m1 --grid dens,chi   states over two axes
  pdr_run status --config my.yaml --model-name m1 --grid dens,chi --show runtime   mean run time per cell
  pdr_run status --config my.yaml --watch --interval 5        every model, again every 5 s until Ctrl-C)"},
      {"verify",
       "check the stored outputs of finished jobs (size, sha256); put jobs with missing or changed outputs back to "
       "pending",
       [](CLI::App&, CliOptions&) {}, verify_command, R"(Example:
  pdr_run verify --config my.yaml --model-name m1
Exit codes: 0 every output as recorded, 1 some jobs went back to pending (run them with pdr_run worker), 2 error.)"},
      {"worker",
       "join a registered grid: claim and run its pending jobs until none is left (exit 0, or 1 if any job of the "
       "model failed, whichever process ran it)",
       worker_flags, worker_command, R"(Examples:
  pdr_run --config my.yaml --model-name m1 --dens 30 40 --chi 10 100 --register-only   register once
  pdr_run worker --config my.yaml --model-name m1 --workers 8    then on each node (more than 1 worker runs in parallel))"},
      {"history", "print a job's history (every change of its state, who made it and why), or prune old events",
       history_flags, history_command, R"(Examples:
  pdr_run history --config my.yaml --model-name m1 --job 100_30_-10_10_00   one job's life, oldest first
  pdr_run history --config my.yaml --model-name m1 --reason reaped --since 1d   every job reaped in the last day
  pdr_run history --config my.yaml --model-name m1 --job 1 --json           job id 1 as a JSON array
  pdr_run history --config my.yaml --prune --older-than 90d                 delete events older than 90 days
                                                                           of models with nothing left to run)"},
      {"report",
       "write one self-contained HTML page of a model: state and run-time maps over the grid, progress, failures, "
       "hosts",
       report_flags, report_command, R"(Examples:
  pdr_run report --config my.yaml --model-name m1                      report.html, open it in any browser
  pdr_run report --config my.yaml --model-name m1 --axes mass,metal --out m1.html   maps over mass and metal
  pdr_run report --config my.yaml --model-name m1 --watch 30           rewritten every 30 s until Ctrl-C
  pdr_run report --config my.yaml --model-name m1 --json --out m1.json the same data for a notebook)"},
      {"retry", "queue the failed jobs of a model again with fresh attempts", retry_flags, retry_command, R"(Examples:
  pdr_run retry --config my.yaml --model-name m1                then: pdr_run worker --config my.yaml --model-name m1
  pdr_run retry --config my.yaml --model-name m1 --ownerless    also the jobs the Python pdr_run left running)"},
      {"doctor", "check a setup: config, database, schema, server limits, storage, executables, templates",
       doctor_flags, doctor_command, R"(Examples:
  pdr_run doctor --config my.yaml                          one line per check: OK, WARN or FAIL
  pdr_run doctor --config my.yaml --nodes 4 --workers 16   also the server's limits for 4 nodes x 16 workers)"},
      {"submit", "register the grid and submit one `pdr_run worker` per node as a Slurm array job", submit_flags,
       submit_command, R"(Examples:
  pdr_run submit --scheduler slurm --nodes 4 --workers 16 --config my.yaml --model-name m1 \
      --dens 30 40 --chi 10 100 --mass -10 --partition compute --time 1-00:00:00
  pdr_run submit --scheduler slurm --nodes 4 --workers 16 --config my.yaml --model-name m1 --dens 30 --dry-run
                                   print the sbatch script; register and submit nothing)"},
  };
  return all;
}

#ifndef PDR_VERSION
#define PDR_VERSION "unknown"
#define PDR_GIT_REVISION "unknown"
#define PDR_BUILD_TYPE "unknown"
#endif

std::string version_text() {
  return std::string("pdr_run ") + PDR_VERSION + " (git " + PDR_GIT_REVISION + ", " + PDR_BUILD_TYPE +
         " build)\ndatabase backends: " + database_backends() + "\nstorage: local, rclone, sftp";
}

}  // namespace

struct CommandLine::Impl {
  CLI::App app{"Runs grids of KOSMA-tau PDR models and records every job in a database.", "pdr_run"};
  CliOptions options;
  std::vector<std::pair<CLI::App*, Handler>> commands;
};

CommandLine::CommandLine() : impl_(std::make_unique<Impl>()) {
  CLI::App& app = impl_->app;
  CliOptions& o = impl_->options;
  app.footer(kMainFooter);
  app.set_version_flag("--version", version_text(), "print the version, git revision, build type and backends");
  add_common(app, o);
  add_grid_flags(app, o);
  add_time_left_flag(app, o);
  app.add_flag("--register-only", o.register_only,
               "register the grid's jobs and stop (run them with pdr_run worker, or pdr_run submit)");
  for (const Subcommand& c : subcommands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    add_common(*sub, o);
    c.flags(*sub, o);
    if (c.examples != nullptr) sub->footer(c.examples);
    impl_->commands.emplace_back(sub, c.run);
  }
}

CommandLine::~CommandLine() = default;

namespace {

// "stat" -> "status": the subcommand within two edits of `word`, if one is.
std::string nearest_subcommand(const std::string& word) {
  std::string best;
  size_t best_distance = 3;
  for (const Subcommand& c : subcommands()) {
    const size_t d = edit_distance(word, c.name);
    const bool prefix = word.size() >= 3 && std::string(c.name).rfind(word, 0) == 0;
    if (prefix || d < best_distance) {
      best = c.name;
      best_distance = prefix ? 0 : d;
    }
  }
  return best;
}

int unknown_subcommand(const std::string& word, std::ostream& err) {
  const std::string near = nearest_subcommand(word);
  err << "pdr_run: unknown command '" << word << "'";
  if (!near.empty()) err << "; did you mean '" << near << "'?";
  err << " (see pdr_run --help)\n";
  return kExitUsage;
}

}  // namespace

std::optional<int> CommandLine::parse(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App& app = impl_->app;
  // `pdr_run help [subcommand]`: the same as --help of the program or of the subcommand.
  if (argc >= 2 && std::string(argv[1]) == "help") {
    if (argc == 2) {
      out << app.help();
      return kExitAllDone;
    }
    for (const auto& [sub, handler] : impl_->commands) {
      if (sub->get_name() == argv[2]) {
        out << sub->help("pdr_run");
        return kExitAllDone;
      }
    }
    return unknown_subcommand(argv[2], err);
  }
  // No flag takes an empty value (or one of only spaces): "--workers \"$UNSET\"" must not read as
  // "not given" (CLI11 leaves a number untouched then) any more than an empty grid value does.
  const auto blank = [](std::string_view v) { return v.find_first_not_of(" \t\r\n") == std::string_view::npos; };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto eq = a.find('=');
    const bool joined = a.rfind("--", 0) == 0 && eq != std::string_view::npos && eq > 2 && blank(a.substr(eq + 1));
    if (!blank(a) && !joined) continue;
    std::string flag = joined ? std::string(a.substr(0, eq)) : std::string();
    for (int j = i - 1; flag.empty() && j >= 1; --j) {
      const std::string_view before = argv[j];
      if (before.rfind("--", 0) == 0) flag = std::string(before.substr(0, before.find('=')));
    }
    // After a switch (--json ""), the empty word is a stray argument of its own. The flag is
    // the one of the subcommand given before it (status --grid takes axes, a run's is a switch).
    const CLI::App* command = &app;
    for (int j = 1; j < i; ++j) {
      for (const auto& entry : impl_->commands) {
        if (entry.first->get_name() == argv[j]) command = entry.first;
      }
    }
    const CLI::Option* option = flag.empty() || joined ? nullptr : command->get_option_no_throw(flag);
    if (option != nullptr && option->get_expected_max() == 0) {
      err << "pdr_run: an empty argument after " << flag
          << ", which takes no value (an unset variable in a script?); leave it out\n";
    } else {
      err << "pdr_run: " << (flag.empty() ? std::string("argument ") + std::to_string(i) : flag)
          << (a.empty() || (joined && eq + 1 == a.size()) ? ": an empty value" : ": a value of only spaces")
          << " (an unset variable in a script?); give a value or leave the flag out\n";
    }
    return kExitUsage;
  }
  // CLI11 prints the version at --version and ignores what else is given: "--version --bogus"
  // would succeed. It takes nothing else.
  if (argc > 2) {
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) != "--version") continue;
      err << "pdr_run: --version prints the version and takes no other argument (pdr_run --version)\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ExtrasError& e) {
    // A word where a subcommand would be ("pdr_run stat"): name the command it may have meant.
    // Also after flags ("pdr_run --model-name m stauts"), when it is close to a subcommand.
    const std::vector<std::string> extras = app.remaining();
    if (!extras.empty() && extras.front().rfind("-", 0) != 0 &&
        ((argc >= 2 && extras.front() == argv[1]) || !nearest_subcommand(extras.front()).empty())) {
      return unknown_subcommand(extras.front(), err);
    }
    std::string words;
    for (const auto& w : app.remaining(true)) {
      // "--dens 3 -.5": CLI11 takes "-.5" for a flag, not a negative number.
      if (w.size() > 2 && w[0] == '-' && w[1] == '.' && std::isdigit(static_cast<unsigned char>(w[2]))) {
        err << "pdr_run: " << w << " reads as a flag, not a number: write -0" << w.substr(1)
            << " (see pdr_run --help)\n";
        return kExitUsage;
      }
      words += (words.empty() ? "" : " ") + w;
    }
    err << "pdr_run: " << (words.empty() ? std::string(e.what()) : "arguments not expected here: " + words)
        << " (see pdr_run --help)\n";
    return kExitUsage;
  } catch (const CLI::ConversionError& e) {
    // CLI11 says "Could not convert: --workers = 99999999999".
    const std::string what = e.what();
    const std::string prefix = "Could not convert: ";
    if (what.rfind(prefix, 0) != 0) {
      err << "pdr_run: " << what << " (see pdr_run --help)\n";
    } else {
      err << "pdr_run: " << what.substr(prefix.size())
          << ": not a value this flag takes (too large, or not a number; see pdr_run --help)\n";
    }
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    err << "pdr_run: " << e.what() << " (see pdr_run --help)\n";
    return kExitUsage;
  }
  if (Status st = check_flag_places(); !st.ok()) {
    err << "pdr_run: " << st.message() << "\n";
    return kExitUsage;
  }
  // Flags that mean nothing without another are refused rather than ignored.
  for (const auto& [sub, handler] : impl_->commands) {
    const CLI::Option* interval = sub->get_option_no_throw("--interval");
    if (sub->parsed() && interval != nullptr && interval->count() > 0 && !impl_->options.watch) {
      err << "pdr_run: --interval sets the time between --watch updates: it needs --watch (see pdr_run help "
          << sub->get_name() << ")\n";
      return kExitUsage;
    }
  }
  return std::nullopt;
}

// A grid run's flag given before a subcommand ("pdr_run --dens 30 status") would be parsed as the
// run's and then ignored: refuse it. --config and --model-name mean the same before and after.
Status CommandLine::check_flag_places() const {
  const CLI::App* chosen = nullptr;
  for (const auto& [sub, handler] : impl_->commands) {
    if (sub->parsed()) chosen = sub;
  }
  if (chosen == nullptr) return Status::Ok();
  for (const CLI::Option* opt : impl_->app.get_options()) {
    const std::string name = opt->get_name();
    const std::string sub = chosen->get_name();
    if (opt->count() > 0 && (name == "--config" || name == "--model-name")) {
      // Both places fill the same setting: the later one would win without a word.
      const CLI::Option* again = chosen->get_option_no_throw(name);
      if (again != nullptr && again->count() > 0) {
        return Status::Usage(name + " is given both before and after '" + sub + "': give it once");
      }
      continue;
    }
    if (opt->count() == 0 || name == "--config" || name == "--model-name") continue;
    if (chosen->get_option_no_throw(name) != nullptr) {
      return Status::Usage(name + " before '" + sub + "' would not reach it: give it after the subcommand (pdr_run " +
                           sub + " " + name + " ...)");
    }
    return Status::Usage(name + " before '" + sub + "' is a flag of a grid run, not of '" + sub +
                         "' (see pdr_run help " + sub + ")");
  }
  return Status::Ok();
}

int CommandLine::run(const EnvLookup& env, std::ostream& out) {
  for (const auto& [sub, handler] : impl_->commands) {
    if (sub->parsed()) return handler(impl_->options, env, out);
  }
  return run_grid_command(impl_->options, env, out);
}

}  // namespace pdr
