// The configuration schema: every accepted section.key, its type and its PDR_* variable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pdr/config.h"

namespace pdr {

struct SettingSpec {
  std::string key;  // "section.key"
  SettingType type;
  std::vector<std::string> env;  // variables, later ones win
};

const std::vector<SettingSpec>& setting_specs();
const SettingSpec* find_setting(const std::string& key);
// The top-level sections and their aliases (model_params -> model_parameters).
const std::vector<std::string>& section_names();
std::string canonical_section(const std::string& name);

// "CO C+ O" -> {"CO", "C+", "O"}: a list given as one text.
std::vector<std::string> split_words(const std::string& text);
// "an integer", "a real number", ... for messages.
const char* type_name(SettingType type);
// Why `text` is no value of `type`: "is not an integer", or for an integer too large for 32
// bits, "is out of range (...)".
std::string not_a(SettingType type, const std::string& text);
// The canonical text of a value of `type`, or nothing when it is not one.
std::optional<std::string> normalise_scalar(SettingType type, const std::string& text);
// The keys of a section ("database" -> "path", "retry.deadline", ...), and those under a prefix.
std::vector<std::string> keys_of_section(const std::string& section);
std::vector<std::string> keys_with_prefix(const std::string& prefix);
// Why a key the predecessor listed but never used is not used here; nullptr for other keys.
const char* predecessor_only_key(const std::string& key);
// " (did you mean 'x'?)" for the closest candidate, or "".
std::string suggestion(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace pdr
