// The configuration of a command: defaults, then the YAML file, then PDR_* variables, then flags
// (each layer names itself in errors; see Config::origin).
#include "pdr/cli.h"

namespace pdr {
namespace {

std::optional<std::string> flag_on(bool on) { return on ? std::optional<std::string>("true") : std::nullopt; }

template <class T>
std::optional<std::string> number(const std::optional<T>& v) {
  return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

// A count given on the command line must be at least one.
Status at_least_one(const char* flag, const std::optional<int>& v) {
  if (v && *v < 1) return Status::Usage(std::string(flag) + ": must be at least 1 (got " + std::to_string(*v) + ")");
  return Status::Ok();
}

// Scalar flags, each over the key it sets.
Status apply_scalar_flags(const CliOptions& o, Config& c) {
  if (Status st = at_least_one("--workers", o.workers); !st.ok()) return st;
  if (Status st = at_least_one("--nodes", o.nodes); !st.ok()) return st;
  const auto text = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
  const struct {
    const char* key;
    std::optional<std::string> value;
    const char* flag;
  } flags[] = {
      {"pdr.model_name", o.model_name, "--model-name"},
      {"run.parallel", flag_on(o.parallel), "--parallel"},
      {"run.workers", number(o.workers), "--workers"},
      {"run.force_onion", flag_on(o.force_onion), "--force-onion"},
      {"model_parameters.create_random_models", flag_on(o.random), "--random"},
      {"model_parameters.random_model_num", number(o.random_count), "--random-count"},
      {"model_parameters.random_seed", o.seed, "--seed"},
      {"run.json_template", text(o.json_template), "--json-template"},
      {"run.keep_tmp", flag_on(o.keep_tmp), "--keep-tmp"},
      {"run.time_left", text(o.time_left), "--time-left"},
      {"slurm.nodes", number(o.nodes), "--nodes"},
      {"slurm.partition", o.partition, "--partition"},
      {"slurm.time", o.time_limit, "--time"},
      {"slurm.account", o.account, "--account"},
  };
  for (const auto& f : flags) {
    if (!f.value) continue;
    if (Status st = c.set_scalar(f.key, *f.value, f.flag); !st.ok()) return st;
  }
  return Status::Ok();
}

// List flags: the grid axes and species replace the configured list; --sbatch-line adds to it.
Status apply_list_flags(const CliOptions& o, Config& c) {
  if (!o.sbatch_lines.empty()) {
    std::vector<std::string> lines = c.list("slurm.extra_lines");
    lines.insert(lines.end(), o.sbatch_lines.begin(), o.sbatch_lines.end());
    if (Status st = c.set_list("slurm.extra_lines", lines, "--sbatch-line"); !st.ok()) return st;
  }
  const std::pair<const char*, const std::optional<std::vector<std::string>>*> lists[] = {
      {"metal", &o.metal}, {"dens", &o.dens}, {"mass", &o.mass}, {"chi", &o.chi}, {"species", &o.species}};
  for (const auto& l : lists) {
    if (*l.second) {
      const std::string flag = std::string("--") + l.first;
      if (Status st = c.set_list(std::string("model_parameters.") + l.first, **l.second, flag); !st.ok()) return st;
    }
  }
  return Status::Ok();
}

// Flags that mean nothing without another setting are refused, not ignored.
Status check_flag_needs(const CliOptions& o, const Config& c) {
  const bool random = c.boolean("model_parameters.create_random_models");
  if (o.seed && !random) {
    return Status::Usage("--seed " + *o.seed +
                         " draws random points: it needs --random "
                         "(or model_parameters.create_random_models: true)");
  }
  if (o.random_count && !random) {
    return Status::Usage("--random-count " + std::to_string(*o.random_count) +
                         " sets how many random points are drawn: it needs --random "
                         "(or model_parameters.create_random_models: true)");
  }
  if (o.single) {
    for (const char* axis : {"metal", "dens", "mass", "chi"}) {
      const std::string key = std::string("model_parameters.") + axis;
      if (c.list(key).size() > 1) {
        return Status::Usage("--single runs one point, but " + key + " has " + std::to_string(c.list(key).size()) +
                             " values (from " + c.origin(key) + ")");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Config> load_config(const CliOptions& o, const EnvLookup& env) {
  auto config = Config::Defaults();
  if (!config.ok()) return config.status();
  Config& c = config.value();
  if (!o.config_file.empty()) {
    if (Status st = c.apply_yaml_file(o.config_file); !st.ok()) return st;
  }
  if (Status st = c.apply_environment(env); !st.ok()) return st;
  c.note_unread_variables(environment_names());
  if (o.cpus) {
    c.add_note("--cpus " + std::to_string(*o.cpus) +
               ": ignored (the predecessor ignored it too); --workers sets the number of parallel jobs");
  }
  if (Status st = apply_scalar_flags(o, c); !st.ok()) return st;
  if (Status st = apply_list_flags(o, c); !st.ok()) return st;
  if (Status st = check_flag_needs(o, c); !st.ok()) return st;
  return config;
}

}  // namespace pdr
