// Layered configuration. Every setting is one schema entry (section.key) and is resolved the same
// way: built-in defaults (default.yaml compiled in) < --config FILE < PDR_* environment < flags.
// Each value remembers where it came from so errors and --dry-run can say so.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pdr/status.h"

namespace pdr {

enum class SettingType { String, Secret, Integer, Real, Bool, List };

struct SettingValue {
  std::string scalar;             // for everything but List
  std::vector<std::string> list;  // for List
  std::string origin;             // "default.yaml:12", "config.yaml:4", "PDR_DB_FILE", "--dens"
};

// Looks up an environment variable; injected so tests never touch the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();
// The names of the variables of this process's environment.
std::vector<std::string> environment_names();

class Config {
 public:
  // The compiled-in defaults; a failure here is a build defect.
  static Result<Config> Defaults();

  // Layers a YAML document over the current values. `origin` names it in errors ("my.yaml").
  Status apply_yaml(const std::string& text, const std::string& origin);
  Status apply_yaml_file(const std::string& path);
  // Layers the PDR_* variables (the predecessor's names) over the current values.
  Status apply_environment(const EnvLookup& env);
  // A note for each PDR_* name of `names` (the variables set) that pdr_run does not read: a
  // misspelled one, or one the predecessor read and pdr_run has no use for.
  void note_unread_variables(const std::vector<std::string>& names);
  // Layers one command-line value; `flag` names it in errors.
  Status set_scalar(const std::string& key, const std::string& value, const std::string& flag);
  Status set_list(const std::string& key, const std::vector<std::string>& values, const std::string& flag);

  const std::string& str(const std::string& key) const;
  long long integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool boolean(const std::string& key) const;
  const std::vector<std::string>& list(const std::string& key) const;
  const std::string& origin(const std::string& key) const;
  bool has(const std::string& key) const;

  // The non_default_parameters given by the user (column name -> value text).
  std::map<std::string, std::string> non_default_parameters() const;

  // List values a flag replaced that a file or the environment had given, in order (key, value).
  const std::vector<std::pair<std::string, SettingValue>>& replaced() const { return replaced_; }

  // Every effective setting, one "section.key = value   # origin" line, secrets as ***.
  std::string describe() const;

  // Keys accepted for compatibility that change nothing, each with its file:line and why.
  const std::vector<std::string>& notes() const { return notes_; }
  void add_note(std::string note) { notes_.push_back(std::move(note)); }

 private:
  std::map<std::string, SettingValue> values_;
  std::vector<std::pair<std::string, SettingValue>> replaced_;
  std::vector<std::string> notes_;
};

// The closest candidate to `word` (edit distance), or "" when nothing is close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace pdr
