// `pdr_run retry`: queue the failed jobs of a model again with fresh attempts.
#include <spdlog/spdlog.h>

#include <ostream>

#include "cli/cli_util.h"
#include "pdr/cli.h"
#include "pdr/exit_code.h"
#include "pdr/job_store.h"
#include "util/text.h"

namespace pdr {

int retry_command(const CliOptions& options, const EnvLookup& env, std::ostream& out) {
  if (!options.model_name) {
    spdlog::error("retry needs --model-name NAME");
    return kExitUsage;
  }
  auto opened = open_existing_store(options, env, "retry");
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitUsage;
  }
  auto model = opened->store->find_model(*options.model_name);
  if (model.ok() && !model.value()) {
    spdlog::error("model '{}' is not in {}", *options.model_name, opened->settings.database.describe());
    return kExitUsage;
  }
  auto n = model.ok() ? opened->store->retry_failed(*options.model_name, options.ownerless)
                      : Result<long long>(model.status());
  if (!n.ok()) {
    spdlog::error("{}", n.status().message());
    return kExitUsage;
  }
  out << "model " << *options.model_name << ": "
      << count_text(n.value(), options.ownerless ? "failed or ownerless running job" : "failed job")
      << " queued again with fresh attempts";
  if (n.value() > 0) out << "; run them with: " << next_command(options, "worker", *options.model_name);
  out << "\n";
  return kExitAllDone;
}

}  // namespace pdr
