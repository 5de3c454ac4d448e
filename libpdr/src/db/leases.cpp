// Leases and heartbeats, the reaper, and what is left to run.
#include "db/soci_job_store.h"

namespace pdr {

Result<Backlog> SociJobStore::backlog(long long model_id) {
  Backlog left;
  Status st = read("count what is left to run", [&](Session& sql) {
    // A live owner renews every heartbeat: a running job not renewed for a heartbeat and two
    // seconds may have lost its owner, and goes back to pending once its lease expires.
    sql << "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), "
           "COALESCE(SUM(CASE WHEN status = 'running' AND token IS NOT NULL AND (lease_expires_at IS NULL OR "
           "lease_expires_at < " +
               dialect_.now() + " OR heartbeat_at IS NULL OR heartbeat_at < " +
               dialect_.now_plus(-(policy_.heartbeat_seconds + 2)) +
               ") THEN 1 ELSE 0 END), 0), "
               "COALESCE(SUM(CASE WHEN status = 'running' AND token IS NOT NULL THEN 1 ELSE 0 END), 0) "
               "FROM pdr_model_jobs WHERE model_name_id = :m AND duplicate_key = 0 AND status IN ('pending', 'running')",
        soci::use(model_id), soci::into(left.pending), soci::into(left.unproven), soci::into(left.running);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return left;
}

Result<long long> SociJobStore::end_leases_of_gone_owners(
    long long model_id, const std::string& own_token,
    const std::function<bool(const std::string& host, long long pid)>& gone) {
  struct Held {
    long long id;
    std::string token, host;
    long long pid;
  };
  std::vector<Held> ended;
  Status st = read("read the owners of running jobs", [&](Session& sql) {
    ended.clear();
    for_each_row<long long, std::string, std::string, long long>(
        sql,
        // Silent too, as Backlog::unproven counts it: a process of this host name that this one
        // cannot see (another PID namespace, a container sharing the host's name) still renews.
        "SELECT id, token, COALESCE(host, ''), COALESCE(pid, 0) FROM pdr_model_jobs WHERE model_name_id = :m AND "
        "status = 'running' AND token IS NOT NULL AND token <> :t AND (heartbeat_at IS NULL OR heartbeat_at < " +
            dialect_.now_plus(-(policy_.heartbeat_seconds + 2)) + ")",
        std::tie(model_id, own_token),
        [&](long long id, const std::string& token, const std::string& host, long long pid) {
          if (gone(host, pid)) ended.push_back(Held{id, token, host, pid});
        });
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (ended.empty()) return 0;
  long long n = 0;
  st = transaction("end the leases of owners that are gone", [&](Session& sql) {
    n = 0;
    for (const auto& h : ended) {
      // Under the same owner only: a job claimed again meanwhile keeps its new lease.
      soci::statement up = (sql.prepare << "UPDATE pdr_model_jobs SET lease_expires_at = " + dialect_.now_plus(-1) +
                                               " WHERE id = :id AND status = 'running' AND token = :t",
                            soci::use(h.id), soci::use(h.token));
      up.execute(true);
      n += up.get_affected_rows();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(gone_mu_);
  for (const auto& h : ended) proven_gone_.insert(GoneOwner{h.id, h.host, h.pid});
  return n;
}

Result<std::map<long long, long long>> SociJobStore::renew_leases(const Owner& owner,
                                                                  const std::vector<StageStart>& starts) {
  std::map<long long, long long> held;
  Status st = transaction("renew leases", [&](Session& sql) {
    held.clear();
    sql << "UPDATE pdr_model_jobs SET lease_expires_at = " + dialect_.now_plus(policy_.lease_seconds) +
               ", heartbeat_at = " + dialect_.now() + " WHERE token = :t AND status = 'running'",
        soci::use(owner.token);
    // Rows this transaction just locked: only an attempt that still holds its job says so.
    write_stage_starts(sql, starts, owner.token, 0, true);
    // A run marked lost while it could not reach the database says again that it runs.
    // By the clock the reaper compares with (PostgreSQL would round CURRENT_TIMESTAMP up).
    sql << "UPDATE pdr_runs SET updated_at = " + dialect_.now() + ", state = 'running' WHERE token = :t",
        soci::use(owner.token);
    for_each_row<long long, long long>(
        sql, "SELECT id, lease_epoch FROM pdr_model_jobs WHERE token = :t AND status = 'running'",
        std::tie(owner.token), [&](long long id, long long epoch) { held[id] = epoch; });
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return held;
}

Result<long long> SociJobStore::reap_expired() {
  // An outage (a server restart, a network cut, a locked or full SQLite file) stops every owner
  // from renewing its leases. A lease that expired then is taken back only once its owner had a
  // whole lease to renew it after the trouble this process saw ended, or when its owner went
  // silent before that trouble began (it died before, it was not cut off), or when its owner
  // was found gone (a process of this host). A live owner neither loses its job to an outage nor
  // is charged an attempt. A fresh process counts its start as the end of a trouble whose
  // beginning it cannot know: for that, an owner silent for as long as an ended run's silence.
  const double quiet = db_->seconds_since_trouble();
  const double began = db_->seconds_since_trouble_began();
  std::set<GoneOwner> gone;
  {
    std::lock_guard<std::mutex> lock(gone_mu_);
    gone = proven_gone_;
  }
  long long n = 0, held_back = 0;
  bool truncated = false;
  Status st = transaction("return expired leases", [&](Session& sql) {
    n = 0;
    held_back = 0;
    struct Expired {
      long long id, epoch, pid;
      int attempts;
      std::string host, token;
      long long silent;  // seconds since its owner's last heartbeat (-1: never)
      long long lease;   // the owner's lease: seconds from its last heartbeat to the expiry (-1: unknown)
    };
    std::vector<Expired> expired;
    soci::rowset<soci::row> rs =
        (sql.prepare << "SELECT id, lease_epoch, COALESCE(pid, 0), attempts, COALESCE(host, ''), COALESCE(token, ''), "
                        "COALESCE(" +
                            dialect_.seconds_since("heartbeat_at") + ", -1), COALESCE(" +
                            dialect_.seconds_between("heartbeat_at", "lease_expires_at") +
                            ", -1) FROM pdr_model_jobs WHERE status = 'running' AND lease_expires_at < " +
                            dialect_.now() + " LIMIT 1000" + std::string(dialect_.claim_lock()));
    for (const auto& row : rs) {
      expired.push_back(Expired{as_integer(row, 0), as_integer(row, 1), as_integer(row, 2),
                                static_cast<int>(as_integer(row, 3)), row.get<std::string>(4), row.get<std::string>(5),
                                as_integer(row, 6), as_integer(row, 7)});
    }
    truncated = expired.size() >= 1000;
    for (const auto& e : expired) {
      const double lease = std::max<double>(policy_.lease_seconds, static_cast<double>(e.lease));
      const double silent_before = began >= 0 ? began + lease : silence_of_an_ended_run();
      const bool reapable = gone.count(GoneOwner{e.id, e.host, e.pid}) != 0 || quiet >= lease ||
                            (e.silent >= 0 && static_cast<double>(e.silent) > silent_before);
      if (!reapable) {
        ++held_back;
        continue;
      }
      StatusChange c;
      c.job_id = e.id;
      c.expect = JobState::Running;
      c.epoch = e.epoch;
      const std::string what =
          "lease expired: owner " + e.host + " pid " + std::to_string(e.pid) + " stopped renewing it";
      const Decision d = decide_lost_owner(policy_, e.attempts, what);
      c.next = d.next;
      c.error = d.error;
      c.stage = Stage::Lease;
      c.cause = "its owner stopped renewing it";
      c.reaped = true;
      c.reaped_token = e.token;
      c.note = "lease of host " + e.host + " pid " + std::to_string(e.pid) + " expired, last heartbeat " +
               (e.silent < 0 ? std::string("never") : duration_text(e.silent) + " ago") + "; " +
               (c.next == JobState::Pending ? "retry in " + duration_text(d.retry_in_seconds)
                                            : std::string("attempts used up: failed"));
      if (apply_change(sql, c)) {
        ++n;
        if (c.next == JobState::Pending) {
          sql << "UPDATE pdr_model_jobs SET last_error = :e, retry_at = " + dialect_.now_plus(d.retry_in_seconds) +
                     " WHERE id = :id",
              soci::use(what), soci::use(e.id);
        }
      }
    }
    // A run that has not renewed anything for a whole lease (SIGKILLed, its node gone) no
    // longer says it runs: pdr_workers_v and status show it as lost. A non-locking read first,
    // then each row by its unique token. Not while runs may still be coming back from trouble.
    if (quiet < policy_.lease_seconds) return Status::Ok();
    const std::string silent = "state = 'running' AND updated_at < " + dialect_.now_plus(-policy_.lease_seconds);
    std::vector<std::string> lost;
    soci::rowset<std::string> runs = (sql.prepare << "SELECT token FROM pdr_runs WHERE " + silent);
    for (const auto& t : runs) lost.push_back(t);
    for (const auto& t : lost) {
      sql << "UPDATE pdr_runs SET state = 'lost' WHERE token = :t AND " + silent, soci::use(t);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(gone_mu_);
  if (held_back > 0 && !settle_logged_) {
    settle_logged_ = true;
    const bool one = held_back == 1;
    if (began < 0) {
      // Nothing went wrong: a process that just started cannot tell how long an owner has been
      // silent before it, so it waits as it would after an outage of its own.
      spdlog::info(
          "{} expired lease{} of other processes {} taken back once {} owner{} stayed silent for {} s, or after "
          "this process has watched {} for {} s (it has just started)",
          held_back, one ? "" : "s", one ? "is" : "are", one ? "its" : "their", one ? "" : "s",
          silence_of_an_ended_run(), one ? "it" : "them", policy_.lease_seconds);
    } else {
      spdlog::info(
          "this process could not reach the database for a while: {} expired lease{} of other processes {} taken "
          "back only once {} owner{} had a whole lease to renew {}",
          held_back, one ? "" : "s", one ? "is" : "are", one ? "its" : "their", one ? "" : "s", one ? "it" : "them");
    }
  }
  if (held_back == 0) settle_logged_ = false;
  // Looked at: taken back, or no longer expired under that owner (renewed, claimed again).
  if (!truncated) {
    for (const auto& g : gone) proven_gone_.erase(g);
  }
  return n;
}

namespace {

// A run renews pdr_runs.updated_at every heartbeat. Silent for twice this process's lease and at
// least two minutes (a run of other settings may renew less often), or, of this host, gone and
// silent for two heartbeats and at least 25 s (a process of another PID namespace under the
// same host name is not seen, but renews): ended. Marked lost is not enough: a reaper with a
// shorter lease marks a live run lost between two of its heartbeats.
bool run_ended(const JobPolicy& policy, long long silent, const std::string& host, long long pid,
               const std::function<bool(const std::string& host, long long pid)>& gone) {
  return silent > silence_of_an_ended_run(policy) || (silent > silent_here(policy) && gone(host, pid));
}

}  // namespace

int SociJobStore::silence_of_an_ended_run() const { return pdr::silence_of_an_ended_run(policy_); }

// host, pid and seconds since the run last said it runs, of pdr_runs rows still running or lost.
std::string SociJobStore::silent_runs_sql() const {
  return "SELECT token, COALESCE(host, ''), COALESCE(pid, 0), COALESCE(" + dialect_.seconds_since("updated_at") + ", " +
         dialect_.seconds_since("started_at") + ", 315360000) FROM pdr_runs WHERE state IN ('lost', 'running')";
}

Result<UnsettledFinishes> SociJobStore::unsettled_finishes(
    long long model_id, const std::function<bool(const std::string& host, long long pid)>& gone) {
  UnsettledFinishes result;
  std::vector<UnsettledFinish>& out = result.finishes;
  Status st = read("read the last finishes of runs that ended without a word", [&](Session& sql) {
    out.clear();
    result.runs.clear();
    struct Run {
      std::string token;
      long long silent;  // seconds since it last said it runs
    };
    std::vector<Run> ended;
    for_each_row<std::string, std::string, long long, long long>(
        sql, silent_runs_sql() + " AND model_name_id = :m", std::tie(model_id),
        [&](const std::string& token, const std::string& host, long long pid, long long silent) {
          if (run_ended(policy_, silent, host, pid, gone)) {
            ended.push_back(Run{token, silent});
            result.runs.push_back(token);
          }
        });
    // Its finishes from a lease and a minute before its last heartbeat to a minute after (a
    // finish is renamed right after it is recorded), by their events, still finished under that
    // lease: a few rows of the model's event index a run.
    std::map<long long, size_t> at;  // job id -> its place in out
    for (const auto& run : ended) {
      for_each_row<long long, long long>(
          sql,
          "SELECT e.job_id, e.lease_epoch FROM pdr_job_events e JOIN pdr_model_jobs j ON j.id = e.job_id WHERE "
          "e.model_name_id = :m AND e.at >= " +
              dialect_.now_plus(-(run.silent + policy_.lease_seconds + 60)) +
              " AND e.at <= " + dialect_.now_plus(-(run.silent - 60)) +
              " AND e.token = :t AND e.event IN ('finished', 'replayed') AND j.status = 'finished' AND "
              "j.duplicate_key = 0 AND j.lease_epoch = e.lease_epoch",
          std::tie(model_id, run.token), [&](long long id, long long epoch) {
            if (at.count(id) != 0) return;
            at[id] = out.size();
            out.push_back(UnsettledFinish{id, run.token, epoch, {}});
          });
    }
    if (at.empty()) return Status::Ok();
    std::string ids;
    for (const auto& [id, place] : at) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
    for_each_row<long long, std::string, std::string, std::string, long long>(
        sql,
        "SELECT job_id, kind, path, COALESCE(sha256_sum, ''), COALESCE(file_size, 0) FROM job_files WHERE job_id IN (" +
            ids + ") ORDER BY id",
        std::tie(),
        [&](long long job, const std::string& kind, const std::string& path, const std::string& sum, long long size) {
          out[at[job]].files.push_back(StoredFile{kind, path, sum, size, "", ""});
        });
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return result;
}

Result<bool> SociJobStore::run_may_be_alive(const std::string& token_prefix,
                                            const std::function<bool(const std::string& host, long long pid)>& gone) {
  bool alive = false;
  const std::string pattern = token_prefix + "%";
  Status st = read("read whether a run may be at work", [&](Session& sql) {
    alive = false;
    for_each_row<std::string, std::string, long long, long long>(
        sql, silent_runs_sql() + " AND token LIKE :t", std::tie(pattern),
        [&](const std::string&, const std::string& host, long long pid, long long silent) {
          if (!run_ended(policy_, silent, host, pid, gone)) alive = true;
        });
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return alive;
}

Result<bool> SociJobStore::still_finished(long long job_id, long long epoch) {
  bool finished = false;
  Status st = read("read whether a job is still finished", [&](Session& sql) {
    long long n = 0;
    sql << "SELECT COUNT(*) FROM pdr_model_jobs WHERE id = :id AND status = 'finished' AND lease_epoch = :e",
        soci::use(job_id), soci::use(epoch), soci::into(n);
    finished = n > 0;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return finished;
}

Result<std::optional<JobAttempt>> SociJobStore::job_attempt(long long model_id, const std::string& name) {
  std::optional<JobAttempt> found;
  Status st = read("read where a job stands", [&](Session& sql) {
    found.reset();
    JobAttempt a;
    soci::indicator sind = soci::i_null;
    sql << "SELECT id, COALESCE(lease_epoch, 0), status FROM pdr_model_jobs WHERE model_name_id = :m AND "
           "model_job_name = :n AND duplicate_key = 0",
        soci::use(model_id), soci::use(name), soci::into(a.id), soci::into(a.epoch), soci::into(a.status, sind);
    if (sql.got_data()) {
      if (sind != soci::i_ok) a.status.clear();
      found = a;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return found;
}

Status SociJobStore::mark_runs_gone(const std::vector<std::string>& tokens) {
  if (tokens.empty()) return Status::Ok();
  return transaction("mark runs that ended as gone", [&](Session& sql) {
    for (const auto& t : tokens) {
      sql << "UPDATE pdr_runs SET state = 'gone' WHERE token = :t AND state IN ('lost', 'running') AND (updated_at IS "
             "NULL OR updated_at < " +
                 dialect_.now_plus(-silent_here(policy_)) + ")",
          soci::use(t);
    }
    return Status::Ok();
  });
}

}  // namespace pdr
