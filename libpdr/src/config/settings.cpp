#include "pdr/settings.h"

#include "config/journal_dir.h"
#include "config/schema.h"
#include "pdr/runtime_prediction.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "pdr/grid_value.h"
#include "pdr/parameters.h"
#include "util/text.h"

namespace fs = std::filesystem;

namespace pdr {

// The longest duration a setting may be (about 31 years): clocks count nanoseconds in 64 bits.
constexpr long long kMaxDurationSeconds = 1000000000;
namespace {

// "~" and "~user" at the start of a path are home directories, as a shell would read them (a
// YAML file is read by no shell: "~/store" made a directory named "~" in the invocation
// directory). An unknown user's stays as written.
std::string expand_home(const std::string& p) {
  if (p.empty() || p[0] != '~') return p;
  const size_t slash = p.find('/');
  const std::string user = p.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  std::string home;
  if (user.empty()) {
    const char* env = std::getenv("HOME");
    if (env != nullptr && *env != '\0') {
      home = env;
    } else if (const passwd* pw = getpwuid(getuid())) {
      home = pw->pw_dir;
    }
  } else if (const passwd* pw = getpwnam(user.c_str())) {
    home = pw->pw_dir;
  }
  if (home.empty()) return p;
  return home + (slash == std::string::npos ? std::string() : p.substr(slash));
}

std::string absolute_from(const std::string& cwd, const std::string& raw) {
  if (raw.empty()) return raw;
  const std::string p = expand_home(raw);
  fs::path path(p);
  if (path.is_relative()) path = fs::path(cwd) / path;
  return path.lexically_normal().string();
}

std::string login_name() {
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_name;
  if (const char* u = std::getenv("USER")) return u;
  return "unknown";
}

Status require(const Config& c, const std::string& key, const std::string& hint) {
  if (c.str(key).empty()) {
    return Status::Usage("missing required value " + key + " (" + hint + ")");
  }
  return Status::Ok();
}

}  // namespace

namespace {

// database.*: the job database and its connection pool.
Status read_database(const Config& c, const std::string& cwd, Settings& s) {
  auto where = [&c](const std::string& key) { return key + " (from " + c.origin(key) + ")"; };
  DatabaseSettings& db = s.database;
  db.type = c.str("database.type");
  if (db.type != "sqlite" && db.type != "mysql" && db.type != "postgresql") {
    return Status::Usage(where("database.type") + ": '" + db.type +
                         "' is not a database type (sqlite, mysql or postgresql)");
  }
  const std::string server_name = db.type == "postgresql" ? "PostgreSQL" : "MySQL";
  if (db.type == "sqlite") {
    if (auto st = require(c, "database.path", "the SQLite file; set PDR_DB_FILE or database.path"); !st.ok()) return st;
    db.path = c.str("database.path") == ":memory:" ? ":memory:" : absolute_from(cwd, c.str("database.path"));
    if (db.path == ":memory:") {
      return Status::Usage(where("database.path") + ": ':memory:' would lose every job record; give a file");
    }
  } else {
    if (c.str("database.host").empty() && c.str("database.unix_socket").empty()) {
      return Status::Usage("missing required value database.host (or database.unix_socket) for " + db.type +
                           "; set PDR_DB_HOST");
    }
    if (auto st = require(c, "database.database", "the " + server_name + " database name; set PDR_DB_DATABASE");
        !st.ok())
      return st;
    if (auto st = require(c, "database.username", "the " + server_name + " user; set PDR_DB_USERNAME"); !st.ok())
      return st;
  }
  db.host = c.str("database.host");
  db.port = static_cast<int>(c.integer("database.port"));
  // The built-in port is MySQL's; PostgreSQL's own is 5432 unless one was given.
  if (db.type == "postgresql" && c.origin("database.port").rfind("default.yaml", 0) == 0) db.port = 5432;
  db.sslmode = c.str("database.sslmode");
  static const std::set<std::string> kSslModes = {"",        "disable",   "allow",      "prefer",
                                                  "require", "verify-ca", "verify-full"};
  if (kSslModes.count(db.sslmode) == 0) {
    return Status::Usage(where("database.sslmode") + ": '" + db.sslmode +
                         "' is not an sslmode (disable, allow, prefer, require, verify-ca or verify-full)");
  }
  if (!db.sslmode.empty() && db.type != "postgresql") {
    return Status::Usage(where("database.sslmode") + ": only PostgreSQL takes an sslmode; database.type is " + db.type);
  }
  db.database = c.str("database.database");
  db.username = c.str("database.username");
  db.password = c.str("database.password");
  db.pool_size = static_cast<int>(c.integer("database.pool_size"));
  db.max_overflow = static_cast<int>(c.integer("database.max_overflow"));
  db.diagnostics_enabled = c.boolean("database.diagnostics_enabled");
  if (db.max_overflow < 0) return Status::Usage(where("database.max_overflow") + ": must not be negative");
  db.pool_timeout = static_cast<int>(c.integer("database.pool_timeout"));
  db.pool_recycle = static_cast<int>(c.integer("database.pool_recycle"));
  db.pool_pre_ping = c.boolean("database.pool_pre_ping");
  db.busy_timeout = static_cast<int>(c.integer("database.busy_timeout"));
  db.unix_socket = c.str("database.unix_socket").empty() ? "" : absolute_from(cwd, c.str("database.unix_socket"));
  db.connect_timeout = static_cast<int>(c.integer("database.connect_timeout"));
  db.read_timeout = static_cast<int>(c.integer("database.read_timeout"));
  db.write_timeout = static_cast<int>(c.integer("database.write_timeout"));
  db.leak_threshold = c.real("database.leak_threshold");
  db.start_deadline = c.real("database.start_deadline");
  db.retry.max_attempts = static_cast<int>(c.integer("database.retry.max_attempts"));
  db.retry.initial_delay = c.real("database.retry.initial_delay");
  db.retry.max_delay = c.real("database.retry.max_delay");
  db.retry.deadline = c.real("database.retry.deadline");
  for (const char* key :
       {"database.pool_size", "database.pool_timeout", "database.pool_recycle", "database.busy_timeout",
        "database.connect_timeout", "database.read_timeout", "database.write_timeout", "database.retry.max_attempts"}) {
    if (c.integer(key) < 1) return Status::Usage(where(key) + ": must be at least 1");
  }
  for (const char* key : {"database.leak_threshold", "database.start_deadline", "database.retry.initial_delay",
                          "database.retry.max_delay", "database.retry.deadline"}) {
    if (!(c.real(key) > 0)) return Status::Usage(where(key) + ": must be greater than 0");
  }
  if (db.port < 1 || db.port > 65535) {
    return Status::Usage(where("database.port") + ": " + std::to_string(c.integer("database.port")) +
                         " is not a TCP port (1 to 65535)");
  }
  return Status::Ok();
}

// storage.*: where outputs go.
Status read_storage(const Config& c, const std::string& cwd, Settings& s) {
  auto where = [&c](const std::string& key) { return key + " (from " + c.origin(key) + ")"; };
  s.storage.type = c.str("storage.type");
  if (s.storage.type != "local" && s.storage.type != "rclone" && s.storage.type != "sftp") {
    return Status::Usage(where("storage.type") + ": '" + s.storage.type +
                         "' is not available in this build (local, rclone or sftp)");
  }
  if (auto st = require(c, "storage.base_dir", "where outputs go; set PDR_STORAGE_DIR or storage.base_dir"); !st.ok())
    return st;
  s.storage.transfer_timeout = c.real("storage.transfer_timeout");
  if (!(s.storage.transfer_timeout > 0))
    return Status::Usage(where("storage.transfer_timeout") + ": must be greater than 0");
  if (s.storage.type == "local") {
    s.storage.base_dir = absolute_from(cwd, c.str("storage.base_dir"));
  } else if (s.storage.type == "sftp") {
    s.storage.base_dir = c.str("storage.base_dir");
    if (s.storage.base_dir.empty() || s.storage.base_dir[0] != '/') {
      return Status::Usage(where("storage.base_dir") + ": sftp storage needs an absolute path on the server");
    }
    if (auto st = require(c, "storage.host", "the sftp server; set PDR_STORAGE_HOST"); !st.ok()) return st;
    s.storage.host = c.str("storage.host");
    s.storage.port = static_cast<int>(c.integer("storage.port"));
    if (s.storage.port < 1 || s.storage.port > 65535) {
      return Status::Usage(where("storage.port") + ": " + std::to_string(c.integer("storage.port")) +
                           " is not a TCP port (1 to 65535)");
    }
    s.storage.username = c.str("storage.username");
    s.storage.password = c.str("storage.password");
    s.storage.key_file = c.str("storage.key_file").empty() ? "" : absolute_from(cwd, c.str("storage.key_file"));
    s.storage.known_hosts =
        c.str("storage.known_hosts").empty() ? "" : absolute_from(cwd, c.str("storage.known_hosts"));
  } else {
    s.storage.base_dir = c.str("storage.base_dir");
    s.storage.remote_path_prefix = c.str("storage.remote_path_prefix");
    std::string remote = c.str("storage.rclone_remote");
    if (remote.empty()) {
      return Status::Usage(
          "missing required value storage.rclone_remote for rclone storage; set "
          "PDR_STORAGE_RCLONE_REMOTE (e.g. kosmatau: or kosmatau:/base/path)");
    }
    if (remote.find(':') == std::string::npos) remote += ":";
    const std::string name = remote.substr(0, remote.find(':'));
    if (name.empty() || std::any_of(name.begin(), name.end(), [](unsigned char ch) {
          return !(std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == ' ');
        })) {
      return Status::Usage(where("storage.rclone_remote") + ": '" + remote +
                           "' is not an rclone remote (name: or name:/path)");
    }
    s.storage.rclone_remote = remote;
  }
  return Status::Ok();
}

// pdr.*: the model name and the PDR base directory with its programs and templates.
Status read_pdr(const Config& c, const std::string& cwd, Settings& s) {
  auto where = [&c](const std::string& key) { return key + " (from " + c.origin(key) + ")"; };
  PdrSettings& p = s.pdr;
  if (auto st = require(c, "pdr.model_name", "name the grid with --model-name NAME"); !st.ok()) return st;
  p.model_name = c.str("pdr.model_name");
  if (p.model_name.size() > 200) {
    return Status::Usage(where("pdr.model_name") + ": " + std::to_string(p.model_name.size()) +
                         " bytes is too long for a directory name (at most 200)");
  }
  if (p.model_name == "." || p.model_name == ".." ||
      std::any_of(p.model_name.begin(), p.model_name.end(),
                  [](unsigned char ch) { return ch == '/' || ch < 0x20 || ch == 0x7f; })) {
    return Status::Usage(where("pdr.model_name") + ": '" + printable(p.model_name) +
                         "' cannot be a directory name (no '/', control characters, '.' or '..')");
  }
  // Stored as text in the database and written into JSON: UTF-8, as the database and every
  // reader take it (MySQL would turn other bytes into '?' and find no such model).
  if (valid_utf8(p.model_name) != p.model_name) {
    return Status::Usage(where("pdr.model_name") + ": '" + printable(valid_utf8(p.model_name)) +
                         "' is not valid UTF-8 (bytes shown as '?')");
  }
  if (auto st = require(c, "pdr.base_dir", "the PDR base directory; set PDR_BASE_DIR or pdr.base_dir"); !st.ok())
    return st;
  p.base_dir = absolute_from(cwd, c.str("pdr.base_dir"));
  p.pdr_file_name = c.str("pdr.pdr_file_name");
  p.onion_file_name = c.str("pdr.onion_file_name");
  p.getctrlind_file_name = c.str("pdr.getctrlind_file_name");
  p.mrt_file_name = c.str("pdr.mrt_file_name");
  p.pdrinp_template_file = c.str("pdr.pdrinp_template_file");
  p.json_template_file = c.str("pdr.json_template_file");
  p.chem_database = c.str("pdr.chem_database");
  p.chem_origin = c.str("pdr.chem_origin");
  for (const char* key : {"pdr.pdr_file_name", "pdr.onion_file_name", "pdr.getctrlind_file_name", "pdr.mrt_file_name",
                          "pdr.pdrinp_template_file", "pdr.json_template_file", "pdr.chem_database"}) {
    const std::string& v = c.str(key);
    if (v.empty() || v.find('/') != std::string::npos || v == "." || v == "..") {
      return Status::Usage(where(key) + ": '" + v + "' must be a file name inside pdr.base_dir");
    }
  }
  return Status::Ok();
}

// model_parameters.*: the grid axes, species and the random draw.
Status read_model(const Config& c, Settings& s) {
  auto where = [&c](const std::string& key) { return key + " (from " + c.origin(key) + ")"; };
  ModelSettings& m = s.model;
  m.metal = c.list("model_parameters.metal");
  m.dens = c.list("model_parameters.dens");
  m.mass = c.list("model_parameters.mass");
  m.chi = c.list("model_parameters.chi");
  // Each grid value checked where it was given (a file and line, or a flag).
  for (auto [axis, key, values] : {std::tuple{Axis::Metal, "model_parameters.metal", &m.metal},
                                   std::tuple{Axis::Dens, "model_parameters.dens", &m.dens},
                                   std::tuple{Axis::Mass, "model_parameters.mass", &m.mass},
                                   std::tuple{Axis::Chi, "model_parameters.chi", &m.chi}}) {
    for (const auto& text : *values) {
      if (auto v = parse_grid_value(axis, text); !v.ok())
        return Status::Usage(where(key) + ": " + v.status().message());
    }
    // A configuration file's values that a flag replaced are checked all the same.
    for (const auto& [replaced_key, old] : c.replaced()) {
      if (replaced_key != key) continue;
      for (const auto& text : old.list) {
        if (auto v = parse_grid_value(axis, text); !v.ok()) {
          return Status::Usage(std::string(key) + " (from " + old.origin + ", replaced by " + c.origin(key) +
                               "): " + v.status().message());
        }
      }
    }
  }
  m.species = c.list("model_parameters.species");
  m.alpha = c.str("model_parameters.alpha");
  m.rcore = c.str("model_parameters.rcore");
  m.chemistry = c.str("model_parameters.chemistry");
  m.random = c.boolean("model_parameters.create_random_models");
  const long long count = c.integer("model_parameters.random_model_num");
  if (count < 1 || count > 10000000) {
    return Status::Usage(where("model_parameters.random_model_num") + ": must be between 1 and 10000000");
  }
  m.random_count = static_cast<int>(count);
  if (const std::string& seed = c.str("model_parameters.random_seed"); !seed.empty()) {
    unsigned long long value = 0;
    auto r = std::from_chars(seed.data(), seed.data() + seed.size(), value);
    if (r.ec != std::errc() || r.ptr != seed.data() + seed.size()) {
      return Status::Usage(where("model_parameters.random_seed") + ": '" + seed +
                           "' is not a seed (an integer from 0 to 18446744073709551615)");
    }
    m.random_seed = value;
  }
  std::vector<std::string> species;
  for (const auto& sp : m.species) {
    // A species names files (ONION3.INP.<species>, TEXTOUT<job>_<species>) and is kept in a
    // list joined by spaces: one with a space would be two species.
    const bool odd = std::any_of(sp.begin(), sp.end(), [](char ch) {
      const auto u = static_cast<unsigned char>(ch);
      return u <= 0x20 || u == 0x7f || ch == '"' || ch == '\\' || ch == '\'' || ch == '/';
    });
    if (sp.empty() || odd || sp == "." || sp == "..") {
      return Status::Usage(where("model_parameters.species") + ": " + "'" + printable(sp) + "'" +
                           " is not a species name (no spaces, quotes, slashes, backslashes or control characters)");
    }
    if (std::find(species.begin(), species.end(), sp) != species.end()) {
      // Its outputs would take the same names twice: run it once, like a repeated grid value.
      s.notes.push_back(where("model_parameters.species") + ": species '" + sp +
                        "' is given twice; its onion runs once");
      continue;
    }
    species.push_back(sp);
  }
  m.species = std::move(species);
  // Recorded with every job as one text, in the predecessor's VARCHAR(255) on its MySQL tables.
  size_t joined = 0;
  for (const auto& sp : m.species) joined += sp.size() + (joined == 0 ? 0 : 1);
  if (joined > 255) {
    return Status::Usage(where("model_parameters.species") + ": " + std::to_string(m.species.size()) +
                         " species make " + std::to_string(joined) +
                         " characters, more than the 255 the job tables keep; run them as separate models");
  }
  return Status::Ok();
}

// run.*: workers, leases, attempts, timeouts and the local directories of a run.
Status read_run(const Config& c, Settings& s, unsigned cores) {
  auto where = [&c](const std::string& key) { return key + " (from " + c.origin(key) + ")"; };
  // A duration given as text, held by the same 64-bit nanosecond clocks as the numbers (see
  // check_durations): 3000000d wrapped a deadline into the past and the run started nothing.
  auto within_clock = [&](const std::string& key, const std::string& text, long long seconds) {
    if (seconds <= kMaxDurationSeconds) return Status::Ok();
    return Status::Usage(where(key) + ": '" + text + "' is " + std::to_string(seconds) +
                         " s, more than the 1000000000 s (about 31 years) a duration may be");
  };
  RunSettings& r = s.run;
  const long long workers = c.integer("run.workers");
  // More than one worker is a parallel run, from a flag or a configuration file alike.
  r.parallel = c.boolean("run.parallel") || workers > 1;
  const long long reserved = c.integer("run.reserved_cpus");
  if (workers < 0 || workers > kMaxWorkers) {
    return Status::Usage(where("run.workers") + ": must be between 0 and " + std::to_string(kMaxWorkers));
  }
  if (reserved < 0) return Status::Usage(where("run.reserved_cpus") + ": must not be negative");
  if (r.parallel) {
    r.workers =
        workers > 0 ? static_cast<int>(workers) : std::max(1, static_cast<int>(cores) - static_cast<int>(reserved));
  } else {
    r.workers = 1;
  }
  r.keep_tmp = c.boolean("run.keep_tmp");
  s.storage.link_outputs = !r.keep_tmp;
  r.step_timeout = c.real("run.step_timeout");
  if (r.step_timeout < 0) return Status::Usage(where("run.step_timeout") + ": must not be negative");
  r.force_onion = c.boolean("run.force_onion");
  const long long lease = c.integer("run.lease_seconds"), beat = c.integer("run.heartbeat_seconds");
  if (lease < 3 || lease > 86400) return Status::Usage(where("run.lease_seconds") + ": must be between 3 and 86400");
  if (beat < 1 || beat * 3 > lease) {
    return Status::Usage(where("run.heartbeat_seconds") +
                         ": must be at least 1 and at most a third of run.lease_seconds (" + std::to_string(lease) +
                         ")");
  }
  r.lease_seconds = static_cast<int>(lease);
  r.heartbeat_seconds = static_cast<int>(beat);
  const long long attempts = c.integer("run.max_attempts");
  if (attempts < 1 || attempts > 100) return Status::Usage(where("run.max_attempts") + ": must be between 1 and 100");
  r.max_attempts = static_cast<int>(attempts);
  r.max_points = c.integer("run.max_points");
  if (r.max_points < 1) return Status::Usage(where("run.max_points") + ": must be at least 1");
  r.retry_delay = c.real("run.retry_delay");
  if (r.retry_delay < 0 || r.retry_delay > 86400) {
    return Status::Usage(where("run.retry_delay") + ": must be between 0 and 86400 seconds");
  }
  r.progress_interval = c.real("run.progress_interval");
  if (r.progress_interval < 0) return Status::Usage(where("run.progress_interval") + ": must not be negative");
  r.outage_wait = c.real("run.outage_wait");
  if (r.outage_wait < 0) return Status::Usage(where("run.outage_wait") + ": must not be negative");
  if (const std::string t = trim_space(c.str("run.time_left")); !t.empty()) {
    auto seconds = parse_time_left(t);
    if (!seconds || *seconds <= 0) {
      return Status::Usage(where("run.time_left") + ": '" + t +
                           "' is not a time left (e.g. 90m, 2h30m, 3600, or Slurm's 1-00:00:00)");
    }
    if (Status st = within_clock("run.time_left", t, *seconds); !st.ok()) return st;
    r.time_left = static_cast<double>(*seconds);
  }
  if (const std::string m = trim_space(c.str("run.end_margin")); !m.empty()) {
    if (m.back() == '%') {
      char* end = nullptr;
      // Decimal only, as every number of a config: strtod alone took 0x10% and 1e1%.
      const bool decimal =
          std::any_of(m.begin(), m.end() - 1, [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); }) &&
          std::all_of(m.begin(), m.end() - 1,
                      [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) || ch == '.'; });
      const double pct = decimal ? std::strtod(m.c_str(), &end) : -1;
      if (!decimal || end != m.c_str() + m.size() - 1 || !(pct >= 0 && pct < 100)) {
        return Status::Usage(where("run.end_margin") + ": '" + m + "' is not a percentage below 100 (e.g. 5%)");
      }
      r.end_margin_percent = pct;
    } else {
      auto seconds = parse_duration(m);
      if (!seconds)
        return Status::Usage(where("run.end_margin") + ": '" + m +
                             "' is not a duration (e.g. 2m) or a percentage (5%)");
      if (Status st = within_clock("run.end_margin", m, *seconds); !st.ok()) return st;
      r.end_margin = static_cast<double>(*seconds);
    }
  }
  // A margin that takes the whole time given: no job could ever start (a run registered the
  // grid, started nothing and ended with exit 0). Slurm's end time, read when the run starts,
  // may legitimately leave no room; a time given here may not.
  if (r.time_left > 0 && r.end_margin >= r.time_left) {
    return Status::Usage(where("run.end_margin") + ": '" + trim_space(c.str("run.end_margin")) +
                         "' is not less than run.time_left (from " + c.origin("run.time_left") + ", '" +
                         trim_space(c.str("run.time_left")) + "'): no job could start");
  }
  if (const std::string e = trim_space(c.str("run.expected_job_seconds")); !e.empty()) {
    auto seconds = parse_duration(e);
    if (!seconds || *seconds <= 0) {
      return Status::Usage(where("run.expected_job_seconds") + ": '" + e +
                           "' is not a positive duration (e.g. 600, 40m)");
    }
    if (Status st = within_clock("run.expected_job_seconds", e, *seconds); !st.ok()) return st;
    r.expected_job_seconds = static_cast<double>(*seconds);
  }
  return Status::Ok();
}

