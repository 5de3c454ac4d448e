// The mock model's trace (PDR_MOCK_TRACE): which programs started and ended, where and when.
#pragma once

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace pdr {

struct TraceEvent {
  std::string what, job;
  long long ms = 0, pid = 0;
  std::string cwd;  // of a start
  std::string dir;  // of a start: its directory's inode and birth time (the same after a rename)
};

// The start/end events the mock wrote (its --version probes left out).
inline std::vector<TraceEvent> read_trace(const std::string& path) {
  std::vector<TraceEvent> events;
  std::istringstream in(test::read_text(path));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    TraceEvent e;
    fields >> e.what >> e.job >> e.ms >> e.pid >> e.cwd >> e.dir;
    if (e.what == "start" || e.what == "end") events.push_back(e);
  }
  return events;
}

inline size_t count_starts(const std::string& path) {
  size_t n = 0;
  for (const auto& e : read_trace(path)) n += e.what == "start";
  return n;
}

// Program starts per job (pdr and one onion per species, per attempt).
inline std::map<std::string, int> starts_per_job(const std::string& path) {
  std::map<std::string, int> out;
  for (const auto& e : read_trace(path)) out[e.job] += e.what == "start";
  return out;
}

}  // namespace pdr
