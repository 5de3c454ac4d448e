#include "pdr/cli.h"

namespace pdr {

Result<Config> load_config(const CliOptions& o, const EnvLookup& env) {
  auto config = Config::Defaults();
  if (!config.ok()) return config.status();
  Config& c = config.value();
  if (!o.config_file.empty()) {
    if (Status st = c.apply_yaml_file(o.config_file); !st.ok()) return st;
  }
  if (Status st = c.apply_environment(env); !st.ok()) return st;
  auto set = [&](const char* key, const std::string& value, const char* flag) {
    return c.set_scalar(key, value, flag);
  };
  if (o.model_name) {
    if (Status st = set("pdr.model_name", *o.model_name, "--model-name"); !st.ok()) return st;
  }
  if (o.parallel) {
    if (Status st = set("run.parallel", "true", "--parallel"); !st.ok()) return st;
  }
  if (o.workers) {
    if (*o.workers < 1) return Status::Usage("--workers: must be at least 1 (got " + std::to_string(*o.workers) + ")");
    if (Status st = set("run.workers", std::to_string(*o.workers), "--workers"); !st.ok()) return st;
  }
  if (o.force_onion) {
    if (Status st = set("run.force_onion", "true", "--force-onion"); !st.ok()) return st;
  }
  if (o.random) {
    if (Status st = set("model_parameters.create_random_models", "true", "--random"); !st.ok()) return st;
  }
  if (o.random_count) {
    if (Status st = set("model_parameters.random_model_num", std::to_string(*o.random_count), "--random-count");
        !st.ok()) {
      return st;
    }
  }
  if (o.seed) {
    if (Status st = set("model_parameters.random_seed", *o.seed, "--seed"); !st.ok()) return st;
  }
  if (!o.json_template.empty()) {
    if (Status st = set("run.json_template", o.json_template, "--json-template"); !st.ok()) return st;
  }
  if (o.keep_tmp) {
    if (Status st = set("run.keep_tmp", "true", "--keep-tmp"); !st.ok()) return st;
  }
  if (o.nodes) {
    if (*o.nodes < 1) return Status::Usage("--nodes: must be at least 1 (got " + std::to_string(*o.nodes) + ")");
    if (Status st = set("slurm.nodes", std::to_string(*o.nodes), "--nodes"); !st.ok()) return st;
  }
  if (o.partition) {
    if (Status st = set("slurm.partition", *o.partition, "--partition"); !st.ok()) return st;
  }
  if (o.time_limit) {
    if (Status st = set("slurm.time", *o.time_limit, "--time"); !st.ok()) return st;
  }
  if (o.account) {
    if (Status st = set("slurm.account", *o.account, "--account"); !st.ok()) return st;
  }
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
  if (o.seed && !c.boolean("model_parameters.create_random_models")) {
    return Status::Usage("--seed " + *o.seed +
                         " draws random points: it needs --random "
                         "(or model_parameters.create_random_models: true)");
  }
  if (o.random_count && !c.boolean("model_parameters.create_random_models")) {
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
  return config;
}

}  // namespace pdr
