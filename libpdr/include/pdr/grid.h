// Grid expansion: parameter lists -> points in the predecessor's order (metal, dens, mass, chi;
// chi fastest), each with its job name, full parameter row and canonical identity hash.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pdr/grid_value.h"
#include "pdr/parameters.h"
#include "pdr/status.h"

namespace pdr {

struct Settings;

// One point. Its parameter row is the grid's shared row (every kosmatau_parameters column
// except comments) with the point's own zmetal, xnsur, mass, sint and rtot: a million points
// share one row instead of holding a million copies.
struct GridPoint {
  GridValue metal, dens, mass, chi;
  std::string job_name;                               // <metal>_<dens>_<mass>_<chi>_00
  std::shared_ptr<const ParameterValues> base;        // the values every point of the grid shares
  std::string zmetal, xnsur, mass_value, sint, rtot;  // this point's own values
  std::string param_hash;                             // identity of the point (see parameter_hash)

  const std::string& param(const std::string& name) const;  // throws std::out_of_range
  ParameterValues params() const;                           // the whole row
};

struct GridPlan {
  std::vector<GridPoint> points;           // empty when the points went to a PointSink instead
  size_t count = 0;                        // points planned
  std::vector<std::string> notes;          // e.g. duplicate values that are run once
  std::optional<unsigned long long> seed;  // the seed of a random grid
};

// Receives the points one at a time, in order, instead of GridPlan::points (bounded memory:
// --dry-run of a million points keeps none of them).
using PointSink = std::function<void(const GridPoint&)>;

// `hash_points` false leaves GridPoint::param_hash empty: a plan only shown (--dry-run) needs no
// identity, and hashing a point's ~1.7 KB of parameters is most of planning's time.
Result<GridPlan> plan_grid(const Settings& settings, const PointSink& each = {}, bool hash_points = true);

}  // namespace pdr
