#include "pdr/db_manager.h"

#include <mysql.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <soci/version.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "db/db_error.h"
#include "db/statement_cache.h"
#include "db/transactor.h"
#include "util/text.h"

namespace pdr {

namespace {

// URI file names, off in Debian's SQLite build, are the one way to open a database read-only in
// a directory this user may not write while it has no -wal (below). Set when the library loads,
// before SQLite initialises; a plain path (every database.path is absolute) reads as before.
[[maybe_unused]] const int kSqliteUriNames = sqlite_api::sqlite3_config(SQLITE_CONFIG_URI, 1);

// `path` as the path of a file: URI (the characters a URI gives a meaning escaped).
std::string sqlite_file_uri(const std::string& path) { return "file:" + percent_escape(path, "?#"); }

}  // namespace

DbManager::DbManager(DatabaseSettings settings) : settings_(std::move(settings)) {}
DbManager::~DbManager() {
  for (auto& item : idle_) close_statements(item.session.get());
  idle_.clear();  // the sessions close here, before their files are looked at
  // A read-only look at a file another user owns (a colleague's grid) made its -wal and -shm
  // files, owned by this user with the database's mode: its owner could not write them, and
  // every run of theirs would fail with "attempt to write a readonly database". Files this
  // process made, it removes again (a read-only connection wrote nothing into them).
  for (const auto& path : sidecars_made_) {
    struct stat sb;
    if (::lstat(path.c_str(), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == ::geteuid() &&
        ::access(settings_.path.c_str(), W_OK) != 0) {
      ::unlink(path.c_str());
    }
  }
}

DbManager::Lease::Lease(DbManager* owner, std::unique_ptr<soci::session> s,
                        std::chrono::steady_clock::time_point expires, long long id)
    : owner_(owner), session_(std::move(s)), expires_(expires), id_(id) {}

DbManager::Lease::Lease(Lease&& other) noexcept
    : owner_(other.owner_),
      session_(std::move(other.session_)),
      expires_(other.expires_),
      id_(other.id_),
      broken_(other.broken_) {
  other.owner_ = nullptr;
}

DbManager::Lease::~Lease() {
  if (owner_ != nullptr && session_) {
    owner_->give_back(std::move(session_), expires_, id_, broken_);
  } else if (session_) {
    close_statements(session_.get());
  }
}

namespace {

// SQLite's wait for a lock another connection holds: up to database.busy_timeout seconds (`ctx`,
// the settings), in SQLite's own steps, but no longer once the thread's StopRetryingOn asks to
// stop (a signal during a registration or a start): the statement then fails busy, and the
// transaction ends interrupted instead of retrying. A wait past 5 s is said once: the file is
// held by another connection (another program's open write transaction), and how long this one
// waits for it; before, the first word came when the busy timeout had run out.
int busy_wait(void* ctx, int count) {
  static constexpr int kSteps[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  static constexpr int kNSteps = sizeof kSteps / sizeof kSteps[0];
  static constexpr long long kSaidAfterMs = 5000;
  const auto& settings = *static_cast<const DatabaseSettings*>(ctx);
  const long long limit_ms = 1000LL * settings.busy_timeout;
  long long waited = 0;
  for (int i = 0; i < count; ++i) waited += kSteps[std::min(i, kNSteps - 1)];
  const int step = kSteps[std::min(count, kNSteps - 1)];
  if (waited + step > limit_ms || StopRetryingOn::stopping()) return 0;
  if (waited < kSaidAfterMs && waited + step >= kSaidAfterMs) {
    spdlog::warn(
        "database: {} is locked by another connection (a transaction of another process or program); "
        "waiting for it up to {} s a try (database.busy_timeout), {} s in all (database.retry.deadline)",
        settings.path, settings.busy_timeout, static_cast<long long>(settings.retry.deadline));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(step));
  return 1;
}

// A value for SOCI's MySQL connection string: quoted, with backslash escapes.
std::string quoted(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string mysql_connect_string(const DatabaseSettings& s) {
  std::string c = "db=" + quoted(s.database) + " user=" + quoted(s.username);
  if (!s.password.empty()) c += " password=" + quoted(s.password);
  if (!s.unix_socket.empty()) {
    c += " unix_socket=" + quoted(s.unix_socket);
  } else {
    // Connector/C takes "localhost" for its default unix socket and drops the port; the
    // predecessor's driver, and database.port, mean TCP (a tunnel, a container's published
    // port). A socket is database.unix_socket.
    const bool local = s.host.size() == 9 && lower(s.host) == "localhost";
    c += " host=" + quoted(local ? "127.0.0.1" : s.host) + " port=" + std::to_string(s.port);
  }
  c += " connect_timeout=" + std::to_string(s.connect_timeout) + " read_timeout=" + std::to_string(s.read_timeout) +
       " write_timeout=" + std::to_string(s.write_timeout) + " charset=utf8mb4";
  return c;  // no reconnect=: driver auto-reconnect can report success for a lost transaction
}

// Percent-encoded for a connection URI: every byte but the unreserved ones.
std::string uri_encoded(const std::string& v) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// libpq's connection URI (SOCI passes a URI on unchanged, but splits key=value strings at
// spaces and drops quotes, which would break a password with a space). It asks for TCP
// keepalive and a TCP user timeout (a dead peer is noticed between and during statements), the
// connect timeout, and for the session a statement_timeout, UTC and READ COMMITTED (applied at
// connect, no round trip). libpq reads PGOPTIONS only for a connection that names no options:
// the user's go first, so that theirs apply and pdr_run's win where both set the same one.
namespace {
// The environment's PGOPTIONS ("" when unset), which pdr_run passes on to the server.
std::string pgoptions() {
  const char* v = std::getenv("PGOPTIONS");
  return v != nullptr ? v : "";
}
}  // namespace

std::string postgresql_connect_string(const DatabaseSettings& s) {
  const std::string user_options = pgoptions();
  std::string c = "postgresql://" + uri_encoded(s.username);
  if (!s.password.empty()) c += ":" + uri_encoded(s.password);
  c += "@";
  if (s.unix_socket.empty()) c += s.host.find(':') != std::string::npos ? "[" + s.host + "]" : uri_encoded(s.host);
  c += ":" + std::to_string(s.port) + "/" + uri_encoded(s.database) + "?";
  if (!s.unix_socket.empty()) c += "host=" + uri_encoded(s.unix_socket) + "&";
  if (!s.sslmode.empty()) c += "sslmode=" + s.sslmode + "&";
  const int wait_ms = std::max(s.read_timeout, s.write_timeout) * 1000;
  c +=
      "connect_timeout=" + std::to_string(s.connect_timeout) +
      "&keepalives=1&keepalives_idle=30&keepalives_interval=10&keepalives_count=3&tcp_user_timeout=" +
      std::to_string(wait_ms) + "&application_name=pdr_run&options=" +
      uri_encoded((user_options.empty() ? "" : user_options + " ") + "-c statement_timeout=" + std::to_string(wait_ms) +
                  " -c TimeZone=UTC -c client_min_messages=warning"
                  " -c default_transaction_isolation=read\\ committed");
  return c;
}

// An account refused without a password: said, since an empty PDR_DB_PASSWORD (a variable
// exported from an unset one) looks like a wrong password otherwise.
constexpr const char* kNoPasswordGiven =
    "; no password was given (database.password and PDR_DB_PASSWORD are empty or unset)";

// False when the name server says the host does not exist (a typo, not an outage); true when
// it resolves or the lookup itself failed for the moment.
bool host_resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (found != nullptr) freeaddrinfo(found);
  return rc != EAI_NONAME && rc != EAI_NODATA;
}

// The SQLSTATE a PostgreSQL server refused a connection with ("" when no server answered).
// SOCI reports a failed connect with libpq's message only; a second attempt with verbose
// errors shows the code ("FATAL:  28P01: password authentication failed ..."). A server that
// asked for a password the connection did not have ends the connect on libpq's side, with no
// SQLSTATE (needs_password); used_password: libpq sent one (ours, or one it found itself in
// PGPASSWORD, PGPASSFILE or ~/.pgpass).
struct PgRefusal {
  std::string sqlstate;
  bool needs_password = false;
  bool used_password = false;
};
PgRefusal pg_refusal(const std::string& conninfo, int timeout_seconds) {
  PgRefusal out;
  PGconn* conn = PQconnectStart(conninfo.c_str());
  if (conn == nullptr) return out;
  PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{PQsocket(conn), static_cast<short>(st == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    if (left.count() <= 0 || p.fd < 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    st = PQconnectPoll(conn);
  }
  std::string& state = out.sqlstate;
  if (PQstatus(conn) == CONNECTION_BAD) {
    out.needs_password = PQconnectionNeedsPassword(conn) != 0;
    out.used_password = PQconnectionUsedPassword(conn) != 0;
    const std::string message = PQerrorMessage(conn);
    for (const char* severity : {"FATAL:  ", "ERROR:  "}) {
      for (size_t at = message.find(severity); at != std::string::npos; at = message.find(severity, at + 1)) {
        const size_t code = at + std::strlen(severity);
        if (code + 6 <= message.size() && message[code + 5] == ':') state = message.substr(code, 5);
      }
    }
  }
  PQfinish(conn);
  return out;
}

// TCP keepalive on the connection's socket so a dead peer is noticed between queries.
void enable_keepalive(MYSQL* conn) {
  const int fd = static_cast<int>(mysql_get_socket(conn));
  if (fd < 0) return;
  int on = 1, idle = 30, interval = 10, count = 3;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

std::string mask(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (const std::string& form : {secret, uri_encoded(secret)}) {
    for (size_t p = text.find(form); p != std::string::npos; p = text.find(form, p))
      text.replace(p, form.size(), "***");
  }
  return text;
}

}  // namespace

void warn_if_blocked(const std::string& what, std::chrono::steady_clock::time_point since, double limit) {
  if (limit <= 0) return;
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  if (took > limit) spdlog::warn("database: '{}' blocked for {:.1f} s", what, took);
}

// PostgreSQL: every name of pdr_run's resolves in one schema, the one its CREATE TABLEs go to
// (the first schema of the role's search_path that exists), and the session's search_path is
// set to it alone. Names through a longer path could resolve to tables of several schemas
// (another application's `users` in the first, pdr_run's in a later one), temporary tables
// (pg_temp first), or unique keys of another schema's table; and two roles with different first
// schemas would take different schema locks for the same tables. Tables of pdr_run's in another
// schema of the path are named: the search_path is the user's to set.
Status DbManager::pin_schema(soci::session& s, const std::string& where) const {
  std::string home, tables, path, unusable, unusable_tables, role;
  soci::indicator home_ind = soci::i_null, tables_ind = soci::i_null, unusable_ind = soci::i_null,
                  unusable_tables_ind = soci::i_null;
  // Not a temporary schema (pg_temp first in the path makes current_schema() the session's own,
  // whose tables vanish with it) nor the system's. The path leaves out, without a word, the
  // schemas the role may not use (no USAGE): they are named when no schema is left, and when
  // none of the path's schemas shows pdr_run's tables but one of those holds them (a run would
  // make a second set). Names of the path as PostgreSQL reads them: unquoted ones in lower case.
  s << "WITH p(e) AS (SELECT CASE WHEN btrim(x) IN ('$user', '\"$user\"') THEN current_user::text WHEN "
       "left(btrim(x), 1) = '\"' THEN replace(substr(btrim(x), 2, length(btrim(x)) - 2), '\"\"', '\"') ELSE "
       "lower(btrim(x)) END FROM unnest(string_to_array(current_setting('search_path'), ',')) x), "
       "u(n, t) AS (SELECT n.nspname::text, EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND "
       "c.relname = 'pdr_model_jobs') FROM pg_namespace n WHERE n.nspname IN (SELECT e FROM p) AND NOT "
       "has_schema_privilege(n.oid, 'USAGE')) "
       "SELECT (SELECT t.s FROM unnest(current_schemas(false)) WITH ORDINALITY t(s, i) WHERE t.s NOT LIKE "
       "'pg\\_temp\\_%' AND t.s NOT LIKE 'pg\\_toast%' AND t.s NOT IN ('pg_catalog', 'information_schema') ORDER "
       "BY t.i LIMIT 1), (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = "
       "to_regclass('pdr_model_jobs') AND n.nspname NOT LIKE 'pg\\_temp\\_%'), current_setting('search_path'), "
       "(SELECT string_agg(quote_ident(n), ', ' ORDER BY n) FROM u), (SELECT string_agg(quote_ident(n), ', ' ORDER "
       "BY n) FROM u WHERE t), quote_ident(current_user)",
      soci::into(home, home_ind), soci::into(tables, tables_ind), soci::into(path), soci::into(unusable, unusable_ind),
      soci::into(unusable_tables, unusable_tables_ind), soci::into(role);
  // A path set by the environment's PGOPTIONS is changed there, not on the role.
  const std::string user_options = pgoptions();
  const std::string fix =
      user_options.find("search_path") != std::string::npos
          ? mask(" (the environment's PGOPTIONS sets it: '" + user_options + "')", settings_.password)
          : " (ALTER ROLE " + role + " IN DATABASE " + settings_.database + " SET search_path = ...)";
  if (tables_ind != soci::i_ok && unusable_tables_ind == soci::i_ok) {
    return Status::Error(ErrorKind::kPermanent, "database " + where + ": pdr_run's tables are in schema " +
                                                    unusable_tables + ", which " + role +
                                                    " may not use (no USAGE on it); GRANT USAGE ON SCHEMA " +
                                                    unusable_tables + " TO " + role);
  }
  if (home_ind != soci::i_ok && unusable_ind == soci::i_ok) {
    return Status::Error(ErrorKind::kPermanent, "database " + where + ": schema " + unusable +
                                                    " of the search_path of " + role + " (" + path + ") exists, but " +
                                                    role + " may not use it (no USAGE); GRANT USAGE ON SCHEMA " +
                                                    unusable + " TO " + role + ", or set another search_path" + fix);
  }
  if (home_ind != soci::i_ok) {
    return Status::Error(ErrorKind::kPermanent, "database " + where + ": no schema of the search_path of " + role +
                                                    " (" + path + ") exists; set one that does" + fix +
                                                    " or create it");
  }
  if (tables_ind == soci::i_ok && tables != home) {
    return Status::Error(ErrorKind::kPermanent, "database " + where + ": pdr_run's tables are in schema " + tables +
                                                    ", but " + home + " comes first in the search_path of " + role +
                                                    " (" + path + "), where pdr_run would read and create them; put " +
                                                    tables + " first" + fix);
  }
  s << "SELECT set_config('search_path', quote_ident(:h), false)", soci::use(home);
  return Status::Ok();
}

Result<std::unique_ptr<soci::session>> DbManager::connect() {
  const bool mysql = settings_.type == "mysql";
  const bool pg = settings_.type == "postgresql";
  const auto started = std::chrono::steady_clock::now();
  // The handshake after the TCP connect is bounded by connect_timeout or read_timeout.
  const double limit = settings_.server() ? std::max(settings_.connect_timeout, settings_.read_timeout) + 1.0 : 0.0;
  const std::string where = settings_.server()
                                ? (settings_.unix_socket.empty()
                                       ? settings_.username + "@" + settings_.host + ":" +
                                             std::to_string(settings_.port) + "/" + settings_.database
                                       : settings_.username + "@" + settings_.unix_socket + "/" + settings_.database)
                                : settings_.path;
  try {
    auto s = std::make_unique<soci::session>();
    if (pg) {
      s->open(*soci::factory_postgresql(), postgresql_connect_string(settings_));
      if (Status st = pin_schema(*s, where); !st.ok()) return st;
    } else if (mysql) {
      s->open(*soci::factory_mysql(), mysql_connect_string(settings_));
      MYSQL* conn = static_cast<soci::mysql_session_backend*>(s->get_backend())->conn_;
      my_bool off = 0;
      mysql_options(conn, MYSQL_OPT_RECONNECT, &off);
      enable_keepalive(conn);
      // UTC timestamps; strict mode; READ COMMITTED keeps row locks short (no gap locks).
      *s << "SET SESSION time_zone = '+00:00', sql_mode = 'TRADITIONAL'";
      *s << "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
    } else {
      // The busy timeout lets concurrent writers queue instead of failing at once.
      // A reader opens a file it may not write (a colleague's grid) read-only; one it may write
      // as usual, so that its last connection removes the -wal and -shm files when it closes.
      const bool open_read_only = settings_.read_only && access(settings_.path.c_str(), W_OK) != 0;
      // In a directory it may not write, SQLite cannot make the -wal and -shm a reader of a WAL
      // database needs. When there is no -wal, no connection has the file open and everything
      // is in the file itself: it is read as an immutable file (no locks, no sidecars).
      std::string dir = std::filesystem::path(settings_.path).parent_path().string();
      if (dir.empty()) dir = ".";
      const bool locked_dir = open_read_only && ::access(dir.c_str(), W_OK) != 0;
      // On a full disk (less than 1 MiB or no inode left) a reader cannot make them either: it
      // reads the file as immutable too when the -wal is absent or empty (one a failed open
      // left; no writer can grow it there).
      bool no_room = false;
      const auto wal_empty = [this] {
        struct stat st {};
        return ::stat((settings_.path + "-wal").c_str(), &st) != 0 || st.st_size == 0;
      };
      const auto disk_full = [&dir] {
        struct statvfs fs {};
        return ::statvfs(dir.c_str(), &fs) == 0 &&
               (static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize < (1ULL << 20) || fs.f_favail == 0);
      };
      for (int attempt = 1;; ++attempt) {
        const bool immutable =
            (locked_dir && ::access((settings_.path + "-wal").c_str(), F_OK) != 0) || (no_room && wal_empty());
        if (open_read_only && !immutable) {
          std::lock_guard<std::mutex> lock(mu_);
          for (const char* suffix : {"-wal", "-shm"}) {
            const std::string sidecar = settings_.path + suffix;
            if (::access(sidecar.c_str(), F_OK) != 0 &&
                std::find(sidecars_made_.begin(), sidecars_made_.end(), sidecar) == sidecars_made_.end()) {
              sidecars_made_.push_back(sidecar);
            }
          }
        }
        const std::string file = immutable ? sqlite_file_uri(settings_.path) + "?immutable=1" : settings_.path;
        try {
          s->open(*soci::factory_sqlite3(),
                  "db=\"" + file + "\"" + (open_read_only || immutable ? " readonly=true" : ""));
          sqlite_api::sqlite3_busy_handler(static_cast<soci::sqlite3_session_backend*>(s->get_backend())->conn_,
                                           &busy_wait, const_cast<DatabaseSettings*>(&settings_));
          // Read here: a -wal that went (the last run closed it) fails this first statement, and
          // so does a -wal or -shm that cannot be made.
          if (settings_.read_only) *s << "PRAGMA synchronous=NORMAL";
          if (immutable) {
            std::lock_guard<std::mutex> lock(mu_);
            single_use_.insert(s.get());
          }
          break;
        } catch (const soci::soci_error& e) {
          const auto* lite = dynamic_cast<const soci::sqlite3_soci_error*>(&e);
          const int primary = lite != nullptr ? lite->result() & 0xff : 0;
          if (settings_.read_only && !no_room && !locked_dir &&
              (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN) && wal_empty() &&
              disk_full()) {
            no_room = true;
            s = std::make_unique<soci::session>();
            continue;
          }
          // A run began or ended between the look for its -wal and the open: look again.
          if (!(locked_dir || no_room) || attempt == 3) throw;
          s = std::make_unique<soci::session>();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
      // The journal mode is left as it is: a connect changes nothing in a file that may turn
      // out to be someone else's (write-ahead logging is switched on with the schema).
      *s << "PRAGMA synchronous=NORMAL";
      *s << "PRAGMA foreign_keys=ON";
      // Statement journals and temporary tables in memory: a multi-row INSERT inside a
      // transaction otherwise writes the old content of every page it touches to a file in
      // /var/tmp (25 writes a point when registering a grid).
      *s << "PRAGMA temp_store=MEMORY";
    }
    if (!mysql) keep_statements(s.get());  // closed by close_statements (statement_cache.h)
    warn_if_blocked("connect", started, limit);
    return s;
  } catch (const std::exception& e) {
    warn_if_blocked("connect", started, limit);
    if (pg && dynamic_cast<const soci::postgresql_soci_error*>(&e) == nullptr) {
      // The connect itself failed: libpq's reason is on the message's second line.
      std::string reason = e.what();
      if (auto nl = reason.find('\n'); nl != std::string::npos) reason = reason.substr(nl + 1);
      if (auto nl = reason.find('\n'); nl != std::string::npos) reason = reason.substr(0, nl);
      if (settings_.unix_socket.empty() && !host_resolves(settings_.host)) {
        return Status::Error(ErrorKind::kPermanent, "cannot connect to database " + where + ": " + reason,
                             pg_error_code(""));
      }
      // Asked again only when a server answered: a connect that ran out its connect_timeout
      // (a server that stopped answering) would wait as long again, doubling every wait for it,
      // and a stop asked meanwhile does not wait at all. Without a SQLSTATE the failure reads as
      // an outage.
      const bool timed_out = std::chrono::steady_clock::now() - started >=
                             std::chrono::milliseconds(settings_.connect_timeout * 1000 - 500);
      PgRefusal refusal;
      if (!timed_out && !StopRetryingOn::stopping()) {
        refusal = pg_refusal(postgresql_connect_string(settings_), settings_.connect_timeout);
      }
      const std::string& state = refusal.sqlstate;
      if (refusal.needs_password) {
        // Not an outage: asking again gives the same answer.
        return Status::Error(ErrorKind::kPermanent,
                             "cannot connect to database " + where + ": " + reason + kNoPasswordGiven,
                             pg_error_code("28000"));
      }
      Status st = pg_connect_error(state, "cannot connect to database " + where, reason);
      std::string message = st.message();
      // A setting the server refuses at connect (unknown, or a bad value): from PGOPTIONS, when
      // it is set, since pdr_run's own are known to the server.
      const std::string user_options = pgoptions();
      if (!user_options.empty() &&
          (state == "42704" || state == "22023" || state == "42601" || state == "08P01" || state == "55P02")) {
        message += " (the environment's PGOPTIONS, which pdr_run passes on: '" + user_options + "')";
      }
      if (settings_.password.empty() && (state == "28P01" || state == "28000")) {
        message += refusal.used_password ? "; the password libpq found itself (PGPASSWORD, PGPASSFILE or ~/.pgpass) "
                                           "was refused, database.password and PDR_DB_PASSWORD being unset"
                                         : kNoPasswordGiven;
      }
      return Status::Error(st.kind(), mask(message, settings_.password), st.code());
    }
    Status st = db_error_status(e, "cannot connect to database " + where);
    std::string message = st.message();
    if (mysql && settings_.unix_socket.empty() && lower(settings_.host) == "localhost" &&
        (st.code() == 2002 || st.code() == 2003)) {
      message += " (localhost is TCP to 127.0.0.1; for a server on a unix socket set database.unix_socket)";
    }
    if (mysql && settings_.password.empty() && (st.code() == 1045 || st.code() == 1698)) {
      // The client library takes MYSQL_PWD when it is given none.
      const char* pwd = std::getenv("MYSQL_PWD");
      message += pwd != nullptr && *pwd != '\0'
                     ? "; the password of MYSQL_PWD was refused, database.password and PDR_DB_PASSWORD being unset"
                     : kNoPasswordGiven;
    }
    return Status::Error(st.kind(), mask(message, settings_.password), st.code());
  }
}

void DbManager::note_trouble(std::chrono::steady_clock::time_point began) {
  const long long at = began.time_since_epoch().count();
  if (!in_trouble_.exchange(true)) {
    // A call that answered between two troubles (a server that came back for a moment, or a
    // call that started after the server answered again while others were still blocked)
    // gave the owners no whole lease to renew: the trouble goes on from its first beginning.
    // (A beginning not known, the process start's, stays unknown.)
    const long long end = trouble_end_ns_;
    if (end == kNever || at - end >= trouble_window_ns_.load()) trouble_begin_ns_ = at;
  } else if (trouble_begin_ns_ != kNever && at < trouble_begin_ns_) {
    trouble_begin_ns_ = at;  // an earlier call of the same trouble
  }
  trouble_end_ns_ = now_ns();
}

void DbManager::note_start() {
  in_trouble_ = true;
  trouble_begin_ns_ = kNever;
  trouble_end_ns_ = now_ns();
}

double DbManager::seconds_since_trouble() const {
  if (in_trouble_) return 0;
  const long long end = trouble_end_ns_;
  if (end == kNever) return 1e12;
  return std::chrono::duration<double>(std::chrono::steady_clock::duration(now_ns() - end)).count();
}

double DbManager::seconds_since_trouble_began() const {
  const long long begin = trouble_begin_ns_;
  if (begin == kNever) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::duration(now_ns() - begin)).count();
}

Status DbManager::reach() {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(settings_.start_deadline));
  const auto start = clock::now();
  double delay = 0.25;
  for (bool first = true;; first = false) {
    const auto tried = clock::now();
    auto lease = borrow("connect");
    if (lease.ok()) {
      note_answer();
      return Status::Ok();
    }
    const Status& st = lease.status();
    if (st.kind() != ErrorKind::kTransient) return st;
    note_trouble(tried);
    // A signal that came while a connect was blocked (a server that stopped answering holds it
    // for its connect timeout) ends the wait now.
    if (StopRetryingOn::stopping()) {
      return Status::Error(ErrorKind::kInterrupted, "interrupted while waiting for the database: " + st.message(),
                           st.code());
    }
    if (clock::now() + std::chrono::duration<double>(delay) > deadline) {
      char limit[32];
      std::snprintf(limit, sizeof limit, "%g", settings_.start_deadline);
      const long long waited = std::llround(std::chrono::duration<double>(clock::now() - start).count());
      return Status::Error(ErrorKind::kPermanent,
                           st.message() + " (not reachable for " + std::to_string(waited) +
                               " s; database.start_deadline = " + limit + " s)",
                           st.code());
    }
    if (first) spdlog::warn("{}; trying again for up to {:g} s", st.message(), settings_.start_deadline);
    if (!StopRetryingOn::pause(std::chrono::duration<double>(delay))) {
      return Status::Error(ErrorKind::kInterrupted, "interrupted while waiting for the database: " + st.message(),
                           st.code());
    }
    delay = std::min(delay * 2, 2.0);
  }
}

std::chrono::steady_clock::time_point DbManager::new_expiry() {
  // Jitter (up to 10 % earlier) so sessions made together are not all replaced together.
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> factor(0.9, 1.0);
  const auto life = std::chrono::duration<double>(settings_.pool_recycle * factor(rng));
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(life);
}

void DbManager::report_leaks() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& kv : borrowed_) {
    Borrowed& b = kv.second;
    const double held = std::chrono::duration<double>(now - b.since).count();
    if (!b.reported && held > settings_.leak_threshold) {
      b.reported = true;
      spdlog::warn("database session held for {:.0f} s (leak threshold {:.0f} s){}", held, settings_.leak_threshold,
                   b.purpose.empty() ? std::string() : " by: " + b.purpose);
    }
  }
}

// An idle session still within its lifetime that answers a ping (when pool_pre_ping and it sat
// idle over a second); sessions found dead or too old are closed on the way. `lock` holds mu_
// (released during a ping).
std::optional<DbManager::Idle> DbManager::take_idle(std::unique_lock<std::mutex>& lock) {
  using clock = std::chrono::steady_clock;
  // A session closed with the lock released meanwhile (its kept statements first; on
  // PostgreSQL a round trip each), counted in use as during a ping.
  auto close_outside = [&](std::unique_ptr<soci::session> s) {
    ++in_use_;
    lock.unlock();
    close_statements(s.get());
    s.reset();
    lock.lock();
    --in_use_;
  };
  while (!idle_.empty()) {
    Idle item = std::move(idle_.back());
    idle_.pop_back();
    const auto now = clock::now();
    if (now > item.expires) {
      ++counters_.replaced;
      close_outside(std::move(item.session));
      continue;  // past its lifetime: closed, a fresh one is made by the caller
    }
    if (settings_.pool_pre_ping && now - item.last_used > std::chrono::seconds(1)) {
      ++counters_.validated;
      ++in_use_;  // the ping may take up to read_timeout: do not hold the lock meanwhile
      pinging_[item.session.get()] = clock::now();
      lock.unlock();
      const auto ping_start = clock::now();
      const bool alive = item.session->is_connected();
      if (settings_.server()) warn_if_blocked("ping", ping_start, settings_.read_timeout + 1.0);
      lock.lock();
      pinging_.erase(item.session.get());
      --in_use_;
      if (!alive) {
        ++counters_.replaced;
        close_outside(std::move(item.session));
        continue;
      }
    }
    return item;
  }
  return std::nullopt;
}

Result<DbManager::Lease> DbManager::borrow(const std::string& purpose) {
  using clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mu_);
  report_leaks();
  const auto deadline = clock::now() + std::chrono::seconds(settings_.pool_timeout);
  int capacity = settings_.pool_size + settings_.max_overflow;
  auto lend = [&](std::unique_ptr<soci::session> s, clock::time_point expires) {
    const long long id = ++next_lease_id_;
    borrowed_[id] = Borrowed{clock::now(), purpose, false, s.get()};
    return Lease(this, std::move(s), expires, id);
  };
  // A process that stops, past its grace, while the database does not answer: no new call
  // (a ping or a connect would wait for its timeout).
  if (in_trouble_ && StopRetryingOn::process_stopping()) {
    return Status::Error(ErrorKind::kInterrupted,
                         "stopped: the database did not answer within the grace after the signal (" + purpose + ")");
  }
  for (;;) {
    if (auto item = take_idle(lock)) {
      ++in_use_;
      return lend(std::move(item->session), item->expires);
    }
    if (in_use_ < capacity) {
      if (StopRetryingOn::process_stopping()) {
        // Past the grace, the sessions this process has broke: a new one may wait for its
        // connect timeout on a server that does not answer.
        return Status::Error(ErrorKind::kInterrupted,
                             "stopped: no new database connection after the grace of the signal (" + purpose + ")");
      }
      ++in_use_;
      lock.unlock();
      auto s = connect();
      lock.lock();
      if (!s.ok()) {
        --in_use_;
        ++counters_.failed;
        freed_.notify_one();
        const int code = s.status().code();
        if (is_too_many_connections(code) && in_use_ > 0) {
          // The server takes no more connections: share the ones this process has.
          capacity = in_use_;
          spdlog::warn("database: the server refused another connection ({}); sharing the {} open",
                       error_code_text(code), capacity);
          continue;
        }
        return s.status();
      }
      ++counters_.created;
      return lend(std::move(s.value()), new_expiry());
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && in_use_ >= capacity) {
      report_leaks();
      return Status::Error(ErrorKind::kTransient,
                           "no database session free after " + std::to_string(settings_.pool_timeout) +
                               " s (database.pool_size + max_overflow = " +
                               std::to_string(settings_.pool_size + settings_.max_overflow) + ")");
    }
  }
}

void DbManager::give_back(std::unique_ptr<soci::session> s, std::chrono::steady_clock::time_point expires, long long id,
                          bool broken) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_use_;
    borrowed_.erase(id);
    if (single_use_.erase(s.get()) != 0) {
      // closed below: the next borrower opens the file afresh
    } else if (broken) {
      ++counters_.replaced;
    } else if (in_use_ + static_cast<int>(idle_.size()) < settings_.pool_size) {
      idle_.push_back(Idle{std::move(s), expires, std::chrono::steady_clock::now()});
    }
    // else beyond pool_size open sessions: an overflow one, closed below
    freed_.notify_one();
  }
  // Broken or overflow: closed outside the lock (its kept statements first; on PostgreSQL a
  // round trip each), so that no borrower waits for it.
  if (s) close_statements(s.get());
}

void DbManager::cut_calls_older_than(double seconds) {
  if (!settings_.server()) return;  // SQLite's waits end in its busy handler
  const auto before =
      std::chrono::steady_clock::now() -
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  std::lock_guard<std::mutex> lock(mu_);
  auto cut = [&](soci::session* s) {
    int fd = -1;
    if (settings_.type == "mysql") {
      fd = static_cast<int>(mysql_get_socket(static_cast<soci::mysql_session_backend*>(s->get_backend())->conn_));
    } else if (settings_.type == "postgresql") {
      fd = PQsocket(static_cast<soci::postgresql_session_backend*>(s->get_backend())->conn_);
    }
    // The session stays its lease's: the failing call marks it broken and it is closed there.
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  };
  for (const auto& [id, b] : borrowed_) {
    if (b.session != nullptr && b.since < before) cut(b.session);
  }
  for (const auto& [session, since] : pinging_) {
    if (since < before) cut(session);
  }
}

PoolStats DbManager::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PoolStats st = counters_;
  st.in_use = in_use_;
  st.idle = static_cast<int>(idle_.size());
  st.size = st.in_use + st.idle;
  return st;
}

