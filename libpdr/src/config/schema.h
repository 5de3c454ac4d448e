// The configuration schema: every accepted section.key, its type and its PDR_* variable.
#pragma once

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

}  // namespace pdr
