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
  pdr_run verify --model-name m1          re-check stored outputs; redo jobs whose outputs changed

Settings: built-in defaults < --config FILE < PDR_* environment < flags. Grid values use
10*log10 units for dens, mass and chi ("30" = 1e3) and percent for metal ("100" = solar).
Exit codes: 0 all jobs done, 1 some job failed, 2 usage/config/database error, 130 interrupted.)");
  auto add_common = [&](CLI::App* a) {
    a->add_option("--config", o.config_file, "YAML configuration file")->check(CLI::ExistingFile);
    a->add_option("--model-name", o.model_name, "grid (model) name; outputs go to <storage>/<name>");
  };
  add_common(&app);
  app.add_flag("--dry-run", o.dry_run, "print the effective configuration and the planned jobs; write nothing");
  auto* single = app.add_flag("--single", o.single, "run exactly one grid point");
  auto* grid = app.add_flag("--grid", o.grid, "run the whole grid (the default)");
  single->excludes(grid);
  app.add_flag("--parallel", o.parallel, "run jobs in parallel");
  app.add_option("--workers", o.workers, "number of parallel jobs (default: cores - run.reserved_cpus)");
  app.add_option("--metal", o.metal, "metallicity values in percent of solar, e.g. 100 50")->allow_extra_args();
  app.add_option("--dens", o.dens, "surface density values, 10*log10(n/cm^-3), e.g. 30 40");
  app.add_option("--mass", o.mass, "clump mass values, 10*log10(M/Msun), e.g. -10 0");
  app.add_option("--chi", o.chi, "FUV field values, 10*log10(chi), e.g. 10 100");
  app.add_option("--species", o.species, "onion species, e.g. CO C+ C O");
  app.add_flag("--keep-tmp", o.keep_tmp, "keep each job's working directory");
  app.add_flag("--force-onion", o.force_onion, "run onion again for finished points, on their stored pdr outputs");
  app.add_flag("--random", o.random, "draw random points instead of the full grid (see --random-count, --seed)");
  app.add_option("--random-count", o.random_count, "number of random points (default 50)");
  app.add_option("--seed", o.seed, "seed of the random draw, to repeat it exactly");
  app.add_option("--json-template", o.json_template,
                 "pdr_config.json template for this run only (the base directory's stays untouched)");

  CLI::App* status = app.add_subcommand("status", "show job counts per state and failed jobs");
  add_common(status);
  status->add_flag("--json", o.json, "print one JSON object (an array without --model-name)");

  CLI::App* verify = app.add_subcommand(
      "verify", "check the stored outputs of finished jobs (size, sha256); put jobs with missing or "
                "changed outputs back to pending");
  add_common(verify);

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
  return pdr::run_grid_command(o, env, std::cout);
}