// run.*: the local directories of a run (scratch, logs, journal) and the job directory layout.
Status read_run_directories(const Config& c, const std::string& cwd, Settings& s) {
  auto where = [&c](const std::string& key) { return key + " (from " + c.origin(key) + ")"; };
  RunSettings& r = s.run;
  std::string scratch = c.str("run.scratch_dir");
  if (scratch.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    scratch = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  }
  r.scratch_dir = absolute_from(cwd, scratch);
  r.json_template = absolute_from(cwd, c.str("run.json_template"));
  if (c.str("run.log_dir").empty()) return Status::Usage(where("run.log_dir") + ": must not be empty");
  r.log_dir = absolute_from(cwd, c.str("run.log_dir"));
  const long long keep = c.integer("run.log_keep");
  if (keep < 0 || keep > 1000000) return Status::Usage(where("run.log_keep") + ": must be between 0 and 1000000");
  r.log_keep = static_cast<int>(keep);
  const std::string journal = c.str("run.journal_dir");
  // By default one directory per user: the scratch directory is often /tmp, which every user of
  // a login node shares, and a directory the first user made would refuse the others' journals.
  r.journal_dir = journal.empty() ? default_journal_dir(r.scratch_dir) : absolute_from(cwd, journal);
  r.pdr_out_dirs = c.list("directories.pdr_out_dirs");
  r.pdr_inp_dirs = c.list("directories.pdr_inp_dirs");
  for (const char* key : {"directories.pdr_out_dirs", "directories.pdr_inp_dirs"}) {
    std::set<std::string> seen;
    for (const auto& d : c.list(key)) {
      // Each is a directory of the job's own (linked from the base directory or made empty):
      // "." or the same name twice would be the job directory itself or a link made twice.
      std::string normal = fs::path(d).lexically_normal().string();
      while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
      if (d.empty() || d[0] == '/' || d.find("..") != std::string::npos || normal == "." || normal.empty()) {
        return Status::Usage(where(key) + ": '" + printable(d) + "' must be a relative directory name");
      }
      if (!seen.insert(normal).second) {
        return Status::Usage(where(key) + ": '" + printable(d) + "' is named twice");
      }
    }
  }
  return Status::Ok();
}

