#include "pdr/grid.h"

#include <cstdio>

#include "pdr/sha256.h"

#include <charconv>
#include <cmath>
#include <random>
#include <set>

#include "pdr/settings.h"

namespace pdr {
namespace {

std::string number_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Result<std::vector<GridValue>> parse_axis(Axis axis, const std::vector<std::string>& texts,
                                          std::vector<std::string>& notes) {
  std::vector<GridValue> values;
  if (texts.empty()) return Status::Usage(std::string(axis_name(axis)) + ": the list of values is empty");
  for (const auto& t : texts) {
    auto v = parse_grid_value(axis, t);
    if (!v.ok()) return v.status();
    bool duplicate = false;
    for (const auto& seen : values) {
      if (seen.text == v->text) {
        notes.push_back(std::string(axis_name(axis)) + ": value '" + t + "' repeats '" + seen.text +
                        "'; that point is run once");
        duplicate = true;
        break;
      }
    }
    if (!duplicate) values.push_back(*v);
  }
  return values;
}

}  // namespace

Result<GridPlan> plan_grid(const Settings& settings, const PointSink& each) {
  GridPlan plan;
  auto metal = parse_axis(Axis::Metal, settings.model.metal, plan.notes);
  if (!metal.ok()) return metal.status();
  auto dens = parse_axis(Axis::Dens, settings.model.dens, plan.notes);
  if (!dens.ok()) return dens.status();
  auto mass = parse_axis(Axis::Mass, settings.model.mass, plan.notes);
  if (!mass.ok()) return mass.status();
  auto chi = parse_axis(Axis::Chi, settings.model.chi, plan.notes);
  if (!chi.ok()) return chi.status();
  {
    // Refused before anything is expanded: a grid that cannot fit ends in one line, not in an
    // allocation failure.
    const long double count = settings.model.random
                                  ? static_cast<long double>(settings.model.random_count)
                                  : static_cast<long double>(metal->size()) * static_cast<long double>(dens->size()) *
                                        static_cast<long double>(mass->size()) * static_cast<long double>(chi->size());
    if (count > static_cast<long double>(settings.run.max_points)) {
      char text[64];
      std::snprintf(text, sizeof text, "%.0Lf", count);
      return Status::Usage(std::string("the grid has ") + text + " points (metal " + std::to_string(metal->size()) +
                           " x dens " + std::to_string(dens->size()) + " x mass " + std::to_string(mass->size()) +
                           " x chi " + std::to_string(chi->size()) + "), more than run.max_points = " +
                           std::to_string(settings.run.max_points) + "; split it or raise run.max_points");
    }
  }

  // The parameter row shared by every point: defaults < model_parameters < non_default_parameters.
  ParameterValues base;
  for (const auto& spec : parameter_specs()) {
    if (spec.role == ParamRole::Comment) continue;
    base[spec.name] = spec.type == ParamType::Text ? std::string(spec.default_value)
                                                   : canonical_number(spec.type, spec.default_value);
  }
  base["alpha"] = settings.model.alpha;
  base["rcore"] = settings.model.rcore;
  base["species"] = settings.model.chemistry;
  for (const auto& kv : settings.non_default) base[kv.first] = kv.second;
  const double alpha = std::stod(settings.model.alpha);
  const double rcore = std::stod(settings.model.rcore);

  auto shared_base = std::make_shared<const ParameterValues>(base);
  // The canonical text of parameter_hash, split around the five per-point values: each point
  // hashes the shared pieces and its own values without building its row.
  std::vector<std::string> pieces(1);
  std::vector<int> slots;  // 0..4: zmetal, xnsur, mass, sint, rtot
  for (const auto& spec : parameter_specs()) {
    if (spec.role == ParamRole::Comment) continue;
    pieces.back() += spec.name;
    pieces.back() += '=';
    const std::string name = spec.name;
    const int slot = name == "zmetal" ? 0 : name == "xnsur" ? 1 : name == "mass" ? 2 : name == "sint" ? 3
                     : name == "rtot" ? 4 : -1;
    if (slot >= 0) {
      slots.push_back(slot);
      pieces.emplace_back("\n");
    } else {
      auto it = base.find(name);
      if (it != base.end()) pieces.back() += it->second;
      pieces.back() += '\n';
    }
  }
  auto point_hash = [&](const GridPoint& p) {
    const std::string* own[] = {&p.zmetal, &p.xnsur, &p.mass_value, &p.sint, &p.rtot};
    std::string canonical = pieces[0];
    for (size_t i = 0; i < slots.size(); ++i) {
      canonical += *own[slots[i]];
      canonical += pieces[i + 1];
    }
    return sha256_hex(canonical);
  };

  auto add_point = [&](const GridValue& m, const GridValue& d, const GridValue& ms, const GridValue& c) -> Status {
    auto rtot = compute_rtot(ms.physical, d.physical, alpha, rcore);
    if (!rtot.ok()) return rtot.status();
    GridPoint p;
    p.metal = m;
    p.dens = d;
    p.mass = ms;
    p.chi = c;
    p.job_name = m.text + "_" + d.text + "_" + ms.text + "_" + c.text + "_00";
    p.base = shared_base;
    p.zmetal = number_text(m.physical);
    p.xnsur = number_text(d.physical);
    p.mass_value = number_text(ms.physical);
    p.sint = number_text(c.physical);
    p.rtot = number_text(*rtot);
    p.param_hash = point_hash(p);
    ++plan.count;
    if (each) {
      each(p);
    } else {
      plan.points.push_back(std::move(p));
    }
    return Status::Ok();
  };

  if (settings.model.random) {
    // As the predecessor: an axis with one value keeps it; otherwise integers are drawn uniformly
    // between its smallest and largest value; the axes are drawn in order and zipped.
    const unsigned long long seed = settings.model.random_seed ? *settings.model.random_seed
                                                               : (static_cast<unsigned long long>(std::random_device{}()) << 32) ^
                                                                     std::random_device{}();
    plan.seed = seed;
    std::mt19937_64 rng(seed);
    const size_t n = static_cast<size_t>(settings.model.random_count);
    std::vector<std::vector<GridValue>> drawn;
    for (auto [axis, values] : {std::pair{Axis::Metal, &metal.value()}, std::pair{Axis::Dens, &dens.value()},
                                std::pair{Axis::Mass, &mass.value()}, std::pair{Axis::Chi, &chi.value()}}) {
      std::vector<GridValue> column;
      if (values->size() == 1) {
        column.assign(n, values->front());
      } else {
        double lo = values->front().encoded, hi = lo;
        for (const auto& v : *values) {
          if (v.encoded != std::floor(v.encoded)) {
            return Status::Usage(std::string("random grids draw integers, but ") + axis_name(axis) + " has '" +
                                 v.text + "'");
          }
          lo = std::min(lo, v.encoded);
          hi = std::max(hi, v.encoded);
        }
        std::uniform_int_distribution<long long> pick(static_cast<long long>(lo), static_cast<long long>(hi));
        for (size_t i = 0; i < n; ++i) {
          auto v = parse_grid_value(axis, std::to_string(pick(rng)));
          if (!v.ok()) return v.status();
          column.push_back(*v);
        }
      }
      drawn.push_back(std::move(column));
    }
    std::set<std::string> seen;
    size_t repeats = 0;
    for (size_t i = 0; i < n; ++i) {
      const std::string name =
          drawn[0][i].text + "_" + drawn[1][i].text + "_" + drawn[2][i].text + "_" + drawn[3][i].text;
      if (!seen.insert(name).second) {
        ++repeats;
        continue;
      }
      if (Status st = add_point(drawn[0][i], drawn[1][i], drawn[2][i], drawn[3][i]); !st.ok()) return st;
    }
    if (repeats > 0) {
      plan.notes.push_back("random grid: " + std::to_string(repeats) + " of " + std::to_string(n) +
                           " draws repeated an earlier point; each point is run once");
    }
    return plan;
  }

  if (!each) plan.points.reserve(metal->size() * dens->size() * mass->size() * chi->size());
  for (const auto& m : *metal) {
    for (const auto& d : *dens) {
      for (const auto& ms : *mass) {
        for (const auto& c : *chi) {
          if (Status st = add_point(m, d, ms, c); !st.ok()) return st;
        }
      }
    }
  }
  return plan;
}

const std::string& GridPoint::param(const std::string& name) const {
  if (name == "zmetal") return zmetal;
  if (name == "xnsur") return xnsur;
  if (name == "mass") return mass_value;
  if (name == "sint") return sint;
  if (name == "rtot") return rtot;
  return base->at(name);
}

ParameterValues GridPoint::params() const {
  ParameterValues row = *base;
  row["zmetal"] = zmetal;
  row["xnsur"] = xnsur;
  row["mass"] = mass_value;
  row["sint"] = sint;
  row["rtot"] = rtot;
  return row;
}

}  // namespace pdr
