#include "db/schema.h"

#include "pdr/job_state.h"
#include "pdr/parameters.h"

namespace pdr {

std::string ColumnDef::added_type() const {
  const auto nn = type.find(" NOT NULL");
  if (nn == std::string::npos || type.find("DEFAULT") != std::string::npos) return type;
  return type.substr(0, nn) + type.substr(nn + 9);
}

std::string Dialect::column_type(const std::string& type) const {
  if (!pg) return type;
  auto replace = [](std::string t, const std::string& from, const std::string& to) {
    for (size_t at = t.find(from); at != std::string::npos; at = t.find(from, at + to.size())) {
      t.replace(at, from.size(), to);
    }
    return t;
  };
  std::string t = type;
  if (t.rfind("DATETIME(3)", 0) == 0) {
    t = "TIMESTAMP(3)" + t.substr(11);
  } else if (t.rfind("DATETIME", 0) == 0) {
    t = "TIMESTAMP(0)" + t.substr(8);
  } else if (t.rfind("DOUBLE", 0) == 0) {
    t = "DOUBLE PRECISION" + t.substr(6);
  } else if (t.rfind("BOOLEAN", 0) == 0) {
    t = replace(replace(t, "DEFAULT 1", "DEFAULT TRUE"), "DEFAULT 0", "DEFAULT FALSE");
  }
  // The database's UTC time whatever the session's time zone (an SQL client's, say).
  return replace(t, "DEFAULT CURRENT_TIMESTAMP", "DEFAULT (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')");
}

std::vector<TableDef> schema_tables() {
  TableDef params{"kosmatau_parameters",
                  {{"model_name_id", "INTEGER NOT NULL"}, {"time_created", "DATETIME DEFAULT CURRENT_TIMESTAMP"}}};
  for (const auto& spec : parameter_specs()) {
    const char* type = spec.type == ParamType::Real              ? "DOUBLE"
                       : spec.type == ParamType::Integer         ? "INTEGER"
                       : (std::string(spec.name) == "fuvstring") ? "VARCHAR(50)"
                                                                 : "TEXT";
    params.columns.push_back({spec.name, type});
  }
  // NULL on a row the predecessor inserted: pdr_run fills it when it registers the model.
  params.columns.push_back({"parameter_hash", "CHAR(64)"});

  return {
      {"schema_version", {{"version", "INTEGER NOT NULL"}}},
      {"chemical_databases",
       {{"chem_rates_file_name", "VARCHAR(255) NOT NULL"},
        {"chem_rates_full_path", "VARCHAR(255) NOT NULL DEFAULT ''"},
        {"database_origin", "VARCHAR(50) NOT NULL DEFAULT ''"}}},
      {"json_templates",
       {{"name", "VARCHAR(255) NOT NULL"},
        {"path", "VARCHAR(512) NOT NULL"},
        {"description", "TEXT"},
        {"hash", "VARCHAR(64)"},
        {"sha256_sum", "VARCHAR(64)"},
        {"created_at", "DATETIME DEFAULT CURRENT_TIMESTAMP"}}},
      {"kosmatau_executables",
       {{"code_revision", "VARCHAR(50)"},
        {"compilation_date", "DATETIME"},
        {"executable_file_name", "VARCHAR(255) NOT NULL"},
        {"executable_full_path", "VARCHAR(255) NOT NULL DEFAULT ''"},
        {"sha256_sum", "VARCHAR(64) NOT NULL DEFAULT ''"},
        {"comment", "VARCHAR(250)"}}},
      {"model_names",
       {{"model_name", "VARCHAR(255) NOT NULL"},
        {"model_path", "VARCHAR(255) NOT NULL"},
        {"model_description", "VARCHAR(1000)"}}},
      {"users", {{"username", "VARCHAR(255) NOT NULL"}, {"email", "VARCHAR(255) NOT NULL"}}},
      params,
      {"pdr_model_jobs",
       {{"model_name_id", "INTEGER NOT NULL"},
        {"model_job_name", "VARCHAR(255) NOT NULL"},
        {"user_id", "INTEGER"},
        {"kosmatau_parameters_id", "INTEGER NOT NULL"},
        {"kosmatau_executable_id", "INTEGER"},
        {"chemical_database_id", "INTEGER"},
        {"onion_species", "TEXT"},
        {"pending", "BOOLEAN NOT NULL DEFAULT 1"},
        {"active", "BOOLEAN NOT NULL DEFAULT 0"},
        {"status", "VARCHAR(50) NOT NULL DEFAULT 'pending'"},
        {"time_of_start", "DATETIME"},
        {"time_of_finish", "DATETIME"},
        {"execution_time", "DATETIME"},
        {"token", "VARCHAR(250)"},
        {"output_directory", "VARCHAR(255)"},
        {"output_hdf4_file", "VARCHAR(255)"},
        {"output_textout_file", "VARCHAR(255)"},
        {"output_chemchk_file", "VARCHAR(255)"},
        {"output_mcdrt_zip_file", "VARCHAR(255)"},
        {"output_ctrl_ind_file", "VARCHAR(255)"},
        {"output_hdf5_file", "VARCHAR(250)"},
        {"input_pdrnew_inp_file", "VARCHAR(255)"},
        {"input_json_file", "VARCHAR(512)"},
        {"output_json_file", "VARCHAR(512)"},
        {"log_file", "VARCHAR(255)"},
        {"time_created", "DATETIME DEFAULT CURRENT_TIMESTAMP"},
        {"time_updated", "DATETIME"},
        {"attempts", "INTEGER NOT NULL DEFAULT 0"},
        {"host", "VARCHAR(255)"},
        {"pid", "INTEGER"},
        {"exit_code", "INTEGER"},
        {"error", "TEXT"},
        // 0 for the job of a (model, job name); a duplicate row kept from the predecessor carries
        // its own id here, so the unique key holds without losing it. NULL (the default) on a row
        // the predecessor inserted: not claimed or counted until pdr_run registers the model and
        // classifies it, so no key of pdr_run ever refuses one of the predecessor's inserts.
        {"duplicate_key", "INTEGER"},
        // 'all', or 'onion' when only the onion step is to run again (--force-onion).
        {"run_stage", "VARCHAR(20) NOT NULL DEFAULT 'all'"},
        // Leases: every claim increments the epoch; the owner renews lease_expires_at (database
        // clock, UTC) every heartbeat; outcome writes are conditional on token and epoch.
        {"lease_epoch", "BIGINT NOT NULL DEFAULT 0"},
        {"lease_expires_at", "DATETIME"},
        {"heartbeat_at", "DATETIME"},
        // Retries: a failed attempt waits until retry_at; last_error is the previous failure.
        {"retry_at", "DATETIME"},
        {"last_error", "TEXT"},
        // The latest failed attempt: its stage (setup, pdr, onion, storage, lease, verify) and
        // what happened there ("exit code 3"), without the program's output. Kept while the
        // job runs again and after a finish, like last_error (a second failure the same way in
        // a row ends it); cleared when the job is queued again with fresh attempts.
        {"error_stage", "VARCHAR(16)"},
        {"error_cause", "TEXT"},
        // Walltime-aware claiming: the run time predicted when it was last claimed, and from what.
        {"predicted_seconds", "DOUBLE"},
        {"prediction_basis", "VARCHAR(255)"}}},
      {"hdf_files",
       {{"job_id", "INTEGER"},
        {"pdrexe_id", "INTEGER"},
        {"parameter_id", "INTEGER"},
        {"model_name_id", "INTEGER"},
        {"file_name", "VARCHAR(255) NOT NULL"},
        {"full_path", "VARCHAR(255)"},
        {"path", "VARCHAR(255)"},
        {"modification_time", "DATETIME"},
        {"sha256_sum", "VARCHAR(64)"},
        {"file_size", "BIGINT"},
        {"corrupt", "BOOLEAN DEFAULT 0"},
        {"comments", "TEXT"},
        {"file_name_hdf5_s", "VARCHAR(255) NOT NULL"},
        {"full_path_hdf5_s", "VARCHAR(255)"},
        {"path_hdf5_s", "VARCHAR(255)"},
        {"modification_time_hdf5_s", "DATETIME"},
        {"sha256_sum_hdf5_s", "VARCHAR(64)"},
        {"file_size_hdf5_s", "BIGINT"},
        {"file_name_hdf5_c", "VARCHAR(255) NOT NULL"},
        {"full_path_hdf5_c", "VARCHAR(255)"},
        {"path_hdf5_c", "VARCHAR(255)"},
        {"modification_time_hdf5_c", "DATETIME"},
        {"sha256_sum_hdf5_c", "VARCHAR(64)"},
        {"file_size_hdf5_c", "BIGINT"}}},
      {"json_files",
       {{"name", "VARCHAR(255) NOT NULL"},
        {"path", "VARCHAR(512) NOT NULL"},
        {"archived_path", "VARCHAR(512)"},
        {"sha256_sum", "VARCHAR(64)"},
        {"created_at", "DATETIME DEFAULT CURRENT_TIMESTAMP"},
        {"template_id", "INTEGER"},
        {"job_id", "INTEGER"}}},
      {"pdr_runs",
       {{"token", "VARCHAR(64) NOT NULL"},
        {"model_name_id", "INTEGER"},
        {"host", "VARCHAR(255)"},
        {"pid", "INTEGER"},
        {"workers", "INTEGER"},
        {"state", "VARCHAR(20) NOT NULL DEFAULT 'running'"},
        {"started_at", "DATETIME DEFAULT CURRENT_TIMESTAMP"},
        {"updated_at", "DATETIME"},
        {"pool_open", "INTEGER NOT NULL DEFAULT 0"},
        {"pool_in_use", "INTEGER NOT NULL DEFAULT 0"},
        {"pool_idle", "INTEGER NOT NULL DEFAULT 0"},
        {"pool_created", "BIGINT NOT NULL DEFAULT 0"},
        {"pool_validated", "BIGINT NOT NULL DEFAULT 0"},
        {"pool_replaced", "BIGINT NOT NULL DEFAULT 0"},
        {"pool_failed", "BIGINT NOT NULL DEFAULT 0"}}},
      // Jobs per model and state (rows with duplicate_key = 0), kept by schema_triggers: the sum of
      // n over the shards of a (model, state) is the number of its jobs in that state.
      {"pdr_job_counts",
       {{"model_name_id", "INTEGER NOT NULL"},
        {"shard", "INTEGER NOT NULL"},
        {"status", "VARCHAR(50) NOT NULL"},
        {"n", "BIGINT NOT NULL DEFAULT 0"}}},
      // Every change of a job's state, written in the transaction of the change (see
      // SociJobStore::write_event): the database's UTC time to the millisecond, the event
      // (claimed, started <stage>, finished, failed, retry, reaped, released, rejected, requeued,
      // replayed; a grid's "registering" and "registered" have no job), the state the job was left in, who made the
      // change (host, pid), the attempt's run token, attempt and lease epoch, the stage and exit code of a failure and
      // one line of detail.
      {"pdr_job_events",
       {{"job_id", "INTEGER"},
        {"model_name_id", "INTEGER NOT NULL"},
        {"at", "DATETIME(3) NOT NULL"},
        {"event", "VARCHAR(32) NOT NULL"},
        {"state", "VARCHAR(50)"},
        {"host", "VARCHAR(255)"},
        {"pid", "INTEGER"},
        {"token", "VARCHAR(250)"},
        {"attempt", "INTEGER"},
        {"lease_epoch", "BIGINT"},
        {"stage", "VARCHAR(16)"},
        {"exit_code", "INTEGER"},
        {"detail", "TEXT"}},
       /*rowid_ids=*/true},
      {"job_files",
       {{"job_id", "INTEGER NOT NULL"},
        {"kind", "VARCHAR(64) NOT NULL"},
        {"path", "VARCHAR(1024) NOT NULL"},
        {"sha256_sum", "VARCHAR(64) NOT NULL"},
        {"file_size", "BIGINT NOT NULL"},
        {"modification_time", "DATETIME"}}},
  };
}

std::vector<IndexDef> schema_indexes() {
  // On the predecessor's tables the unique keys are the ones its own get-or-create looks up by
  // (model name and path; all five executable fields), so none of them refuses its inserts.
  return {
      {"uq_chemical_databases", "chemical_databases", "chem_rates_file_name, chem_rates_full_path, database_origin",
       true},
      {"uq_json_templates_sha", "json_templates", "sha256_sum", true},
      {"uq_kosmatau_executables_build", "kosmatau_executables",
       "executable_file_name, executable_full_path, sha256_sum, code_revision, compilation_date", true},
      {"uq_model_names_path", "model_names", "model_name, model_path", true},
      {"uq_users", "users", "username, email", true},
      {"uq_parameters", "kosmatau_parameters", "model_name_id, parameter_hash", true},
      {"uq_jobs_name", "pdr_model_jobs", "model_name_id, model_job_name, duplicate_key", true},
      {"idx_jobs_claim", "pdr_model_jobs", "model_name_id, status, duplicate_key, id", false},
      {"idx_jobs_name", "pdr_model_jobs", "model_job_name", false},
      {"idx_jobs_token", "pdr_model_jobs", "token", false},
      {"idx_jobs_status_lease", "pdr_model_jobs", "status, lease_expires_at", false},
      {"idx_jobs_start", "pdr_model_jobs", "model_name_id, time_of_start", false},
      {"idx_jobs_finish", "pdr_model_jobs", "model_name_id, time_of_finish", false},
      {"idx_hdf_files_job", "hdf_files", "job_id", false},
      {"idx_json_files_job", "json_files", "job_id", false},
      {"idx_job_files_job", "job_files", "job_id", false},
      {"uq_runs_token", "pdr_runs", "token", true},
      {"idx_runs_model", "pdr_runs", "model_name_id, started_at", false},
      {"uq_job_counts", "pdr_job_counts", "model_name_id, shard, status", true},
      {"idx_job_events_job", "pdr_job_events", "job_id, id", false},
      {"idx_job_events_model", "pdr_job_events", "model_name_id, at", false},
  };
}

std::vector<IndexDef> obsolete_indexes() {
  return {
      // Keys of schema 3 that refused rows the predecessor writes.
      {"uq_jobs", "pdr_model_jobs", "", true},
      {"uq_hdf_files_job", "hdf_files", "", true},
      {"uq_json_files_job", "json_files", "", true},
      {"uq_kosmatau_executables", "kosmatau_executables", "", true},
      {"uq_model_names", "model_names", "", true},
      // Schema 6's; idx_jobs_claim begins with its columns (one index less to write a job).
      {"idx_jobs_model_status", "pdr_model_jobs", "", false},
  };
}

// Counts per state from the rows of each model (`cnt` is the number of rows a row stands for).
static std::string state_sums(const std::string& status, const std::string& cnt) {
  auto sum = [&](const std::string& when, const char* as) {
    return "SUM(CASE WHEN " + when + " THEN " + cnt + " ELSE 0 END) AS " + as;
  };
  return (cnt == "1" ? std::string("COUNT(*)") : "SUM(" + cnt + ")") + " AS total, " +
         sum(status + " = 'pending'", "pending") + ", " + sum(status + " = 'running'", "running") + ", " +
         sum(status + " = 'finished'", "finished") + ", " + sum(status_sql(JobState::Failed, status), "failed") + ", " +
         sum(status + " = 'skipped'", "skipped") + ", " + sum(status + " = 'cancelled'", "cancelled");
}

std::vector<ViewDef> schema_views(bool counted, bool mysql) {
  // Where the triggers keep pdr_job_counts, progress sums a few counter rows per model and
  // reads its first start and last finish through idx_jobs_start / idx_jobs_finish (duplicate
  // rows the predecessor kept count there too). SQLite answers MIN/MAX of a model by one seek
  // in a correlated subquery; MySQL runs that as a scan of the model's index entries (0.2 s at
  // a million jobs), but a GROUP BY of all models as one seek per model (a loose index scan,
  // 0.01 s). Joined on `model_name_id + 0`: on the plain column MariaDB may instead run the
  // derived table once per model as that same scan ("LATERAL DERIVED", seconds when its
  // statistics are stale). Without the triggers it groups the job rows.
  // The parameters are LEFT JOINed on their primary key: a query that reads none of their
  // columns (COUNT(*)) then skips the join altogether.
  const std::string job_columns =
      "j.id AS job_id, m.model_name AS model_name, j.model_job_name AS job_name, j.status AS status, "
      "j.attempts AS attempts, j.host AS host, j.pid AS pid, j.time_of_start AS time_of_start, "
      "j.time_of_finish AS time_of_finish, j.heartbeat_at AS heartbeat_at, j.lease_expires_at AS lease_expires_at, "
      "j.exit_code AS exit_code, j.error AS error, p.zmetal AS zmetal, p.xnsur AS xnsur, p.mass AS mass, "
      "p.sint AS sint, p.rtot AS rtot, j.kosmatau_parameters_id AS parameters_id, j.error_stage AS error_stage";
  const std::string job_from =
      " FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id "
      "LEFT JOIN kosmatau_parameters p ON p.id = j.kosmatau_parameters_id WHERE j.duplicate_key = 0";
  const std::string progress =
      counted && mysql ? "SELECT m.model_name AS model_name, " + state_sums("c.status", "c.n") +
                             ", MIN(s.first_start) AS first_start, MAX(f.last_finish) AS last_finish "
                             "FROM pdr_job_counts c JOIN model_names m ON m.id = c.model_name_id "
                             "LEFT JOIN (SELECT model_name_id, MIN(time_of_start) AS first_start FROM pdr_model_jobs "
                             "GROUP BY model_name_id) s ON s.model_name_id + 0 = m.id "
                             "LEFT JOIN (SELECT model_name_id, MAX(time_of_finish) AS last_finish FROM pdr_model_jobs "
                             "GROUP BY model_name_id) f ON f.model_name_id + 0 = m.id "
                             "GROUP BY m.id, m.model_name HAVING SUM(c.n) > 0"
      : counted
          ? "SELECT m.model_name AS model_name, " + state_sums("c.status", "c.n") +
                ", (SELECT MIN(s.time_of_start) FROM pdr_model_jobs s WHERE s.model_name_id = m.id) AS first_start, "
                "(SELECT MAX(f.time_of_finish) FROM pdr_model_jobs f WHERE f.model_name_id = m.id) AS last_finish "
                "FROM pdr_job_counts c JOIN model_names m ON m.id = c.model_name_id "
                "GROUP BY m.id, m.model_name HAVING SUM(c.n) > 0"
          : "SELECT m.model_name AS model_name, " + state_sums("j.status", "1") +
                ", MIN(j.time_of_start) AS first_start, MAX(j.time_of_finish) AS last_finish "
                "FROM pdr_model_jobs j JOIN model_names m ON m.id = j.model_name_id "
                "WHERE j.duplicate_key = 0 GROUP BY m.model_name";
  return {
      // Every job with its grid parameters.
      {"pdr_jobs_v", "SELECT " + job_columns + job_from},
      // Counts per state of every model.
      {"pdr_progress_v", progress},
      // Failed jobs, with the stage they failed in (error_stage: pdr, onion, storage, ...).
      {"pdr_failures_v", "SELECT " + job_columns + job_from + " AND " + status_sql(JobState::Failed, "j.status")},
      // pdr_run processes that say they are running, with their running jobs and last heartbeat.
      {"pdr_workers_v",
       "SELECT r.token AS token, m.model_name AS model_name, r.host AS host, r.pid AS pid, r.workers AS workers, "
       "r.started_at AS started_at, r.updated_at AS last_heartbeat, "
       "(SELECT COUNT(*) FROM pdr_model_jobs j WHERE j.token = r.token AND j.status = 'running') AS running_jobs "
       "FROM pdr_runs r LEFT JOIN model_names m ON m.id = r.model_name_id WHERE r.state = 'running'"},
      // Every job's history, oldest first by event_id (pdr_run history prints it).
      {"pdr_job_events_v",
       "SELECT e.id AS event_id, m.model_name AS model_name, e.job_id AS job_id, j.model_job_name AS job_name, "
       "e.at AS at, e.event AS event, e.state AS state, e.host AS host, e.pid AS pid, e.token AS token, "
       "e.attempt AS attempt, e.lease_epoch AS lease_epoch, e.stage AS stage, e.exit_code AS exit_code, "
       "e.detail AS detail FROM pdr_job_events e JOIN model_names m ON m.id = e.model_name_id "
       "LEFT JOIN pdr_model_jobs j ON j.id = e.job_id"},
  };
}

std::string count_shard_sql(const Dialect& d) {
  // pg_backend_pid() is positive. A MariaDB connection id may pass the INTEGER column's range
  // over a server's life: 1 + id % (2^31 - 2) stays in [1, 2^31 - 2], unique among sessions
  // whose ids lie closer than two billion connections apart.
  if (d.pg) return "pg_backend_pid()";
  if (d.mysql) return "(1 + CONNECTION_ID() % 2147483646)";
  return "0";
}

std::vector<TriggerDef> schema_triggers(const Dialect& d) {
  if (d.pg) {
    // One function for the three triggers. Each session adds to its own shard (its backend's
    // pid); the two rows of a change are added in (model, state) order, as on MySQL.
    const std::string function =
        "CREATE OR REPLACE FUNCTION pdr_count_jobs() RETURNS trigger LANGUAGE plpgsql AS $pdr$ "
        "DECLARE my_shard INTEGER DEFAULT " +
        count_shard_sql(d) +
        "; old_first BOOLEAN DEFAULT TRUE; "
        "BEGIN "
        "IF TG_OP = 'UPDATE' THEN "
        "IF OLD.status IS NOT DISTINCT FROM NEW.status AND OLD.model_name_id IS NOT DISTINCT FROM NEW.model_name_id "
        "AND OLD.duplicate_key IS NOT DISTINCT FROM NEW.duplicate_key THEN RETURN NULL; END IF; "
        "old_first = COALESCE(ROW(OLD.model_name_id, OLD.status) <= ROW(NEW.model_name_id, NEW.status), "
        "OLD.status IS NULL); "
        "END IF; "
        "IF TG_OP <> 'INSERT' AND old_first AND OLD.duplicate_key = 0 THEN "
        "INSERT INTO pdr_job_counts AS c (model_name_id, shard, status, n) VALUES (OLD.model_name_id, my_shard, "
        "OLD.status, -1) ON CONFLICT (model_name_id, shard, status) DO UPDATE SET n = c.n - 1; END IF; "
        "IF TG_OP <> 'DELETE' AND NEW.duplicate_key = 0 THEN "
        "INSERT INTO pdr_job_counts AS c (model_name_id, shard, status, n) VALUES (NEW.model_name_id, my_shard, "
        "NEW.status, 1) ON CONFLICT (model_name_id, shard, status) DO UPDATE SET n = c.n + 1; END IF; "
        "IF TG_OP = 'UPDATE' AND NOT old_first AND OLD.duplicate_key = 0 THEN "
        "INSERT INTO pdr_job_counts AS c (model_name_id, shard, status, n) VALUES (OLD.model_name_id, my_shard, "
        "OLD.status, -1) ON CONFLICT (model_name_id, shard, status) DO UPDATE SET n = c.n - 1; END IF; "
        "RETURN NULL; END $pdr$";
    auto trigger = [&](const std::string& name, const std::string& when) {
      return TriggerDef{name,
                        "CREATE TRIGGER " + name + " AFTER " + when +
                            " ON pdr_model_jobs FOR EACH ROW EXECUTE FUNCTION pdr_count_jobs()",
                        function};
    };
    // Inserts are counted once per statement from its inserted rows (a transition table):
    // registration's batches insert 400 rows a statement, and a row trigger costs ~30 us a row
    // there. A database whose insert trigger is still the row trigger counts the same.
    const std::string inserted =
        "CREATE OR REPLACE FUNCTION pdr_count_inserted_jobs() RETURNS trigger LANGUAGE plpgsql AS $pdr$ "
        "BEGIN "
        "INSERT INTO pdr_job_counts AS c (model_name_id, shard, status, n) "
        "SELECT model_name_id, " +
        count_shard_sql(d) +
        ", status, COUNT(*) FROM pdr_inserted_jobs WHERE duplicate_key = 0 "
        "GROUP BY model_name_id, status ORDER BY model_name_id, status "
        "ON CONFLICT (model_name_id, shard, status) DO UPDATE SET n = c.n + excluded.n; "
        "RETURN NULL; END $pdr$";
    return {TriggerDef{"trg_pdr_jobs_count_insert",
                       "CREATE TRIGGER trg_pdr_jobs_count_insert AFTER INSERT ON pdr_model_jobs "
                       "REFERENCING NEW TABLE AS pdr_inserted_jobs FOR EACH STATEMENT "
                       "EXECUTE FUNCTION pdr_count_inserted_jobs()",
                       inserted},
            trigger("trg_pdr_jobs_count_update", "UPDATE OF status, model_name_id, duplicate_key"),
            trigger("trg_pdr_jobs_count_delete", "DELETE")};
  }
  if (d.mysql) {
    const std::string shard = count_shard_sql(d);
    // One row of the counters, added to: INSERT ... VALUES, not INSERT ... SELECT, which InnoDB
    // treats as a bulk insert that holds the table's AUTO-INC lock to the end of the statement
    // (deadlocks between claimers, reported as error 1467).
    auto add = [&](const std::string& who, const char* delta) {
      return "INSERT INTO pdr_job_counts (model_name_id, shard, status, n) VALUES (" + who + ".model_name_id, " +
             shard + ", " + who + ".status, " + delta + ") ON DUPLICATE KEY UPDATE n = n + VALUES(n);";
    };
    // The two rows of a change in (model, state) order (NULL first), as before schema 9 when
    // sessions shared shards. A session that sets @pdr_bulk_insert (registration's batches)
    // counts its inserted rows itself.
    return {
        {"trg_pdr_jobs_count_insert",
         "CREATE TRIGGER IF NOT EXISTS trg_pdr_jobs_count_insert AFTER INSERT ON pdr_model_jobs FOR EACH ROW "
         "IF NEW.duplicate_key = 0 AND @pdr_bulk_insert IS NULL THEN " +
             add("NEW", "1") + " END IF",
         ""},
        {"trg_pdr_jobs_count_update",
         "CREATE TRIGGER IF NOT EXISTS trg_pdr_jobs_count_update AFTER UPDATE ON pdr_model_jobs FOR EACH ROW BEGIN "
         "DECLARE old_first BOOLEAN DEFAULT COALESCE((OLD.model_name_id, OLD.status) <= (NEW.model_name_id, "
         "NEW.status), OLD.status IS NULL); "
         "IF NOT (OLD.status <=> NEW.status AND OLD.model_name_id <=> NEW.model_name_id AND OLD.duplicate_key <=> "
         "NEW.duplicate_key) THEN "
         "IF old_first AND OLD.duplicate_key = 0 THEN " +
             add("OLD", "-1") + " END IF; IF NEW.duplicate_key = 0 THEN " + add("NEW", "1") +
             " END IF; IF NOT old_first AND OLD.duplicate_key = 0 THEN " + add("OLD", "-1") + " END IF; END IF; END",
         ""},
        {"trg_pdr_jobs_count_delete",
         "CREATE TRIGGER IF NOT EXISTS trg_pdr_jobs_count_delete AFTER DELETE ON pdr_model_jobs FOR EACH ROW "
         "IF OLD.duplicate_key = 0 THEN " +
             add("OLD", "-1") + " END IF",
         ""},
    };
  }
  // SQLite has one writer at a time: one shard (0).
  auto add = [](const std::string& who, const std::string& delta) {
    return "INSERT INTO pdr_job_counts (model_name_id, shard, status, n) SELECT " + who + ".model_name_id, 0, " + who +
           ".status, " + delta + " WHERE " + who +
           ".duplicate_key = 0 ON CONFLICT (model_name_id, shard, status) DO UPDATE SET n = n + excluded.n;";
  };
  return {
      {"trg_pdr_jobs_count_insert",
       "CREATE TRIGGER IF NOT EXISTS trg_pdr_jobs_count_insert AFTER INSERT ON pdr_model_jobs BEGIN " +
           add("NEW", "1") + " END",
       ""},
      {"trg_pdr_jobs_count_update",
       "CREATE TRIGGER IF NOT EXISTS trg_pdr_jobs_count_update AFTER UPDATE OF status, model_name_id, "
       "duplicate_key ON pdr_model_jobs WHEN OLD.status IS NOT NEW.status OR OLD.model_name_id IS NOT "
       "NEW.model_name_id OR OLD.duplicate_key IS NOT NEW.duplicate_key BEGIN " +
           add("OLD", "-1") + " " + add("NEW", "1") + " END",
       ""},
      {"trg_pdr_jobs_count_delete",
       "CREATE TRIGGER IF NOT EXISTS trg_pdr_jobs_count_delete AFTER DELETE ON pdr_model_jobs BEGIN " +
           add("OLD", "-1") + " END",
       ""},
  };
}

std::vector<std::string> recount_sql(const Dialect& d) {
  std::vector<std::string> q;
  // PostgreSQL, READ COMMITTED: a change committed while the DELETE waited on its row would
  // keep the counter row it inserted and be counted again by the INSERT's snapshot, and two
  // recounts would insert the same keys. The table lock waits for every transaction that wrote
  // a counter, holds off the triggers of the rest until the recount commits (their changes are
  // then added to it, not counted twice) and lets readers read.
  if (d.pg) q.push_back("LOCK TABLE pdr_job_counts IN SHARE ROW EXCLUSIVE MODE");
  q.push_back("DELETE FROM pdr_job_counts");
  q.push_back(
      "INSERT INTO pdr_job_counts (model_name_id, shard, status, n) SELECT model_name_id, 0, status, COUNT(*) "
      "FROM pdr_model_jobs WHERE duplicate_key = 0 GROUP BY model_name_id, status");
  // The mark that the counters were counted (model 0: no model's row, no view shows it).
  q.push_back(std::string("INSERT INTO pdr_job_counts (model_name_id, shard, status, n) VALUES (0, 0, '") +
              kCountedMark + "', 0)");
  return q;
}

std::string create_table_sql(const TableDef& table, const Dialect& d) {
  std::string sql =
      "CREATE TABLE IF NOT EXISTS " + table.name + " (" +
      (table.rowid_ids && !d.server() ? std::string("id INTEGER PRIMARY KEY") : std::string(d.id_column()));
  for (const auto& c : table.columns) sql += ", " + d.quote(c.name) + " " + d.column_type(c.type);
  return sql + ")" + d.table_options();
}

std::string create_index_sql(const IndexDef& index, const Dialect& d) {
  (void)d;
  return std::string("CREATE ") + (index.unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " + index.name + " ON " +
         index.table + " (" + index.columns + ")";
}

}  // namespace pdr
