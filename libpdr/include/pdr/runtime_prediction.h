// How long a job will run, predicted before it is claimed (walltime-aware claiming): from the
// run times of finished jobs of the same model near its point in the grid, else from
// run.expected_job_seconds or the model's median.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pdr {

// A job's point in the grid, from its name "<metal>_<dens>_<mass>_<chi>_00": dens, mass and chi
// as they are (10*log10 units) and metal as 10*log10 of its percent, so that every axis is
// logarithmic. nullopt for a name of another form.
std::optional<std::vector<double>> job_point(const std::string& job_name);

struct RuntimeSample {
  std::vector<double> point;
  double seconds = 0;
};

struct Prediction {
  double seconds = -1;  // negative: nothing to predict from
  std::string basis;    // for people: "5 nearest finished points", "run.expected_job_seconds", ...
  bool known() const { return seconds >= 0; }
};

class RuntimePredictor {
 public:
  static constexpr size_t kNeighbours = 5;
  static constexpr size_t kMinSamples = 3;  // fewer finished jobs: the model's median

  // `points` are every point predictions will be asked for (with the samples' they set each
  // axis's scale: its range, so a step along any axis weighs alike).
  RuntimePredictor(std::vector<RuntimeSample> samples, const std::vector<std::vector<double>>& points,
                   std::optional<double> expected_seconds);

  // The k nearest finished points weighted by inverse squared distance, in log time (run times
  // grow by factors across a grid); the point's own run when it has one.
  Prediction predict(const std::vector<double>& point) const;

  // For a job with no point in the grid (a name of another form): the model's median, else
  // run.expected_job_seconds.
  Prediction unplaced() const;

  size_t samples() const { return samples_.size(); }

 private:
  double distance2(const std::vector<double>& a, const std::vector<double>& b) const;

  std::vector<RuntimeSample> samples_;
  std::vector<double> scale_;  // 1 / range per axis (0: the axis does not vary)
  std::optional<double> expected_;
  double median_ = -1;
};

// "90d", "1h30m", "45s", "600" (seconds), or Slurm's time left "[D-]HH:MM:SS", "MM:SS": seconds.
std::optional<long long> parse_time_left(const std::string& text);
// A Slurm time limit (--time): minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, in seconds.
std::optional<long long> parse_slurm_time(const std::string& text);

}  // namespace pdr