// slurm.*: the batch script of `pdr_run submit`.
Status read_slurm(const Config& c, const std::string& cwd, Settings& s) {
  auto where = [&c](const std::string& key) { return key + " (from " + c.origin(key) + ")"; };
  SlurmSettings& sl = s.slurm;
  const long long nodes = c.integer("slurm.nodes");
  if (nodes < 1 || nodes > kMaxNodes) {
    return Status::Usage(where("slurm.nodes") + ": must be between 1 and " + std::to_string(kMaxNodes));
  }
  sl.nodes = static_cast<int>(nodes);
  const long long cpus = c.integer("slurm.cpus_per_task"), sig = c.integer("slurm.signal_seconds");
  if (cpus < 0 || cpus > 100000) return Status::Usage(where("slurm.cpus_per_task") + ": must be between 0 and 100000");
  if (sig < 0 || sig > 86400) return Status::Usage(where("slurm.signal_seconds") + ": must be between 0 and 86400");
  sl.cpus_per_task = static_cast<int>(cpus);
  sl.signal_seconds = static_cast<int>(sig);
  for (const char* key : {"slurm.partition", "slurm.time", "slurm.account"}) {
    const std::string v = c.str(key);
    if (v.find_first_of(" \t\r\n'\"\\;$`") != std::string::npos) {
      return Status::Usage(where(key) + ": '" + v + "' is not a Slurm " + std::string(key + 6) + " name");
    }
  }
  sl.partition = c.str("slurm.partition");
  sl.time = c.str("slurm.time");
  // UNLIMITED, INFINITE and 0 ask for no limit.
  if (!sl.time.empty() && lower(sl.time) != "unlimited" && lower(sl.time) != "infinite" && sl.time != "0") {
    const auto limit = parse_slurm_time(sl.time);
    if (!limit || *limit <= 0) {
      return Status::Usage(where("slurm.time") + ": '" + sl.time +
                           "' is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)");
    }
    // Slurm sends the end signal signal_seconds before the limit, up to 60 s early: a task that
    // short is told to stop before it claims anything.
    if (sl.signal_seconds > 0 && *limit <= sl.signal_seconds + 60) {
      return Status::Usage(where("slurm.time") + ": " + sl.time + " is not longer than slurm.signal_seconds (" +
                           std::to_string(sl.signal_seconds) +
                           ") + 60 s: every task would be told to stop before it ran a job (a longer time, or a "
                           "smaller signal_seconds)");
    }
  }
  sl.account = c.str("slurm.account");
  sl.extra_lines = c.list("slurm.extra_lines");
  for (const auto& line : sl.extra_lines) {
    if (line.find_first_of("\r\n") != std::string::npos) {
      return Status::Usage(where("slurm.extra_lines") + ": each entry must be one line");
    }
  }
  if (c.str("slurm.script_dir").empty()) return Status::Usage(where("slurm.script_dir") + ": must not be empty");
  sl.script_dir = absolute_from(cwd, c.str("slurm.script_dir"));
  sl.sbatch = c.str("slurm.sbatch");
  if (sl.sbatch.empty()) return Status::Usage(where("slurm.sbatch") + ": must not be empty");
  return Status::Ok();
}

}  // namespace

