// Grid values in the predecessor's encoding: dens, mass and chi are 10*log10 numbers ("30" ->
// 1e3), metal is a percentage ("100" -> 1.0). Parsed by a grammar, never evaluated.
#pragma once

#include <string>

#include "pdr/status.h"

namespace pdr {

enum class Axis { Metal, Dens, Mass, Chi };
const char* axis_name(Axis axis);

struct GridValue {
  std::string text;       // canonical text used in job names: "30", "05", "-05", "00", "3.5"
  double encoded = 0.0;   // the number as written (30, 3.5, 100)
  double physical = 0.0;  // 10^(encoded/10) for dens/mass/chi, encoded/100 for metal
};

// Accepts [+-]digits[.digits] (also ".5" and "5."); anything else is a usage error naming
// the axis and the value.
Result<GridValue> parse_grid_value(Axis axis, const std::string& text);

// The name pdr_run gives the point a job name stands for, when that is another name: the
// predecessor named jobs by the values as they were typed ("100_30_0_10_00", "100_3.0_-5_10_00"),
// pdr_run by their canonical text ("100_30_00_10_00", "100_03_-05_10_00"). Empty when `name` is
// canonical already or is not <metal>_<dens>_<mass>_<chi>_00 of grid values.
std::string canonical_job_name(const std::string& name);

// rtot (cm) of a clump of the given mass (Msun) and surface density (cm^-3) for density law
// exponent alpha and core radius rcore, as the predecessor computes it. alpha == 3 is an error.
Result<double> compute_rtot(double mass, double density, double alpha, double rcore);

}  // namespace pdr
