#include "pdr/grid.h"

#include <cstdio>

#include "pdr/sha256.h"

#include <charconv>
#include <cmath>
#include <random>
#include <set>
#include <tuple>

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

// The four axes of a grid, checked, with repeated values dropped.
struct Axes {
  std::vector<GridValue> metal, dens, mass, chi;
  long double product() const {
    return static_cast<long double>(metal.size()) * static_cast<long double>(dens.size()) *
           static_cast<long double>(mass.size()) * static_cast<long double>(chi.size());
  }
};

Result<Axes> parse_axes(const ModelSettings& model, std::vector<std::string>& notes) {
  Axes a;
  for (auto [axis, texts, out] :
       {std::tuple{Axis::Metal, &model.metal, &a.metal}, std::tuple{Axis::Dens, &model.dens, &a.dens},
        std::tuple{Axis::Mass, &model.mass, &a.mass}, std::tuple{Axis::Chi, &model.chi, &a.chi}}) {
    auto values = parse_axis(axis, *texts, notes);
    if (!values.ok()) return values.status();
    *out = std::move(values.value());
  }
  return a;
}

// Refused before anything is expanded: a grid that cannot fit ends in one line, not in an
// allocation failure.
Status check_size(const Settings& settings, const Axes& a) {
  const long double count = settings.model.random ? static_cast<long double>(settings.model.random_count) : a.product();
  if (count <= static_cast<long double>(settings.run.max_points)) return Status::Ok();
  char text[64];
  std::snprintf(text, sizeof text, "%.0Lf", count);
  return Status::Usage(std::string("the grid has ") + text + " points (metal " + std::to_string(a.metal.size()) +
                       " x dens " + std::to_string(a.dens.size()) + " x mass " + std::to_string(a.mass.size()) +
                       " x chi " + std::to_string(a.chi.size()) + "), more than run.max_points = " +
                       std::to_string(settings.run.max_points) + "; split it or raise run.max_points");
}

// The parameter row shared by every point: defaults < model_parameters < non_default_parameters.
ParameterValues base_parameters(const Settings& settings) {
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
  return base;
}

// Makes the points of one grid: each shares the base row and hashes it with its own values.
class PointMaker {
 public:
  PointMaker(const Settings& settings, GridPlan& plan, const PointSink& each, bool hash_points)
      : base_(std::make_shared<const ParameterValues>(base_parameters(settings))),
        alpha_(std::stod(settings.model.alpha)),
        rcore_(std::stod(settings.model.rcore)),
        plan_(plan),
        each_(each),
        hash_points_(hash_points) {
    // The canonical text of parameter_hash, split around the five per-point values: each point
    // hashes the shared pieces and its own values without building its row.
    pieces_.emplace_back();
    for (const auto& spec : parameter_specs()) {
      if (spec.role == ParamRole::Comment) continue;
      pieces_.back() += spec.name;
      pieces_.back() += '=';
      const std::string name = spec.name;
      const int slot = name == "zmetal"  ? 0
                       : name == "xnsur" ? 1
                       : name == "mass"  ? 2
                       : name == "sint"  ? 3
                       : name == "rtot"  ? 4
                                         : -1;
      if (slot >= 0) {
        slots_.push_back(slot);
        pieces_.emplace_back("\n");
      } else {
        auto it = base_->find(name);
        if (it != base_->end()) pieces_.back() += it->second;
        pieces_.back() += '\n';
      }
    }
  }

  Status add(const GridValue& m, const GridValue& d, const GridValue& ms, const GridValue& c) {
    auto rtot = compute_rtot(ms.physical, d.physical, alpha_, rcore_);
    if (!rtot.ok()) {
      // Named by its grid values, the flags' (or the grid lists') words for them.
      return Status::Usage("grid point metal " + m.text + ", dens " + d.text + ", mass " + ms.text + ", chi " + c.text +
                           ": " + rtot.status().message());
    }
    GridPoint p;
    p.metal = m;
    p.dens = d;
    p.mass = ms;
    p.chi = c;
    p.job_name = m.text + "_" + d.text + "_" + ms.text + "_" + c.text + "_00";
    p.base = base_;
    p.zmetal = number_text(m.physical);
    p.xnsur = number_text(d.physical);
    p.mass_value = number_text(ms.physical);
    p.sint = number_text(c.physical);
    p.rtot = number_text(*rtot);
    if (hash_points_) p.param_hash = hash(p);
    ++plan_.count;
    if (each_) {
      each_(p);
    } else {
      plan_.points.push_back(std::move(p));
    }
    return Status::Ok();
  }

