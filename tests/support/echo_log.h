// Reads the SQL a run of the Python predecessor issued, from SQLAlchemy's echo log (fixtures in
// tests/data/predecessor/sql): each statement with its bound parameters, as Python printed them
// (a tuple for SQLite's "?" marks, a dict for PyMySQL's "%(name)s" marks). The statements come
// out with SOCI's ":pN" marks in order, so they run again on either backend.
#pragma once

#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace pdr::test {

struct EchoValue {
  enum class Kind { Null, Integer, Real, Text } kind = Kind::Null;
  long long integer = 0;
  double real = 0;
  std::string text;
};

struct EchoStatement {
  std::string sql;                // with :p0, :p1, ... in place of the marks
  std::vector<EchoValue> params;  // in the order of the marks
};

namespace echo_detail {

inline void skip_space(const std::string& s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
}

// One Python literal: None, True, False, a number, a quoted string or datetime.datetime(...).
inline EchoValue parse_value(const std::string& s, size_t& i) {
  EchoValue v;
  skip_space(s, i);
  if (s.compare(i, 4, "None") == 0) {
    i += 4;
    return v;
  }
  if (s.compare(i, 4, "True") == 0 || s.compare(i, 5, "False") == 0) {
    v.kind = EchoValue::Kind::Integer;
    v.integer = s[i] == 'T' ? 1 : 0;
    i += s[i] == 'T' ? 4u : 5u;
    return v;
  }
  if (s.compare(i, 18, "datetime.datetime(") == 0) {
    i += 18;
    std::vector<long long> parts;
    while (s[i] != ')') {
      skip_space(s, i);
      size_t used = 0;
      parts.push_back(std::stoll(s.substr(i), &used));
      i += used;
      skip_space(s, i);
    }
    ++i;
    parts.resize(7, 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld", parts[0], parts[1], parts[2], parts[3],
                  parts[4], parts[5]);
    v.kind = EchoValue::Kind::Text;
    v.text = buf;
    if (parts[6] != 0) {
      std::snprintf(buf, sizeof buf, ".%06lld", parts[6]);
      v.text += buf;
    }
    return v;
  }
  if (s[i] == '\'' || s[i] == '"') {
    const char quote = s[i++];
    v.kind = EchoValue::Kind::Text;
    while (s[i] != quote) {
      if (s[i] == '\\') {
        const char e = s[++i];
        v.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        v.text += s[i];
      }
      ++i;
    }
    ++i;
    return v;
  }
  size_t end = i;
  while (end < s.size() && s[end] != ',' && s[end] != ')' && s[end] != '}') ++end;
  const std::string number = s.substr(i, end - i);
  i = end;
  if (number.find_first_of(".eE") != std::string::npos || number == "inf" || number == "nan") {
    v.kind = EchoValue::Kind::Real;
    v.real = std::stod(number);
  } else {
    v.kind = EchoValue::Kind::Integer;
    v.integer = std::stoll(number);
  }
  return v;
}

// "(a, b)" or "{'k': a, 'l': b}" in mark order.
inline std::vector<EchoValue> parse_params(const std::string& s, const std::vector<std::string>& names) {
  std::vector<EchoValue> out;
  size_t i = 0;
  if (s.empty()) return out;
  if (s[0] == '(') {
    i = 1;
    for (skip_space(s, i); i < s.size() && s[i] != ')'; skip_space(s, i)) out.push_back(parse_value(s, i));
    return out;
  }
  std::vector<std::pair<std::string, EchoValue>> dict;
  i = 1;
  for (skip_space(s, i); i < s.size() && s[i] != '}'; skip_space(s, i)) {
    EchoValue key = parse_value(s, i);
    while (s[i] == ':' || s[i] == ' ') ++i;
    dict.emplace_back(key.text, parse_value(s, i));
  }
  for (const auto& n : names) {
    for (const auto& kv : dict) {
      if (kv.first == n) out.push_back(kv.second);
    }
  }
  return out;
}

}  // namespace echo_detail

// Every statement of the log (BEGIN/COMMIT included); `params` empty where none were bound.
inline std::vector<EchoStatement> read_echo_log(const std::string& path) {
  static const std::regex prefix(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO sqlalchemy\.engine\.Engine (.*)$)");
  static const std::regex bound(R"(^\[[^\]]*\] (.*)$)");
  std::vector<EchoStatement> out;
  std::ifstream in(path);
  std::string line, current;
  bool open = false;
  auto finish = [&](const std::string& params) {
    if (!open) return;
    EchoStatement st;
    std::vector<std::string> names;
    int n = 0;
    for (size_t i = 0; i < current.size(); ++i) {
      if (current[i] == '?') {
        st.sql += ":p" + std::to_string(n++);
      } else if (current.compare(i, 2, "%(") == 0) {
        const size_t close = current.find(")s", i);
        names.push_back(current.substr(i + 2, close - i - 2));
        st.sql += ":p" + std::to_string(n++);
        i = close + 1;
      } else {
        st.sql += current[i];
      }
    }
    st.params = echo_detail::parse_params(params, names);
    out.push_back(std::move(st));
    open = false;
    current.clear();
  };
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, prefix)) {
      const std::string text = m[1];
      std::smatch b;
      if (std::regex_match(text, b, bound)) {
        finish(b[1]);
        continue;
      }
      finish("");
      current = text;
      open = true;
    } else if (open) {
      current += "\n" + line;
    }
  }
  finish("");
  return out;
}

// Whether the statement writes (the part a replay runs again).
inline bool is_write(const EchoStatement& s) {
  return s.sql.rfind("INSERT", 0) == 0 || s.sql.rfind("UPDATE", 0) == 0 || s.sql.rfind("DELETE", 0) == 0;
}

}  // namespace pdr::test