// A double quote left open in the YAML makes one scalar of the lines after it (their breaks
// folded to spaces): the value takes them in, and the settings they held fall back to their
// defaults. A path holds no line break or other control character and no "word: " after a space;
// any other text no "<name>: " after a space where <name> is a section or key of the settings
// (a password or a chemistry may hold anything else). Returns where the lines taken in start
// (npos: none).
static size_t swallowed_from(const std::string& v, bool path) {
  static const std::set<std::string> names = [] {
    std::set<std::string> out(section_names().begin(), section_names().end());
    for (const auto& spec : setting_specs()) {
      for (size_t from = 0;;) {
        const size_t dot = spec.key.find('.', from);
        out.insert(spec.key.substr(from, dot == std::string::npos ? std::string::npos : dot - from));
        if (dot == std::string::npos) break;
        from = dot + 1;
      }
    }
    return out;
  }();
  size_t at = std::string::npos;
  if (path) {
    const auto ctl = std::find_if(v.begin(), v.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20; });
    if (ctl != v.end()) at = static_cast<size_t>(ctl - v.begin());
  }
  for (size_t colon = v.find(": "); colon != std::string::npos && colon < at; colon = v.find(": ", colon + 1)) {
    size_t word = colon;
    while (word > 0 && (std::isalnum(static_cast<unsigned char>(v[word - 1])) || v[word - 1] == '_')) --word;
    if (word < colon && word > 0 && v[word - 1] == ' ' && (path || names.count(v.substr(word, colon - word)) != 0)) {
      return word;
    }
  }
  return at;
}