 private:
  std::string hash(const GridPoint& p) const {
    const std::string* own[] = {&p.zmetal, &p.xnsur, &p.mass_value, &p.sint, &p.rtot};
    std::string canonical = pieces_[0];
    for (size_t i = 0; i < slots_.size(); ++i) {
      canonical += *own[slots_[i]];
      canonical += pieces_[i + 1];
    }
    return sha256_hex(canonical);
  }

  std::shared_ptr<const ParameterValues> base_;
  double alpha_, rcore_;
  GridPlan& plan_;
  const PointSink& each_;
  bool hash_points_;
  std::vector<std::string> pieces_;
  std::vector<int> slots_;  // 0..4: zmetal, xnsur, mass, sint, rtot
};

// As the predecessor: an axis with one value keeps it; otherwise integers are drawn uniformly
// between its smallest and largest value; `n` draws per axis, in axis order.
Result<std::vector<GridValue>> draw_axis(Axis axis, const std::vector<GridValue>& values, size_t n,
                                         std::mt19937_64& rng) {
  if (values.size() == 1) return std::vector<GridValue>(n, values.front());
  double lo = values.front().encoded, hi = lo;
  for (const auto& v : values) {
    if (v.encoded != std::floor(v.encoded)) {
      return Status::Usage(std::string("random grids draw integers, but ") + axis_name(axis) + " has '" + v.text + "'");
    }
    lo = std::min(lo, v.encoded);
    hi = std::max(hi, v.encoded);
  }
  std::uniform_int_distribution<long long> pick(static_cast<long long>(lo), static_cast<long long>(hi));
  std::vector<GridValue> column;
  for (size_t i = 0; i < n; ++i) {
    auto v = parse_grid_value(axis, std::to_string(pick(rng)));
    if (!v.ok()) return v.status();
    column.push_back(*v);
  }
  return column;
}

// The random grid: the axes drawn in order and zipped, each point once.
Status draw_points(const Settings& settings, const Axes& a, GridPlan& plan, PointMaker& maker) {
  const unsigned long long seed =
      settings.model.random_seed
          ? *settings.model.random_seed
          : (static_cast<unsigned long long>(std::random_device{}()) << 32) ^ std::random_device{}();
  plan.seed = seed;
  std::mt19937_64 rng(seed);
  const size_t n = static_cast<size_t>(settings.model.random_count);
  std::vector<std::vector<GridValue>> drawn;
  for (auto [axis, values] : {std::pair{Axis::Metal, &a.metal}, std::pair{Axis::Dens, &a.dens},
                              std::pair{Axis::Mass, &a.mass}, std::pair{Axis::Chi, &a.chi}}) {
    auto column = draw_axis(axis, *values, n, rng);
    if (!column.ok()) return column.status();
    drawn.push_back(std::move(column.value()));
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
    if (Status st = maker.add(drawn[0][i], drawn[1][i], drawn[2][i], drawn[3][i]); !st.ok()) return st;
  }
  if (repeats > 0) {
    plan.notes.push_back("random grid: " + std::to_string(repeats) + " of " + std::to_string(n) +
                         " draws repeated an earlier point; each point is run once");
  }
  return Status::Ok();
}

}  // namespace

Result<GridPlan> plan_grid(const Settings& settings, const PointSink& each, bool hash_points) {
  GridPlan plan;
  auto axes = parse_axes(settings.model, plan.notes);
  if (!axes.ok()) return axes.status();
  const Axes& a = axes.value();
  if (Status st = check_size(settings, a); !st.ok()) return st;
  PointMaker maker(settings, plan, each, hash_points);
  if (settings.model.random) {
    if (Status st = draw_points(settings, a, plan, maker); !st.ok()) return st;
    return plan;
  }
  if (!each) plan.points.reserve(a.metal.size() * a.dens.size() * a.mass.size() * a.chi.size());
  for (const auto& m : a.metal) {
    for (const auto& d : a.dens) {
      for (const auto& ms : a.mass) {
        for (const auto& c : a.chi) {
          if (Status st = maker.add(m, d, ms, c); !st.ok()) return st;
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
