#include "pdr/template.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string_view>
#include <vector>

namespace pdr {
namespace {

constexpr const char* kMarker = "KT_VAR";
constexpr size_t kMarkerLen = 6;

// The longest known name N such that text[pos..] starts with N + "_". Names are made of
// letters, digits and underscores: each underscore of the run of such characters at pos ends a
// candidate, looked up by hash.
const char* match_name(const std::string& text, size_t pos, TemplateKind kind) {
  const char* best = nullptr;
  for (size_t q = pos; q < text.size(); ++q) {
    const unsigned char c = static_cast<unsigned char>(text[q]);
    if (c == '_' && q > pos) {
      const std::string_view candidate(text.data() + pos, q - pos);
      if (const ParamSpec* spec = find_parameter(candidate); spec != nullptr) {
        best = spec->name;
      } else if (kind == TemplateKind::Json && candidate == "CHEM_DATABASE_FILE") {
        best = "CHEM_DATABASE_FILE";
      }
    } else if (!std::isalnum(c) && c != '_') {
      break;
    }
  }
  return best;
}

size_t line_of(const std::string& text, size_t pos) {
  size_t line = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

std::string placeholder_at(const std::string& text, size_t pos) {
  size_t end = pos + kMarkerLen;
  while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
  return text.substr(pos, end - pos);
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

std::string format_real(double v) {
  char buf[64];
  const double a = std::fabs(v);
  if (a >= 1000.0 || a < 0.1) {
    std::snprintf(buf, sizeof buf, "%.3e", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6f", v);
  }
  return buf;
}

Status check_template(const std::string& text, TemplateKind kind, const std::string& origin) {
  for (size_t pos = text.find(kMarker); pos != std::string::npos; pos = text.find(kMarker, pos + 1)) {
    if (match_name(text, pos + kMarkerLen, kind) == nullptr) {
      return Status::Usage(origin + ":" + std::to_string(line_of(text, pos)) + ": unknown placeholder " +
                           placeholder_at(text, pos));
    }
  }
  return Status::Ok();
}

Result<std::string> render_template(const std::string& text, TemplateKind kind, const ParameterValues& values,
                                    const std::string& chem_database_file, const std::string& origin) {
  std::string out;
  out.reserve(text.size() + 4096);
  size_t copied = 0;
  for (size_t pos = text.find(kMarker); pos != std::string::npos; pos = text.find(kMarker, pos)) {
    const char* name = match_name(text, pos + kMarkerLen, kind);
    if (name == nullptr) {
      return Status::Usage(origin + ":" + std::to_string(line_of(text, pos)) + ": unknown placeholder " +
                           placeholder_at(text, pos));
    }
    out.append(text, copied, pos - copied);
    const std::string key = name;
    std::string value;
    if (key == "CHEM_DATABASE_FILE") {
      value = chem_database_file;
    } else {
      auto it = values.find(key);
      const ParamSpec* spec = find_parameter(key);
      if (it == values.end() || spec == nullptr || (it->second.empty() && spec->type != ParamType::Text)) {
        return Status::Usage(origin + ":" + std::to_string(line_of(text, pos)) + ": placeholder KT_VAR" + key +
                             "_ has no value");
      }
      if (key == "species") {
        const auto list = words(it->second);
        if (kind == TemplateKind::PdrNew) {
          for (size_t i = 0; i < list.size(); ++i) value += (i ? "\n" : "") + std::string("SPECIES  ") + list[i];
        } else {
          value = "[";
          for (size_t i = 0; i < list.size(); ++i) value += (i ? ", \"" : "\"") + list[i] + "\"";
          value += "]";
        }
      } else if (key == "grid") {
        const bool on = it->second != "0";
        value = kind == TemplateKind::PdrNew ? (on ? "*MODEL GRID" : "") : (on ? "true" : "false");
      } else if (spec->type == ParamType::Real) {
        value = format_real(std::stod(it->second));
      } else {
        value = it->second;
      }
    }
    out += value;
    pos += kMarkerLen + key.size() + 1;
    copied = pos;
  }
  out.append(text, copied, std::string::npos);
  return out;
}

}  // namespace pdr
