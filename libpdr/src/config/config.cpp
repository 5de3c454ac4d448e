#include "pdr/config.h"
#include "util/text.h"

#include <sys/stat.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/schema.h"
#include "pdr/parameters.h"

namespace pdr {

extern const char* const kDefaultYaml;  // generated from default.yaml at build time

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::vector<std::string> environment_names() {
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    names.push_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

void Config::note_unread_variables(const std::vector<std::string>& names) {
  std::vector<std::string> known;
  for (const auto& spec : setting_specs()) known.insert(known.end(), spec.env.begin(), spec.env.end());
  for (const auto& name : names) {
    if (name.rfind("PDR_", 0) != 0 || std::find(known.begin(), known.end(), name) != known.end()) continue;
    // Set by pdr_run for the programs it starts, by the mock model's tests, or the predecessor's tests.
    if (name.rfind("PDR_JOB_", 0) == 0 || name.rfind("PDR_MOCK_", 0) == 0 || name.rfind("PDR_TEST_", 0) == 0 ||
        name == "PDR_SSH_PASSWORD") {
      continue;
    }
    std::string why = "pdr_run does not read it";
    if (name == "PDR_STORAGE_USE_MOUNT") {
      why = "mounted remotes are not used; outputs go through storage.type (local, rclone or sftp)";
    } else {
      // A shortened name (PDR_DB_USER for PDR_DB_USERNAME) is further from its variable than a
      // typo: a variable it begins is the one meant.
      std::string near = closest_match(name, known);
      for (const auto& k : known) {
        if (near.empty() && k.size() > name.size() && k.compare(0, name.size(), name) == 0) near = k;
      }
      if (!near.empty()) why += " (did you mean '" + near + "'?)";
    }
    notes_.push_back("environment " + name + " is set: ignored, " + why);
  }
}

Result<Config> Config::Defaults() {
  Config config;
  Status st = config.apply_yaml(kDefaultYaml, "default.yaml");
  if (!st.ok()) return st;
  for (const auto& spec : setting_specs()) {
    if (!config.has(spec.key)) {
      return Status::Usage("default.yaml: built-in defaults lack " + spec.key + " (build defect)");
    }
  }
  return config;
}

Status Config::apply_yaml_file(const std::string& path) {
  // Only a regular file of a sane size: a FIFO would block and /dev/zero never ends.
  constexpr long long kMaxConfigBytes = 16 << 20;
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return Status::Usage(path + ": cannot read the config file (--config)");
  if (!S_ISREG(sb.st_mode)) return Status::Usage(path + ": the config file (--config) is not a regular file");
  if (sb.st_size > kMaxConfigBytes) {
    return Status::Usage(path + ": the config file (--config) has " + std::to_string(sb.st_size) +
                         " bytes; a config is at most 16 MiB");
  }
  std::ifstream in;
  in.open(path, std::ios::binary);
  if (!in) return Status::Usage(path + ": cannot read the config file (--config)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return apply_yaml(buffer.str(), path);
}

namespace {

std::string line_of(const std::string& origin, const YAML::Node& n) {
  return origin + ":" + std::to_string(n.Mark().line + 1);
}

// The entries of a section, with one level of nesting flattened ("retry: {deadline: 5}" becomes
// "retry.deadline"): key nodes, value nodes and their dotted keys.
struct Entries {
  std::vector<std::pair<YAML::Node, YAML::Node>> nodes;
  std::vector<std::string> keys;
};

Entries flatten(const std::string& section, const YAML::Node& body) {
  Entries out;
  for (const auto& entry : body) {
    const std::string key = entry.first.Scalar();
    if (entry.second.IsMap() && section != "non_default_parameters" && find_setting(section + "." + key) == nullptr &&
        !keys_with_prefix(section + "." + key + ".").empty()) {
      for (const auto& inner : entry.second) {
        out.nodes.emplace_back(inner.first, inner.second);
        out.keys.push_back(key + "." + inner.first.Scalar());
      }
    } else {
      out.nodes.emplace_back(entry.first, entry.second);
      out.keys.push_back(key);
    }
  }
  return out;
}

// Keys the predecessor listed but never used: accepted (with a note) where they ask for what
// pdr_run does anyway, an error where they ask for something else. False: not such a key.
Result<bool> predecessor_key(const std::string& full, const YAML::Node& value, const std::string& at,
                             std::vector<std::string>& notes) {
  const char* why = predecessor_only_key(full);
  if (why == nullptr) return false;
  const std::string given = value && value.IsScalar() ? value.Scalar() : "";
  const bool harmless =
      !value || value.IsNull() || given.empty() || (full == "storage.use_mount" && lower(given) == "false") ||
      (full == "storage.use_local_copy" && lower(given) == "true") || full == "model_parameters.default_species" ||
      full == "pdr.exe_revision" || full == "pdr.compilation_date";
  if (!harmless) return Status::Usage(at + ": " + why);
  notes.push_back(at + " is not used: " + why);
  return true;
}

// The type of a key: a setting's, or a physics parameter's under non_default_parameters.
Result<SettingType> type_of(const std::string& section, const std::string& key, const std::string& full,
                            const std::string& at) {
  if (section != "non_default_parameters") {
    const SettingSpec* spec = find_setting(full);
    if (spec == nullptr) return Status::Usage(at + ": unknown key" + suggestion(key, keys_of_section(section)));
    return spec->type;
  }
  const ParamSpec* p = find_parameter(key);
  if (p == nullptr || p->role != ParamRole::Physics) {
    if (p != nullptr && p->role == ParamRole::GridDerived) {
      return Status::Usage(at + ": is computed from the grid and cannot be set here");
    }
    if (p != nullptr && p->role == ParamRole::ModelParameter)
      return Status::Usage(at + ": belongs in model_parameters");
    return Status::Usage(at + ": unknown parameter" + suggestion(key, keys_of_section(section)));
  }
  return p->type == ParamType::Real      ? SettingType::Real
         : p->type == ParamType::Integer ? SettingType::Integer
                                         : SettingType::String;
}

// A YAML value as a setting of `type`.
// `label` is the key as written ("run.workers"), `at` the same with its file and line.
Status read_value(SettingType type, const YAML::Node& value, const std::string& origin, const std::string& full,
                  const std::string& label, const std::string& at, SettingValue* v) {
  // The predecessor's files may give alpha and rcore as a list (it used the first value) and the
  // chemistry as a list of species (it joined them with spaces).
  if (value.IsSequence() && (full == "model_parameters.alpha" || full == "model_parameters.rcore")) {
    if (value.size() != 1) {
      return Status::Usage(at + ": expects one number, got a list of " + std::to_string(value.size()) +
                           " values (a grid over " + full.substr(full.find('.') + 1) + " is not supported)");
    }
    if (!value[0].IsScalar()) return Status::Usage(at + ": expects one number");
    return read_value(type, value[0], origin, full, label, at, v);
  }
  if (value.IsSequence() && full == "model_parameters.chemistry") {
    std::string joined;
    for (const auto& item : value) {
      if (!item.IsScalar()) return Status::Usage(line_of(origin, item) + ": " + label + ": list items must be species");
      joined += (joined.empty() ? "" : " ") + item.Scalar();
    }
    v->scalar = joined;
    return Status::Ok();
  }
  if (type == SettingType::List) {
    if (value.IsSequence()) {
      for (const auto& item : value) {
        if (!item.IsScalar()) {
          return Status::Usage(line_of(origin, item) + ": " + label + ": list items must be plain values");
        }
        v->list.push_back(item.Scalar());
      }
      return Status::Ok();
    }
    if (value.IsScalar()) {
      v->list = split_words(value.Scalar());
      return Status::Ok();
    }
    return Status::Usage(at + ": expects a list");
  }
  if (value.IsNull() && (type == SettingType::String || type == SettingType::Secret)) {
    v->scalar.clear();
    return Status::Ok();
  }
  if (!value.IsScalar()) return Status::Usage(at + ": expects " + type_name(type));
  auto n = normalise_scalar(type, value.Scalar());
  if (!n) return Status::Usage(at + ": '" + value.Scalar() + "' " + not_a(type, value.Scalar()));
  v->scalar = *n;
  return Status::Ok();
}

// Stages the keys of one section of a document.
Status stage_section(const std::string& name, const YAML::Node& body, const std::string& origin,
                     std::map<std::string, SettingValue>& staged, std::vector<std::string>& notes) {
  const std::string section = canonical_section(name);
  const Entries entries = flatten(section, body);
  for (size_t e = 0; e < entries.nodes.size(); ++e) {
    const auto& [key_node, value] = entries.nodes[e];
    const std::string& key = entries.keys[e];
    std::string full = section + "." + key;
    const std::string at = line_of(origin, key_node) + ": " + name + "." + key;
    if (full == "database.connect_args") {
      // The predecessor's driver arguments: only the empty default is meaningful here.
      if (!value || value.IsNull() || (value.IsMap() && value.size() == 0)) continue;
      return Status::Usage(at +
                           ": driver arguments are not passed through; use database.connect_timeout, "
                           "read_timeout, write_timeout or unix_socket");
    }
    if (full == "model_parameters.reserved_cpus") full = "run.reserved_cpus";  // where the predecessor read it
    auto unused = predecessor_key(full, value, at, notes);
    if (!unused.ok()) return unused.status();
    if (unused.value()) continue;
    if (value && value.IsNull()) continue;  // null: not set here (the lower layer's value stays)
    auto type = type_of(section, key, full, at);
    if (!type.ok()) return type.status();
    if (staged.count(full) != 0) return Status::Usage(at + ": set twice (also at " + staged[full].origin + ")");
    SettingValue v;
    v.origin = line_of(origin, key_node);
    if (Status st = read_value(type.value(), value, origin, full, name + "." + key, at, &v); !st.ok()) return st;
    staged[full] = std::move(v);
  }
  return Status::Ok();
}

}  // namespace

Status Config::apply_yaml(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    // One document: a second one (after "---") would be read by nobody, its settings lost.
    std::vector<YAML::Node> documents = YAML::LoadAll(text);
    for (size_t i = 1; i < documents.size(); ++i) {
      if (documents[i] && !documents[i].IsNull()) {
        return Status::Usage(line_of(origin, documents[i]) +
                             ": a second YAML document (after '---'); a configuration file holds one");
      }
    }
    if (!documents.empty()) root = documents.front();
  } catch (const YAML::Exception& e) {
    return Status::Usage(origin + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root || root.IsNull()) return Status::Ok();
  if (!root.IsMap()) return Status::Usage(line_of(origin, root) + ": the top level must be a mapping of sections");
  // Values of this document, applied only when the whole document is valid.
  std::map<std::string, SettingValue> staged;
  std::vector<std::string> staged_notes;
  try {
    for (const auto& section_entry : root) {
      const YAML::Node& name_node = section_entry.first;
      const std::string name = name_node.Scalar();
      const auto& names = section_names();
      if (!name_node.IsScalar() || std::find(names.begin(), names.end(), name) == names.end()) {
        return Status::Usage(line_of(origin, name_node) + ": unknown section '" + name + "'" + suggestion(name, names));
      }
      const YAML::Node& body = section_entry.second;
      if (!body || body.IsNull()) continue;
      if (!body.IsMap()) {
        return Status::Usage(line_of(origin, name_node) + ": section '" + name + "' must be a mapping of keys");
      }
      if (Status st = stage_section(name, body, origin, staged, staged_notes); !st.ok()) return st;
    }
  } catch (const YAML::Exception& e) {
    return Status::Usage(origin + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  for (auto& kv : staged) values_[kv.first] = std::move(kv.second);
  for (auto& n : staged_notes) notes_.push_back(std::move(n));
  return Status::Ok();
}

Status Config::apply_environment(const EnvLookup& env) {
  std::map<std::string, SettingValue> staged;
  for (const auto& spec : setting_specs()) {
    for (const auto& var : spec.env) {
      auto value = env(var);
      if (!value) continue;
      // `VAR=` in a shell or a job script usually means "not set": it does not replace the
      // configured value (a password may be empty, though).
      if (value->empty() && spec.key.find("password") == std::string::npos) {
        notes_.push_back("environment " + var + " is set but empty: ignored, " + spec.key + " keeps its value");
        continue;
      }
      auto n = normalise_scalar(spec.type, *value);
      if (!n) {
        return Status::Usage("environment " + var + ": '" + *value + "' " + not_a(spec.type, *value) + " (" + spec.key +
                             ")");
      }
      staged[spec.key] = SettingValue{*n, {}, var};
    }
  }
  for (auto& kv : staged) values_[kv.first] = std::move(kv.second);
  return Status::Ok();
}

Status Config::set_scalar(const std::string& key, const std::string& value, const std::string& flag) {
  const SettingSpec* spec = find_setting(key);
  if (spec == nullptr || spec->type == SettingType::List) {
    return Status::Usage(flag + ": internal error: no scalar setting " + key);
  }
  auto n = normalise_scalar(spec->type, value);
  if (!n) return Status::Usage(flag + ": '" + value + "' " + not_a(spec->type, value));
  values_[key] = SettingValue{*n, {}, flag};
  return Status::Ok();
}

Status Config::set_list(const std::string& key, const std::vector<std::string>& values, const std::string& flag) {
  const SettingSpec* spec = find_setting(key);
  if (spec == nullptr || spec->type != SettingType::List) {
    return Status::Usage(flag + ": internal error: no list setting " + key);
  }
  // What a file gave is still checked (read_model): a wrong value there is wrong in every run
  // that does not replace it.
  if (auto it = values_.find(key); it != values_.end() && it->second.origin.rfind("default.yaml", 0) != 0) {
    replaced_.emplace_back(key, it->second);
  }
  values_[key] = SettingValue{{}, values, flag};
  return Status::Ok();
}

bool Config::has(const std::string& key) const { return values_.count(key) != 0; }
const std::string& Config::str(const std::string& key) const { return values_.at(key).scalar; }
long long Config::integer(const std::string& key) const { return std::stoll(values_.at(key).scalar); }
double Config::real(const std::string& key) const { return std::strtod(values_.at(key).scalar.c_str(), nullptr); }
bool Config::boolean(const std::string& key) const { return values_.at(key).scalar == "true"; }
const std::vector<std::string>& Config::list(const std::string& key) const { return values_.at(key).list; }
const std::string& Config::origin(const std::string& key) const { return values_.at(key).origin; }

std::map<std::string, std::string> Config::non_default_parameters() const {
  std::map<std::string, std::string> out;
  const std::string prefix = "non_default_parameters.";
  for (const auto& kv : values_) {
    if (kv.first.rfind(prefix, 0) == 0) out[kv.first.substr(prefix.size())] = kv.second.scalar;
  }
  return out;
}

std::string Config::describe() const {
  std::ostringstream out;
  std::string current, current_group;
  auto emit = [&](const std::string& key, const std::string& text, const std::string& from) {
    const std::string section = key.substr(0, key.find('.'));
    if (section != current) {
      out << section << ":\n";
      current = section;
    }
    std::string rest = key.substr(section.size() + 1);
    const auto dot = rest.find('.');
    if (dot != std::string::npos) {
      const std::string group = rest.substr(0, dot);
      if (group != current_group) out << "  " << group << ":\n";
      current_group = group;
      out << "    " << rest.substr(dot + 1) << ": " << text << "  # " << from << "\n";
      return;
    }
    current_group.clear();
    out << "  " << rest << ": " << text << "  # " << from << "\n";
  };
  for (const auto& spec : setting_specs()) {
    const SettingValue& v = values_.at(spec.key);
    std::string text;
    if (spec.type == SettingType::Secret) {
      text = v.scalar.empty() ? "\"\"" : "\"***\"";
    } else if (spec.type == SettingType::List) {
      text = "[";
      for (size_t i = 0; i < v.list.size(); ++i) text += (i ? ", " : "") + quote(v.list[i]);
      text += "]";
    } else if (spec.type == SettingType::String) {
      text = quote(v.scalar);
    } else {
      text = v.scalar;
    }
    emit(spec.key, text, v.origin);
  }
  auto nd = non_default_parameters();
  if (nd.empty()) {
    out << "non_default_parameters: {}\n";
  } else {
    for (const auto& kv : nd) {
      const auto& v = values_.at("non_default_parameters." + kv.first);
      emit("non_default_parameters." + kv.first, kv.second, v.origin);
    }
  }
  return out.str();
}

}  // namespace pdr
