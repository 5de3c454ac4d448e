#include "config/schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include "pdr/parameters.h"
#include "util/text.h"

namespace pdr {

const std::vector<SettingSpec>& setting_specs() {
  using T = SettingType;
  static const std::vector<SettingSpec> specs = {
      {"database.type", T::String, {"PDR_DB_TYPE"}},
      {"database.path", T::String, {"PDR_DB_FILE"}},
      {"database.host", T::String, {"PDR_DB_HOST"}},
      {"database.port", T::Integer, {"PDR_DB_PORT"}},
      {"database.database", T::String, {"PDR_DB_DATABASE"}},
      {"database.username", T::String, {"PDR_DB_USERNAME"}},
      {"database.password", T::Secret, {"PDR_DB_PASSWORD"}},
      {"database.start_deadline", T::Real, {}},
      {"database.pool_size", T::Integer, {}},
      {"database.max_overflow", T::Integer, {}},
      {"database.diagnostics_enabled", T::Bool, {}},
      {"database.pool_timeout", T::Integer, {}},
      {"database.pool_recycle", T::Integer, {}},
      {"database.pool_pre_ping", T::Bool, {}},
      {"database.busy_timeout", T::Integer, {}},
      {"database.unix_socket", T::String, {"PDR_DB_SOCKET"}},
      {"database.sslmode", T::String, {"PDR_DB_SSLMODE"}},
      {"database.connect_timeout", T::Integer, {}},
      {"database.read_timeout", T::Integer, {}},
      {"database.write_timeout", T::Integer, {}},
      {"database.leak_threshold", T::Real, {}},
      {"database.retry.max_attempts", T::Integer, {}},
      {"database.retry.initial_delay", T::Real, {}},
      {"database.retry.max_delay", T::Real, {}},
      {"database.retry.deadline", T::Real, {}},
      {"storage.type", T::String, {"PDR_STORAGE_TYPE"}},
      {"storage.base_dir", T::String, {"PDR_STORAGE_DIR"}},
      {"storage.rclone_remote", T::String, {"PDR_STORAGE_RCLONE_REMOTE"}},
      {"storage.remote_path_prefix", T::String, {"PDR_STORAGE_REMOTE_PATH_PREFIX"}},
      {"storage.transfer_timeout", T::Real, {}},
      {"storage.host", T::String, {"PDR_STORAGE_HOST"}},
      {"storage.port", T::Integer, {}},
      {"storage.username", T::String, {"PDR_STORAGE_USER"}},
      {"storage.password", T::Secret, {"PDR_STORAGE_PASSWORD"}},
      {"storage.key_file", T::String, {"PDR_STORAGE_SSH_KEY"}},
      {"storage.known_hosts", T::String, {}},
      {"pdr.model_name", T::String, {}},
      {"pdr.base_dir", T::String, {"PDR_BASE_DIR", "PDR_EXEC_PATH"}},
      {"pdr.pdr_file_name", T::String, {}},
      {"pdr.onion_file_name", T::String, {}},
      {"pdr.getctrlind_file_name", T::String, {}},
      {"pdr.mrt_file_name", T::String, {}},
      {"pdr.pdrinp_template_file", T::String, {}},
      {"pdr.json_template_file", T::String, {}},
      {"pdr.chem_database", T::String, {}},
      {"pdr.chem_origin", T::String, {}},
      {"user.username", T::String, {}},
      {"user.email", T::String, {}},
      {"model_parameters.metal", T::List, {}},
      {"model_parameters.dens", T::List, {}},
      {"model_parameters.mass", T::List, {}},
      {"model_parameters.chi", T::List, {}},
      {"model_parameters.species", T::List, {}},
      {"model_parameters.alpha", T::Real, {}},
      {"model_parameters.rcore", T::Real, {}},
      {"model_parameters.chemistry", T::String, {}},
      {"model_parameters.create_random_models", T::Bool, {}},
      {"model_parameters.random_model_num", T::Integer, {}},
      {"model_parameters.random_seed", T::String, {}},
      {"directories.pdr_out_dirs", T::List, {}},
      {"directories.pdr_inp_dirs", T::List, {}},
      {"run.parallel", T::Bool, {}},
      {"run.workers", T::Integer, {}},
      {"run.reserved_cpus", T::Integer, {}},
      {"run.keep_tmp", T::Bool, {}},
      {"run.scratch_dir", T::String, {}},
      {"run.step_timeout", T::Real, {}},
      {"run.json_template", T::String, {}},
      {"run.force_onion", T::Bool, {}},
      {"run.lease_seconds", T::Integer, {}},
      {"run.heartbeat_seconds", T::Integer, {}},
      {"run.max_attempts", T::Integer, {}},
      {"run.retry_delay", T::Real, {}},
      {"run.max_points", T::Integer, {}},
      {"run.journal_dir", T::String, {}},
      {"run.outage_wait", T::Real, {}},
      {"run.log_dir", T::String, {"PDR_LOG_DIR"}},
      {"run.log_keep", T::Integer, {}},
      {"run.progress_interval", T::Real, {}},
      {"run.time_left", T::String, {"PDR_TIME_LEFT"}},
      {"run.end_margin", T::String, {}},
      {"run.expected_job_seconds", T::String, {}},
      {"slurm.nodes", T::Integer, {}},
      {"slurm.partition", T::String, {"PDR_SLURM_PARTITION"}},
      {"slurm.time", T::String, {}},
      {"slurm.account", T::String, {"PDR_SLURM_ACCOUNT"}},
      {"slurm.extra_lines", T::List, {}},
      {"slurm.cpus_per_task", T::Integer, {}},
      {"slurm.signal_seconds", T::Integer, {}},
      {"slurm.script_dir", T::String, {}},
      {"slurm.sbatch", T::String, {}},
  };
  return specs;
}

const SettingSpec* find_setting(const std::string& key) {
  for (const auto& spec : setting_specs()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> names = {
      "database",           "storage",     "pdr", "user", "model_parameters", "model_params", "non_default_parameters",
      "non_default_params", "directories", "run", "slurm"};
  return names;
}

std::string canonical_section(const std::string& name) {
  if (name == "model_params") return "model_parameters";
  if (name == "non_default_params") return "non_default_parameters";
  return name;
}

// Values and keys: the rules every layer (file, environment, flag) reads with.
std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string not_a(SettingType type, const std::string& text) {
  if (type == SettingType::Integer) {
    const std::string t = trim_space(text);
    const size_t digits = t.find_first_not_of("0123456789", t.empty() || (t[0] != '-' && t[0] != '+') ? 0 : 1);
    if (!t.empty() && digits == std::string::npos && t.find_first_of("0123456789") != std::string::npos) {
      return "is out of range (an integer from -2147483648 to 2147483647)";
    }
  }
  return std::string("is not ") + type_name(type);
}

const char* type_name(SettingType type) {
  switch (type) {
    case SettingType::String:
    case SettingType::Secret:
      return "a string";
    case SettingType::Integer:
      return "an integer";
    case SettingType::Real:
      return "a number";
    case SettingType::Bool:
      return "true or false";
    case SettingType::List:
      return "a list";
  }
  return "a value";
}

// Checks a scalar against its type and returns its normal form, or an empty optional.
std::optional<std::string> normalise_scalar(SettingType type, const std::string& raw) {
  // A number or a switch may carry spaces around it (PDR_DB_PORT=" 3306" worked for the
  // predecessor); text keeps its own.
  std::string text = raw;
  if (type == SettingType::Integer || type == SettingType::Real || type == SettingType::Bool) {
    text = trim_space(text);
  }
  switch (type) {
    case SettingType::String:
    case SettingType::Secret:
    case SettingType::List:
      return text;
    case SettingType::Integer: {
      std::string n = canonical_number(ParamType::Integer, text);
      if (n.empty()) return std::nullopt;
      return n;
    }
    case SettingType::Real: {
      std::string n = canonical_number(ParamType::Real, text);
      if (n.empty()) return std::nullopt;
      return n;
    }
    case SettingType::Bool: {
      const std::string l = lower(text);
      if (l == "true" || l == "yes" || l == "on") return std::string("true");
      if (l == "false" || l == "no" || l == "off") return std::string("false");
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::vector<std::string> keys_of_section(const std::string& section) {
  std::vector<std::string> keys;
  if (section == "non_default_parameters") {
    for (const auto& p : parameter_specs()) {
      if (p.role == ParamRole::Physics) keys.push_back(p.name);
    }
    return keys;
  }
  for (const auto& spec : setting_specs()) {
    if (spec.key.rfind(section + ".", 0) == 0) keys.push_back(spec.key.substr(section.size() + 1));
  }
  return keys;
}

std::vector<std::string> keys_with_prefix(const std::string& prefix) {
  std::vector<std::string> keys;
  for (const auto& spec : setting_specs()) {
    if (spec.key.rfind(prefix, 0) == 0) keys.push_back(spec.key);
  }
  return keys;
}

// The predecessor's keys it never used, with what pdr_run does instead; nullptr for other keys.
const char* predecessor_only_key(const std::string& key) {
  if (key == "storage.use_mount" || key == "storage.mount_point") {
    return "mounted remotes are not used; outputs go through storage.type (local, rclone or sftp)";
  }
  if (key == "storage.use_local_copy") return "every output is built locally and then stored";
  if (key == "model_parameters.default_species") return "the chemical network is model_parameters.chemistry";
  if (key == "pdr.exe_revision" || key == "pdr.compilation_date") {
    return "the revision and compilation date come from the executable's --version";
  }
  return nullptr;
}

std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best = closest_match(word, candidates);
  return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string w = lower(word);
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    const std::string l = lower(c);
    std::vector<size_t> prev(l.size() + 1), cur(l.size() + 1);
    for (size_t j = 0; j <= l.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= w.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= l.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (w[i - 1] == l[j - 1] ? 0 : 1)});
      }
      prev.swap(cur);
    }
    if (prev[l.size()] < best_distance) {
      best_distance = prev[l.size()];
      best = c;
    }
  }
  const size_t limit = std::max<size_t>(2, w.size() / 3);
  return best_distance <= limit ? best : std::string();
}

}  // namespace pdr