namespace {
bool same_database(const DatabaseSettings& a, const DatabaseSettings& b) {
  return a.type == b.type && a.path == b.path && a.host == b.host && a.port == b.port && a.database == b.database &&
         a.username == b.username && a.unix_socket == b.unix_socket;
}
}  // namespace

Result<DbManager*> process_db_manager(const DatabaseSettings& settings) {
  static std::once_flag once;
  static std::unique_ptr<DbManager> manager;
  std::call_once(once, [&] { manager = std::make_unique<DbManager>(settings); });
  if (!same_database(manager->settings(), settings)) {
    return Status::Error(ErrorKind::kPermanent,
                         "this process already uses another database; one process has one manager");
  }
  return manager.get();
}

std::string database_backends() {
  return std::string("sqlite3 (SQLite ") + sqlite_api::sqlite3_libversion() + "), mysql (MariaDB Connector/C " +
         mysql_get_client_info() + "), postgresql (libpq " + std::to_string(PQlibVersion() / 10000) + "." +
         std::to_string(PQlibVersion() % 10000) + "); SOCI " + std::to_string(SOCI_VERSION / 100000) + "." +
         std::to_string(SOCI_VERSION / 100 % 1000) + "." + std::to_string(SOCI_VERSION % 100);
}

}  // namespace pdr
