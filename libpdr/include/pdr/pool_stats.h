// Counters of a database session pool, as the manager keeps them and as runs record them.
#pragma once

namespace pdr {

struct PoolStats {
  int size = 0, in_use = 0, idle = 0;  // open sessions now
  long long created = 0, validated = 0, replaced = 0, failed = 0;
};

}  // namespace pdr
