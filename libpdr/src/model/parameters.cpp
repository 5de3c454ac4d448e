#include "pdr/parameters.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <unordered_map>

#include "pdr/sha256.h"

namespace pdr {

const ParamSpec* find_parameter(std::string_view name) {
  // Looked up for every placeholder of every job's inputs and every column of every claimed
  // parameter row: by hash, not by a walk over the ~100 columns.
  static const std::unordered_map<std::string_view, const ParamSpec*> by_name = [] {
    std::unordered_map<std::string_view, const ParamSpec*> m;
    for (const auto& spec : parameter_specs()) m.emplace(spec.name, &spec);
    return m;
  }();
  const auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : it->second;
}

std::string canonical_number(ParamType type, const std::string& text) {
  if (text.empty()) return {};
  if (type == ParamType::Integer) {
    size_t start = (text[0] == '+' || text[0] == '-') ? 1 : 0;
    if (start == text.size()) return {};
    for (size_t i = start; i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return {};
    }
    long long v = 0;
    const char* first = text.data() + (text[0] == '+' ? 1 : 0);
    auto r = std::from_chars(first, text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return {};
    // What the model reads (a Fortran INTEGER) and the parameter table keeps (INT): 32 bits.
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return {};
    return std::to_string(v);
  }
  if (type == ParamType::Real) {
    // Decimal digits, one sign, one point, an optional exponent: no hex, inf, nan or spaces.
    bool digit = false;
    for (char c : text) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        digit = true;
      } else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E') {
        return {};
      }
    }
    if (!digit) return {};
    const char* first = text.data() + (text[0] == '+' ? 1 : 0);
    double v = 0;
    auto r = std::from_chars(first, text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(v)) return {};
    if (v == 0) v = 0;  // no "-0"
    char buf[64];
    auto w = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, w.ptr);
  }
  return text;
}

std::string parameter_hash(const ParameterValues& values) {
  std::string canonical;
  for (const auto& spec : parameter_specs()) {
    if (spec.role == ParamRole::Comment) continue;
    auto it = values.find(spec.name);
    canonical += spec.name;
    canonical += '=';
    if (it != values.end()) canonical += it->second;
    canonical += '\n';
  }
  return sha256_hex(canonical);
}

}  // namespace pdr