static Status check_swallowed_lines(const Config& c) {
  static const std::set<std::string> paths = {"database.path",    "database.unix_socket", "storage.base_dir",
                                              "storage.key_file", "storage.known_hosts",  "pdr.base_dir",
                                              "run.scratch_dir",  "run.json_template",    "run.log_dir",
                                              "run.journal_dir",  "slurm.script_dir"};
  for (const auto& spec : setting_specs()) {
    if (spec.type != SettingType::String && spec.type != SettingType::Secret) continue;
    const std::string& key = spec.key;
    const std::string v = c.str(key);
    const size_t from = swallowed_from(v, paths.count(key) != 0);
    if (from == std::string::npos) continue;
    // Only the value's own text is shown, never the lines it took in (a password may be there).
    std::string own = v.substr(0, from);
    while (!own.empty() && own.back() == ' ') own.pop_back();
    const std::string shown = spec.type == SettingType::Secret
                                  ? std::string()
                                  : " '" + printable(own.substr(0, 60)) + (own.size() > 60 ? "...'" : "'");
    std::string next;
    for (size_t i = from; i < v.size() && (std::isalnum(static_cast<unsigned char>(v[i])) || v[i] == '_'); ++i) {
      next += v[i];
    }
    return Status::Usage(key + " (from " + c.origin(key) + "):" + shown + " holds the lines after it" +
                         (next.empty() ? std::string() : " ('" + next + ":' on)") + ": a quote left open in the YAML?");
  }
  return Status::Ok();
}

