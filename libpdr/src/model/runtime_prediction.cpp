#include "pdr/runtime_prediction.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "util/text.h"

namespace pdr {

namespace {

std::optional<double> number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::optional<std::vector<double>> job_point(const std::string& job_name) {
  std::vector<std::string> f;
  std::stringstream in(job_name);
  for (std::string part; std::getline(in, part, '_');) f.push_back(part);
  if (f.size() < 4) return std::nullopt;
  std::vector<double> p;
  for (size_t i = 0; i < 4; ++i) {
    auto v = number(f[i]);
    if (!v) return std::nullopt;
    if (i == 0) {
      if (*v <= 0) return std::nullopt;
      *v = 10 * std::log10(*v);
    }
    p.push_back(*v);
  }
  return p;
}

RuntimePredictor::RuntimePredictor(std::vector<RuntimeSample> samples, const std::vector<std::vector<double>>& points,
                                   std::optional<double> expected_seconds)
    : samples_(std::move(samples)), expected_(expected_seconds) {
  size_t dims = 0;
  for (const auto& s : samples_) dims = std::max(dims, s.point.size());
  for (const auto& p : points) dims = std::max(dims, p.size());
  std::vector<double> lo(dims, HUGE_VAL), hi(dims, -HUGE_VAL);
  auto widen = [&](const std::vector<double>& p) {
    for (size_t i = 0; i < p.size(); ++i) {
      lo[i] = std::min(lo[i], p[i]);
      hi[i] = std::max(hi[i], p[i]);
    }
  };
  for (const auto& s : samples_) widen(s.point);
  for (const auto& p : points) widen(p);
  scale_.assign(dims, 0.0);
  for (size_t i = 0; i < dims; ++i) scale_[i] = hi[i] > lo[i] ? 1.0 / (hi[i] - lo[i]) : 0.0;
  if (!samples_.empty()) {
    std::vector<double> all;
    for (const auto& s : samples_) all.push_back(s.seconds);
    median_ = median_of(all);
  }
}

double RuntimePredictor::distance2(const std::vector<double>& a, const std::vector<double>& b) const {
  double d = 0;
  for (size_t i = 0; i < a.size() && i < b.size() && i < scale_.size(); ++i) {
    const double x = (a[i] - b[i]) * scale_[i];
    d += x * x;
  }
  return d;
}

Prediction RuntimePredictor::predict(const std::vector<double>& point) const {
  if (samples_.empty()) {
    if (expected_) return {*expected_, "run.expected_job_seconds (no finished job to predict from)"};
    return {};
  }
  // Its own run(s) first.
  std::vector<double> own;
  for (const auto& s : samples_) {
    if (distance2(s.point, point) < 1e-18) own.push_back(s.seconds);
  }
  if (!own.empty()) return {median_of(own), "its own earlier run"};
  if (samples_.size() < kMinSamples) {
    return {median_, "median of the model's " + count_size(samples_.size(), "finished job")};
  }
  std::vector<std::pair<double, double>> near;  // distance^2, seconds
  near.reserve(samples_.size());
  for (const auto& s : samples_) near.emplace_back(distance2(s.point, point), s.seconds);
  const size_t k = std::min(kNeighbours, near.size());
  std::partial_sort(near.begin(), near.begin() + static_cast<long>(k), near.end());
  double weights = 0, sum = 0;
  for (size_t i = 0; i < k; ++i) {
    const double w = 1.0 / std::max(near[i].first, 1e-12);
    weights += w;
    sum += w * std::log(std::max(near[i].second, 0.001));
  }
  return {std::exp(sum / weights), std::to_string(k) + " nearest finished points"};
}

Prediction RuntimePredictor::unplaced() const {
  if (!samples_.empty()) return {median_, "median of the model's " + count_size(samples_.size(), "finished job")};
  if (expected_) return {*expected_, "run.expected_job_seconds (no finished job to predict from)"};
  return {};
}

namespace {

// Slurm's clock forms: MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
std::optional<long long> slurm_clock(const std::string& text) {
  std::string t = text;
  long long days = 0;
  const auto dash = t.find('-');
  if (dash != std::string::npos) {
    const std::string d = t.substr(0, dash);
    if (d.empty() || d.size() > 5 || d.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    days = std::stoll(d);
    t = t.substr(dash + 1);
  }
  std::vector<long long> parts;
  std::stringstream in(t);
  for (std::string p; std::getline(in, p, ':');) {
    if (p.empty() || p.size() > 6 || p.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    parts.push_back(std::stoll(p));
  }
  if (parts.empty() || parts.size() > 3 || (dash == std::string::npos && parts.size() < 2)) return std::nullopt;
  // Minutes and seconds after the first field below 60, hours after days below 24 (0-00:60:00
  // and 1-24:00:00 are typing errors, not clocks).
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] >= 60) return std::nullopt;
  }
  if (dash != std::string::npos && parts[0] >= 24) return std::nullopt;
  long long seconds = 0;
  if (dash != std::string::npos) {
    // Hours first: D-HH, D-HH:MM, D-HH:MM:SS.
    const long long scale[] = {3600, 60, 1};
    for (size_t i = 0; i < parts.size(); ++i) seconds += parts[i] * scale[i];
  } else {
    for (long long p : parts) seconds = seconds * 60 + p;  // MM:SS or HH:MM:SS
  }
  return days * 86400 + seconds;
}

}  // namespace

std::optional<long long> parse_time_left(const std::string& text) {
  if (auto d = parse_duration(text)) return d;
  return slurm_clock(text);
}

std::optional<long long> parse_slurm_time(const std::string& text) {
  if (!text.empty() && text.size() < 9 && text.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoll(text) * 60;  // plain minutes
  }
  return slurm_clock(text);
}

}  // namespace pdr
