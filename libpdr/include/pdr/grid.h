// Grid expansion: parameter lists -> points in the predecessor's order (metal, dens, mass, chi;
// chi fastest), each with its job name, full parameter row and canonical identity hash.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pdr/grid_value.h"
#include "pdr/parameters.h"
#include "pdr/status.h"

namespace pdr {

struct Settings;

struct GridPoint {
  GridValue metal, dens, mass, chi;
  std::string job_name;     // <metal>_<dens>_<mass>_<chi>_00
  ParameterValues params;   // every kosmatau_parameters column except comments
  std::string param_hash;   // identity of the point (see parameter_hash)
};

struct GridPlan {
  std::vector<GridPoint> points;
  std::vector<std::string> notes;  // e.g. duplicate values that are run once
  std::optional<unsigned long long> seed;  // the seed of a random grid
};

Result<GridPlan> plan_grid(const Settings& settings);

}  // namespace pdr
