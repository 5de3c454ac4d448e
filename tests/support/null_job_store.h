// A job store with no database, for unit tests of what sits above the store (the claim loop,
// the journal): every method succeeds and changes nothing. A test overrides what it exercises.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pdr/job_store.h"

namespace pdr::test {

class NullJobStore : public JobStore {
 public:
  Status register_grid(const Provenance&, const std::vector<GridPoint>&, RegisterReport*,
                       const RegisterOptions&) override {
    return Status::Ok();
  }
  Status use_json_template(const Provenance&) override { return Status::Ok(); }
  Result<ParameterValues> load_parameters(long long) override { return ParameterValues{}; }
  Result<std::optional<long long>> find_model(const std::string&) override { return std::optional<long long>{}; }
  Result<std::string> open_registration(long long) override { return std::string(); }

  void set_policy(const JobPolicy&) override {}
  Result<std::vector<ClaimedJob>> claim_jobs(long long, int, const Owner&) override {
    return std::vector<ClaimedJob>{};
  }
  Result<RecordedOutcome> record_outcome(const Outcome& o) override { return RecordedOutcome{false, o.state, o.error}; }
  Result<RecordedOutcome> revoke_finish(const Outcome& o) override {
    return RecordedOutcome{false, JobState::Finished, o.error};
  }
  Result<bool> requeue_finished(long long, const std::string&) override { return false; }
  Result<long long> release_jobs(const Owner&) override { return 0LL; }
  Result<long long> retry_failed(const std::string&, bool) override { return 0LL; }

  Result<std::map<long long, long long>> renew_leases(const Owner&, const std::vector<StageStart>&) override {
    return std::map<long long, long long>{};
  }
  Result<long long> reap_expired() override { return 0LL; }
  Result<Backlog> backlog(long long) override { return Backlog{}; }
  Status record_run(long long, const Owner&, int, const std::string&, const PoolStats&) override {
    return Status::Ok();
  }

  Result<StatusReport> status_report(const std::string&) override { return StatusReport{}; }
  Result<std::vector<std::string>> model_names() override { return std::vector<std::string>{}; }
  Result<std::map<std::string, long long>> state_counts(long long) override {
    return std::map<std::string, long long>{};
  }
  Result<GridMap> grid_map(const std::string&, const std::string& rows, const std::string& columns) override {
    return GridMap{rows, columns, {}, {}, {}, {}};
  }
  Result<std::map<long long, std::vector<StoredFile>>> finished_outputs(const std::string&) override {
    return std::map<long long, std::vector<StoredFile>>{};
  }
  Result<ServerInfo> server_info() override { return ServerInfo{}; }
  Result<std::vector<std::string>> integrity_problems() override { return std::vector<std::string>{}; }
  MigrationReport migration() const override { return {}; }
  Result<CountCheck> check_counts(const std::string&) override { return CountCheck{}; }
  Result<bool> recount_jobs() override { return false; }
};

}  // namespace pdr::test
