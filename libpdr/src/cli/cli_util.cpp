#include "cli/cli_util.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <filesystem>
#include <thread>

#include "pdr/db_manager.h"
#include "pdr/grid_run.h"
#include "pdr/job_reports.h"
#include "util/text.h"

namespace pdr {
namespace {

std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-+./,:=@%") == std::string::npos;
  return plain ? word : shell_quote(word);
}

}  // namespace

std::string next_command(const CliOptions& options, const std::string& subcommand, const std::string& model) {
  std::string line = "pdr_run " + subcommand;
  if (!options.config_file.empty()) {
    line += " --config " + shell_word(std::filesystem::absolute(options.config_file).lexically_normal().string());
  }
  line += " --model-name " + shell_word(model);
  if (subcommand == "worker") {
    // The flags that change how a job runs, as the run that printed it had them.
    if (options.species) {
      line += " --species";
      for (const auto& sp : *options.species) line += " " + shell_word(sp);
    }
    if (!options.json_template.empty()) {
      line += " --json-template " +
              shell_word(std::filesystem::absolute(options.json_template).lexically_normal().string());
    }
    if (options.keep_tmp) line += " --keep-tmp";
  }
  return line;
}

Status with_notes(const Status& st, const Config& config) {
  if (st.ok() || config.notes().empty()) return st;
  std::string notes;
  for (const auto& n : config.notes()) notes += (notes.empty() ? "" : "; ") + n;
  return Status::Error(st.kind(), st.message() + " (note: " + notes + ")", st.code());
}

void log_config_notes(const Config& config) {
  for (const auto& n : config.notes()) spdlog::warn("{}", n);
}

std::string sqlite_file_unreadable(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) {
    // A directory on the way this user may not enter; a missing file is no reason.
    if (errno == ENOENT || errno == ENOTDIR) return {};
    return std::string("cannot be looked at: ") + std::strerror(errno);
  }
  if (::access(path.c_str(), R_OK) != 0) return std::string("is not readable by this user: ") + std::strerror(errno);
  return {};
}

Result<OpenedStore> open_existing_store(const CliOptions& options, const EnvLookup& env, const char* command,
                                        bool read_only) {
  auto config = load_config(options, env);
  if (!config.ok()) return config.status();
  Config& c = config.value();
  // Commands that only read the database need no model or PDR directory: placeholders.
  for (const auto& [key, placeholder] : {std::pair<const char*, const char*>{"pdr.model_name", "-"},
                                         std::pair<const char*, const char*>{"pdr.base_dir", "."}}) {
    if (!c.str(key).empty()) continue;
    if (Status st = c.set_scalar(key, placeholder, command); !st.ok()) return st;
  }
  auto settings = build_settings(c, invocation_dir(), std::thread::hardware_concurrency());
  if (!settings.ok()) return with_notes(settings.status(), c);
  log_config_notes(c);
  settings->database.read_only = read_only && settings->database.type == "sqlite";
  const DatabaseSettings& db = settings->database;
  if (db.type == "sqlite") {
    if (const std::string why = sqlite_file_unreadable(db.path); !why.empty()) {
      return Status::Usage("database.path: " + db.path + " (from " + c.origin("database.path") + ") " + why);
    }
    struct stat sb;
    if (::stat(db.path.c_str(), &sb) != 0) {
      return Status::Usage("no job database at " + db.path + " (database.path from " + c.origin("database.path") +
                           "); nothing has run there yet");
    }
  }
  // A command that writes (verify, retry) is told now that it may not, not after its reading.
  if (!read_only && db.type == "sqlite") {
    if (Status st = check_creatable(db.path, false, "database.path"); !st.ok()) return st;
  }
  auto manager = process_db_manager(db);
  if (!manager.ok()) return manager.status();
  if (Status st = manager.value()->reach(); !st.ok()) return st;
  // A command that may write: nothing is created or migrated in a database that is not
  // pdr_run's, or that does not hold the model it names.
  if (!read_only) {
    Expectation expect;
    expect.what = options.model_name ? Expect::kModel : Expect::kPdrRunTables;
    expect.model = options.model_name.value_or("");
    if (Status st = expect_before_writing(*manager.value(), expect); !st.ok()) return st;
  }
  auto store = open_job_store(*manager.value(), /*create_schema=*/!read_only);
  if (!store.ok()) return store.status();
  if (read_only) {
    auto info = store.value()->server_info_at_open();
    if (!info.ok()) return info.status();
    if (info->schema_version == 0) {
      // The Python pdr_run's tables have no schema_version: the first pdr_run run takes them in.
      if (store.value()->model_names().ok()) {
        return Status::Usage(db.describe() + " was written by the Python pdr_run; " + std::string(command) +
                             " only reads: run pdr_run on it once (it keeps every row) and " + command + " reads it");
      }
      return Status::Usage("no pdr_run tables in " + db.describe() + "; nothing has run there yet");
    }
    if (info->schema_version != kSchemaVersion) {
      return Status::Usage(
          db.describe() + " has schema version " + std::to_string(info->schema_version) +
          (info->schema_version < kSchemaVersion
               ? "; " + std::string(command) + " only reads: the next pdr_run run upgrades it to " +
                     std::to_string(kSchemaVersion)
               : ", newer than this pdr_run (" + std::to_string(kSchemaVersion) + "); use a newer one"));
    }
  }
  return OpenedStore{std::move(settings.value()), std::move(store.value())};
}

}  // namespace pdr
