// pdr_run: flags -> CliOptions -> a pdr:: subcommand -> exit code.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "pdr/cli.h"
#include "pdr/exit_code.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("pdr_run"));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S [%l] %v");
  pdr::CliOptions o;
  CLI::App app{"Runs grids of KOSMA-tau PDR models and records every job in a database.", "pdr_run"};
  app.footer(R"(Examples:
  pdr_run --model-name demo --dens 30 40 --chi 10 100 --mass -10 --dry-run
  pdr_run --config my.yaml --model-name m1 --parallel --workers=4 --dens 30 40 --chi 10 100 --mass -10
  pdr_run status --model-name m1          counts per state and the failed jobs
  pdr_run status --model-name m1 --json   the same as one JSON object
  pdr_run status --model-name m1 --grid dens,chi   states over two axes (a failing region stands out)
  pdr_run status --watch                  refresh every 2 s
  pdr_run verify --model-name m1          re-check stored outputs; redo jobs whose outputs changed
  pdr_run worker --model-name m1 --parallel --workers 8   join a registered grid (another node)
  pdr_run retry --model-name m1           queue failed jobs again with fresh attempts
  pdr_run doctor --config my.yaml --nodes 4 --workers 16   check the setup (OK/WARN/FAIL per line)
  pdr_run submit --scheduler slurm --nodes 4 --workers 16 --model-name m1 --dens 30 40 --chi 10 100
                                          one worker per node as a Slurm array job

Settings: built-in defaults < --config FILE < PDR_* environment < flags. Grid values use
10*log10 units for dens, mass and chi ("30" = 1e3) and percent for metal ("100" = solar).
Exit codes: 0 all jobs done, 1 some job failed, 2 usage/config/database error, 130 interrupted.)");
  auto add_common = [&](CLI::App* a) {
    a->add_option("--config", o.config_file, "YAML configuration file")->check(CLI::ExistingFile);
    a->add_option("--model-name", o.model_name, "grid (model) name; outputs go to <storage>/<name>");
  };
  add_common(&app);
  // The flags that describe a grid: for a run and for `submit`.
  auto add_grid_flags = [&](CLI::App* a) {
    a->add_flag("--dry-run", o.dry_run, "print the effective configuration and the planned jobs; write nothing");
    auto* single = a->add_flag("--single", o.single, "run exactly one grid point");
    auto* grid = a->add_flag("--grid", o.grid, "run the whole grid (the default)");
    single->excludes(grid);
    a->add_flag("--parallel", o.parallel, "run jobs in parallel");
    a->add_option("--workers", o.workers, "number of parallel jobs (default: cores - run.reserved_cpus)");
    a->add_option("--metal", o.metal, "metallicity values in percent of solar, e.g. 100 50")->allow_extra_args();
    a->add_option("--dens", o.dens, "surface density values, 10*log10(n/cm^-3), e.g. 30 40");
    a->add_option("--mass", o.mass, "clump mass values, 10*log10(M/Msun), e.g. -10 0");
    a->add_option("--chi", o.chi, "FUV field values, 10*log10(chi), e.g. 10 100");
    a->add_option("--species", o.species, "onion species, e.g. CO C+ C O");
    a->add_flag("--keep-tmp", o.keep_tmp, "keep each job's working directory");
    a->add_flag("--force-onion", o.force_onion, "run onion again for finished points, on their stored pdr outputs");
    a->add_flag("--random", o.random, "draw random points instead of the full grid (see --random-count, --seed)");
    a->add_option("--random-count", o.random_count, "number of random points (default 50)");
    a->add_option("--seed", o.seed, "seed of the random draw, to repeat it exactly");
    a->add_option("--json-template", o.json_template,
                  "pdr_config.json template for this run only (the base directory's stays untouched)");
  };
  add_grid_flags(&app);
  app.add_flag("--register-only", o.register_only,
               "register the grid's jobs and stop (run them with pdr_run worker, or pdr_run submit)");

  CLI::App* status = app.add_subcommand("status", "show job counts per state and failed jobs");
  add_common(status);
  status->add_flag("--json", o.json, "print one JSON object (an array without --model-name)");
  status->add_flag("--watch", o.watch, "print it again every --interval seconds until Ctrl-C");
  status->add_option("--interval", o.interval, "seconds between --watch updates (default 2)")
      ->check(CLI::Range(0.1, 86400.0));
  status->add_option("--grid", o.grid_axes,
                     "a map of job states over two axes, e.g. --grid dens,chi (others aggregated)");
  status->add_flag("--recount", o.recount,
                   "count the jobs from their rows and rewrite the kept counters first (doctor says when needed)");

  CLI::App* verify = app.add_subcommand(
      "verify", "check the stored outputs of finished jobs (size, sha256); put jobs with missing or "
                "changed outputs back to pending");
  add_common(verify);

  CLI::App* worker = app.add_subcommand(
      "worker", "join a registered grid: claim and run its pending jobs until none is left (exit 0, or 1 if any "
                "of its jobs failed)");
  add_common(worker);
  worker->add_flag("--parallel", o.parallel, "run jobs in parallel");
  worker->add_option("--workers", o.workers, "number of parallel jobs (default: cores - run.reserved_cpus)");
  worker->add_flag("--keep-tmp", o.keep_tmp, "keep each job's working directory");
  worker->add_option("--species", o.species, "onion species, e.g. CO C+ C O");
  worker->add_option("--json-template", o.json_template, "pdr_config.json template for this run only");

  CLI::App* retry = app.add_subcommand("retry", "queue the failed jobs of a model again with fresh attempts");
  add_common(retry);
  retry->add_flag("--ownerless", o.ownerless,
                  "also queue jobs the Python pdr_run left running (it records no owner): only when no such run "
                  "is alive");

  CLI::App* doctor = app.add_subcommand(
      "doctor", "check a setup: config, database, schema, server limits, storage, executables, templates");
  add_common(doctor);
  doctor->add_flag("--parallel", o.parallel, "check for a parallel run");
  doctor->add_option("--workers", o.workers, "workers per process (for the max_connections check)");
  doctor->add_option("--nodes", o.nodes, "processes/nodes sharing the database (slurm.nodes)");

  CLI::App* submit = app.add_subcommand(
      "submit", "register the grid and submit one `pdr_run worker` per node as a Slurm array job");
  add_common(submit);
  add_grid_flags(submit);
  submit->add_option("--scheduler", o.scheduler, "batch system (slurm)")->required();
  submit->add_option("--nodes", o.nodes, "array tasks, one worker process per node (slurm.nodes)");
  submit->add_option("--partition", o.partition, "Slurm partition (slurm.partition)");
  submit->add_option("--time", o.time_limit, "time limit per task, Slurm format, e.g. 2-00:00:00 (slurm.time)");
  submit->add_option("--account", o.account, "Slurm account (slurm.account)");
  submit->add_option("--sbatch-line", o.sbatch_lines, "an extra line for the script header (repeatable), "
                     "e.g. '#SBATCH --mem=8G'")->take_all();
  submit->footer(R"(Example:
  pdr_run submit --scheduler slurm --nodes 4 --workers 16 --config my.yaml --model-name m1 \
      --dens 30 40 --chi 10 100 --mass -10 --partition compute --time 1-00:00:00
  pdr_run submit ... --dry-run     print the sbatch script; register and submit nothing)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "pdr_run: " << e.what() << " (see pdr_run --help)\n";
    return pdr::kExitUsage;
  }
  const auto env = pdr::process_environment();
  if (status->parsed()) return pdr::status_command(o, env, std::cout);
  if (verify->parsed()) return pdr::verify_command(o, env, std::cout);
  if (worker->parsed()) return pdr::worker_command(o, env, std::cout);
  if (retry->parsed()) return pdr::retry_command(o, env, std::cout);
  if (submit->parsed()) return pdr::submit_command(o, env, std::cout);
  if (doctor->parsed()) return pdr::doctor_command(o, env, std::cout);
  return pdr::run_grid_command(o, env, std::cout);
}
