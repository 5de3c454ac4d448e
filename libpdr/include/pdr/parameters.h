// The kosmatau_parameters columns: name, type, role and default. One table drives the schema,
// the YAML validation of non_default_parameters, the canonical parameter hash and the template
// placeholders KT_VAR<name>_.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pdr {

enum class ParamType { Real, Integer, Text };
enum class ParamRole {
  GridDerived,     // xnsur, sint, zmetal, mass, rtot: computed from the grid point
  ModelParameter,  // alpha, rcore, species (chemistry): model_parameters section
  Physics,         // everything settable through non_default_parameters
  Comment,         // free text, not part of the identity of a point
};

struct ParamSpec {
  const char* name;
  ParamType type;
  ParamRole role;
  const char* default_value;  // text as KOSMA-tau received it
};

const std::vector<ParamSpec>& parameter_specs();
const ParamSpec* find_parameter(std::string_view name);

// One parameter row: column name -> value text (numbers in canonical form).
using ParameterValues = std::map<std::string, std::string>;

// Canonical text for a number of the given type ("1e3" and "1000.0" give the same text), or
// an empty string when the text is not a number of that type.
std::string canonical_number(ParamType type, const std::string& text);

// SHA-256 over every column except the comment, in canonical form: the identity of a point.
std::string parameter_hash(const ParameterValues& values);

}  // namespace pdr
