#include "pdr/grid_value.h"

#include <algorithm>
#include <string_view>

#include "util/text.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace pdr {

const char* axis_name(Axis axis) {
  switch (axis) {
    case Axis::Metal:
      return "metal";
    case Axis::Dens:
      return "dens";
    case Axis::Mass:
      return "mass";
    case Axis::Chi:
      return "chi";
  }
  return "?";
}

Result<GridValue> parse_grid_value(Axis axis, const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::Usage(std::string(axis_name(axis)) + " value '" + printable(text) + "' " + why +
                         " (expected a number such as 30, -10, 05 or 3.5)");
  };
  // 10*log10 axes: 10^(v/10) must be a finite, normal double. A subnormal one (10^-308 and
  // below) has lost digits, and its text does not read back as a number (strtod: ERANGE).
  const std::string range = axis == Axis::Metal ? "is out of range" : "is out of range (from -3076 to 3080)";
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  std::string int_part, frac_part;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) int_part += text[i++];
  bool point = false;
  if (i < text.size() && text[i] == '.') {
    point = true;
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) frac_part += text[i++];
  }
  if (text.empty()) return bad("is empty");
  if (i != text.size()) return bad("is not a plain decimal number");
  if (int_part.empty() && frac_part.empty()) return bad("has no digits");
  (void)point;

  const size_t nz = int_part.find_first_not_of('0');
  int_part = nz == std::string::npos ? "0" : int_part.substr(nz);
  while (!frac_part.empty() && frac_part.back() == '0') frac_part.pop_back();
  const bool zero = int_part == "0" && frac_part.empty();
  if (zero) negative = false;
  if (axis == Axis::Metal && negative) {
    return Status::Usage("metal value '" + printable(text) +
                         "' is negative (the metallicity in percent of solar, such as 100 or 50)");
  }

  GridValue v;
  if (frac_part.empty()) {
    v.text = (negative ? "-" : "") + (int_part.size() < 2 ? "0" + int_part : int_part);
  } else {
    v.text = (negative ? "-" : "") + int_part + "." + frac_part;
  }
  const std::string plain = (negative ? "-" : "") + int_part + (frac_part.empty() ? "" : "." + frac_part);
  auto r = std::from_chars(plain.data(), plain.data() + plain.size(), v.encoded);
  if (r.ec != std::errc() || !std::isfinite(v.encoded)) return bad(range);
  v.physical = axis == Axis::Metal ? v.encoded / 100.0 : std::pow(10.0, v.encoded / 10.0);
  if (!std::isfinite(v.physical) || (v.physical != 0.0 && !std::isnormal(v.physical)) ||
      (axis != Axis::Metal && v.physical == 0.0)) {
    return bad(range);
  }
  return v;
}

namespace {
// Whether `t` is already what parse_grid_value makes of it (GridValue::text), told without
// parsing: [-]dd, [-]ddd... without a leading zero, [-]d...d.f...f without leading or trailing
// zeros ("0.5"); never "-00". A registration asks this of every job name of a model.
bool looks_canonical(std::string_view t) {
  const bool negative = !t.empty() && t.front() == '-';
  if (negative) t.remove_prefix(1);
  const size_t dot = t.find('.');
  const std::string_view digits = t.substr(0, dot);
  const auto all_digits = [](std::string_view d) {
    return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(digits)) return false;
  if (dot == std::string_view::npos) {
    return digits.size() == 2 ? !(negative && digits == "00") : digits.size() > 2 && digits.front() != '0';
  }
  const std::string_view frac = t.substr(dot + 1);
  return all_digits(frac) && frac.back() != '0' && (digits == "0" || digits.front() != '0');
}
}  // namespace

std::string canonical_job_name(const std::string& name) {
  static constexpr Axis kAxes[] = {Axis::Metal, Axis::Dens, Axis::Mass, Axis::Chi};
  {
    // Most names are canonical: told without parsing their values.
    std::string_view rest(name);
    bool canonical = true;
    for (int part = 0; part < 4 && canonical; ++part) {
      const size_t end = rest.find('_');
      canonical =
          end != std::string_view::npos && looks_canonical(rest.substr(0, end)) && (part != 0 || rest.front() != '-');
      if (canonical) rest.remove_prefix(end + 1);
    }
    if (canonical && rest == "00") return {};
  }
  std::string canonical;
  size_t from = 0;
  for (Axis axis : kAxes) {
    const size_t end = name.find('_', from);
    if (end == std::string::npos) return {};
    auto value = parse_grid_value(axis, name.substr(from, end - from));
    if (!value.ok()) return {};
    canonical += value->text + "_";
    from = end + 1;
  }
  if (name.compare(from, std::string::npos, "00") != 0) return {};
  canonical += "00";
  return canonical == name ? std::string() : canonical;
}

Result<double> compute_rtot(double mass, double density, double alpha, double rcore) {
  constexpr double kPi = 3.14159265358979323846;
  if (alpha == 3.0) return Status::Usage("alpha = 3 makes the clump radius undefined (division by zero)");
  // Whether the profile (alpha, rcore) gives a positive volume factor at all, told apart from a
  // density so large that the factor's two terms overflow (inf - inf). The radius itself is
  // computed as the predecessor did, digit for digit: its parameter rows are matched by value.
  const double shape = (12.0 * kPi - 4.0 * kPi * std::pow(rcore, 3.0 - alpha) * alpha) / (9.0 - 3.0 * alpha);
  if (!(shape > 0.0)) {
    char text[128];
    std::snprintf(text, sizeof text, "alpha %g and rcore %g give no positive clump radius", alpha, rcore);
    return Status::Usage(text);
  }
  const double d = 12.0 * kPi * density / (9.0 - 3.0 * alpha) -
                   4.0 * kPi * density * std::pow(rcore, 3.0 - alpha) * alpha / (9.0 - 3.0 * alpha);
  const double r = 1.05916e19 * std::pow(mass / d, 1.0 / 3.0);
  // A density or mass at the ends of a double's range: the radius is 0, infinite or undefined.
  if (!(d > 0.0) || !(mass > 0.0) || !std::isfinite(d) || !std::isfinite(r) || !(r > 0.0)) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "a clump of %g Msun at a surface density of %g cm^-3 has no clump radius (rtot) a double can hold",
                  mass, density);
    return Status::Usage(text);
  }
  return r;
}

}  // namespace pdr