// Every number of seconds is kept by clocks that count nanoseconds in 64 bits: a value beyond
// about 292 years overflowed there (a step_timeout of 1e18 killed every step at once).
static Status check_durations(const Config& c) {
  constexpr double kMaxSeconds = kMaxDurationSeconds;
  for (const auto& spec : setting_specs()) {
    if (spec.type != SettingType::Real || spec.key.rfind("model_parameters.", 0) == 0) continue;
    if (c.real(spec.key) > kMaxSeconds) {
      return Status::Usage(spec.key + " (from " + c.origin(spec.key) + "): " + c.str(spec.key) +
                           " s is more than the 1000000000 s (about 31 years) a duration may be");
    }
  }
  return Status::Ok();
}

Result<Settings> build_settings(const Config& c, const std::string& cwd, unsigned cores) {
  Settings s;
  Status st = check_swallowed_lines(c);
  if (st.ok()) st = check_durations(c);
  if (st.ok()) st = read_database(c, cwd, s);
  if (st.ok()) st = read_storage(c, cwd, s);
  if (st.ok()) st = read_pdr(c, cwd, s);
  if (st.ok()) st = read_model(c, s);
  if (st.ok()) st = read_run(c, s, cores);
  if (st.ok()) st = read_run_directories(c, cwd, s);
  if (st.ok()) st = read_slurm(c, cwd, s);
  if (!st.ok()) return st;
  s.user.username = c.str("user.username").empty() ? login_name() : c.str("user.username");
  s.user.email = c.str("user.email");

  for (const auto& kv : c.non_default_parameters()) {
    const ParamSpec* spec = find_parameter(kv.first);
    // The predecessor's column (VARCHAR(50)): MySQL and PostgreSQL refuse a longer value when the
    // grid is registered, after the model's row was written.
    // Text goes into the inputs as it is: a quote or backslash would end the JSON string early, a
    // line break start a line of its own in PDRNEW.INP.
    if (spec->type == ParamType::Text && std::any_of(kv.second.begin(), kv.second.end(), [](char ch) {
          const auto u = static_cast<unsigned char>(ch);
          return u < 0x20 || u == 0x7f || ch == '"' || ch == '\\';
        })) {
      const std::string key = "non_default_parameters." + kv.first;
      return Status::Usage(key + " (from " + c.origin(key) + "): " + "'" + printable(kv.second) + "'" +
                           " holds a quote, a backslash or a control character, which the model's inputs cannot "
                           "carry");
    }
    if (std::string(spec->name) == "fuvstring" && kv.second.size() > 50) {
      const std::string key = "non_default_parameters.fuvstring";
      return Status::Usage(key + " (from " + c.origin(key) + "): " + std::to_string(kv.second.size()) +
                           " characters, more than the 50 the parameter table keeps");
    }
    s.non_default[kv.first] = spec->type == ParamType::Text ? kv.second : canonical_number(spec->type, kv.second);
  }
  return s;
}

}  // namespace pdr
