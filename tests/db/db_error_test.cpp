// Database errors are classified by their code, never by their words, and never carry a password.
#include "db/db_error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "db/transactor.h"
#include "pdr/db_manager.h"

#include <gtest/gtest.h>
#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sqlite3.h>

#include <stdexcept>

namespace pdr {
namespace {

Status mysql(int code, const std::string& text = "some text") {
  return db_error_status(soci::mysql_soci_error(text, code), "claiming jobs");
}

Status sqlite(int code, const std::string& text = "some text") {
  return db_error_status(soci::sqlite3_soci_error(text, code), "claiming jobs");
}

Status postgresql(const char* sqlstate, const std::string& text = "some text") {
  return db_error_status(soci::postgresql_soci_error(text, sqlstate), "claiming jobs");
}

TEST(DbErrorTest, ALostOrRefusedMysqlConnectionIsTransientAndDropsTheSession) {
  for (int code : {2002, 2003, 2006, 2013, 2055, 2026, 1927, 1053, 4031, 1290}) {
    const Status st = mysql(code);
    EXPECT_EQ(st.kind(), ErrorKind::kTransient) << code;
    EXPECT_EQ(st.code(), code);
    EXPECT_TRUE(is_connection_lost(code)) << code;
  }
}

TEST(DbErrorTest, LockWaitsDeadlocksAndFullServersOrDisksAreRetriedOnALiveConnection) {
  for (int code : {1040, 1203, 1226, 1205, 1213, 1467, 1317, 1158, 1159, 1160, 1161, 1021, 1114, 1037, 1041}) {
    EXPECT_EQ(mysql(code).kind(), ErrorKind::kTransient) << code;
    EXPECT_FALSE(is_connection_lost(code)) << code;
  }
}

TEST(DbErrorTest, CredentialsSchemaAndConstraintErrorsFailAtOnce) {
  // Access denied, unknown database, duplicate key, syntax error, unknown column.
  for (int code : {1045, 1049, 1062, 1064, 1054}) {
    EXPECT_EQ(mysql(code).kind(), ErrorKind::kPermanent) << code;
  }
  // The words do not decide: a permanent code stays permanent whatever its text says.
  EXPECT_EQ(mysql(1064, "Lost connection to server; deadlock found").kind(), ErrorKind::kPermanent);
  EXPECT_EQ(mysql(2013, "syntax error").kind(), ErrorKind::kTransient);
}

TEST(DbErrorTest, PostgresqlSqlstatesAreCarriedWhole) {
  for (const char* state : {"08006", "57P01", "40P01", "28P01", "3D000", "42601", "23505", "00000", "ZZZZZ", ""}) {
    const int code = pg_error_code(state);
    EXPECT_GE(code, kPgErrorBase) << state;
    EXPECT_EQ(pg_sqlstate(code), state);
  }
  EXPECT_NE(pg_error_code(""), pg_error_code("00000"));
  EXPECT_EQ(pg_sqlstate(1213), "") << "a MySQL number is not a SQLSTATE";
}

TEST(DbErrorTest, ALostPostgresqlSessionIsTransientAndDropsIt) {
  // Connection exceptions, admin/crash shutdown, starting up, the server's idle timeouts, and
  // an error without SQLSTATE (libpq lost the server).
  for (const char* state :
       {"08000", "08003", "08006", "08001", "08P01", "57P01", "57P02", "57P03", "57P05", "25P03", "     "}) {
    const Status st = postgresql(state);
    EXPECT_EQ(st.kind(), ErrorKind::kTransient) << state;
    EXPECT_TRUE(is_connection_lost(st.code())) << state;
  }
}

TEST(DbErrorTest, PostgresqlDeadlocksLockWaitsTimeoutsAndFullServersOrDisksAreRetriedOnALiveSession) {
  for (const char* state : {"53300", "40001", "40P01", "55P03", "57014", "53000", "53100", "53200"}) {
    const Status st = postgresql(state);
    EXPECT_EQ(st.kind(), ErrorKind::kTransient) << state;
    EXPECT_FALSE(is_connection_lost(st.code())) << state;
  }
  EXPECT_TRUE(is_too_many_connections(postgresql("53300").code()));
  EXPECT_FALSE(is_too_many_connections(postgresql("40P01").code()));
  // Deadlocks answer at once: no trouble for the reaper's grace; a full disk or a timeout is.
  EXPECT_TRUE(is_deadlock(postgresql("40P01").code()));
  EXPECT_TRUE(is_deadlock(postgresql("40001").code()));
  EXPECT_FALSE(is_deadlock(postgresql("53100").code()));
  EXPECT_FALSE(is_deadlock(postgresql("57014").code()));
  EXPECT_TRUE(is_deadlock(1213));
  EXPECT_TRUE(is_deadlock(1467));
  EXPECT_FALSE(is_deadlock(1205));
  EXPECT_FALSE(is_deadlock(5));  // SQLITE_BUSY: the file was locked past the busy timeout
}

TEST(DbErrorTest, PostgresqlCredentialsSchemaAndConstraintErrorsFailAtOnce) {
  // Bad password, no such role/authorization, unknown database, syntax, undefined table,
  // unique and not-null violations, privilege.
  for (const char* state : {"28P01", "28000", "3D000", "42601", "42P01", "23505", "23502", "42501"}) {
    EXPECT_EQ(postgresql(state).kind(), ErrorKind::kPermanent) << state;
  }
  // The words do not decide.
  EXPECT_EQ(postgresql("42601", "terminating connection; deadlock detected").kind(), ErrorKind::kPermanent);
  EXPECT_EQ(postgresql("40P01", "syntax error").kind(), ErrorKind::kTransient);
  const Status st = postgresql("23505", "ERROR:  duplicate key value\nDETAIL: Key (id)=(1) already exists.");
  EXPECT_NE(st.message().find("(PostgreSQL SQLSTATE 23505)"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  // SOCI's own words before the server's are dropped.
  const Status ro = postgresql("25006",
                               "Cannot execute query. Fatal error. ERROR:  cannot execute INSERT in a read-only "
                               "transaction\n");
  EXPECT_EQ(ro.message(),
            "claiming jobs: cannot execute INSERT in a read-only transaction (PostgreSQL SQLSTATE 25006)");
}

TEST(DbErrorTest, SqliteBusyLockedFullAndIoErrorsAreTransientWithTheirExtendedCodes) {
  EXPECT_EQ(sqlite(SQLITE_BUSY).kind(), ErrorKind::kTransient);
  EXPECT_EQ(sqlite(SQLITE_LOCKED).kind(), ErrorKind::kTransient);
  EXPECT_EQ(sqlite(SQLITE_BUSY_SNAPSHOT).kind(), ErrorKind::kTransient);
  EXPECT_EQ(sqlite(SQLITE_BUSY_SNAPSHOT).code(), SQLITE_BUSY_SNAPSHOT);
  for (int code : {SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_WRITE, SQLITE_IOERR_SHMSIZE}) {
    EXPECT_EQ(sqlite(code).kind(), ErrorKind::kTransient) << code << ": a full disk is ridden out like an outage";
  }
  for (int code : {SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_READONLY, SQLITE_CONSTRAINT}) {
    EXPECT_EQ(sqlite(code).kind(), ErrorKind::kPermanent) << code;
  }
}

TEST(DbErrorTest, TheMessageIsOneLineWithContextCodeAndNoPassword) {
  const Status st = mysql(1045, "Access denied; connect string: db=pdr user=u password=s3cr'et host=h\nmore.");
  EXPECT_EQ(st.message().find("s3cr"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  EXPECT_EQ(st.message().rfind("claiming jobs: ", 0), 0u) << st.message();
  EXPECT_NE(st.message().find("password=***"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("(MySQL error 1045)"), std::string::npos) << st.message();
  for (const char* form : {"pass = 'a b c'", "PWD=\"x y\"", "password=abc"}) {
    const Status masked = sqlite(SQLITE_CANTOPEN, std::string("cannot open ") + form);
    EXPECT_EQ(masked.message().find(" b c"), std::string::npos) << masked.message();
    EXPECT_EQ(masked.message().find("x y"), std::string::npos) << masked.message();
    EXPECT_EQ(masked.message().find("abc"), std::string::npos) << masked.message();
  }
}

TEST(DbErrorTest, AnExceptionFromElsewhereIsPermanentWithItsText) {
  const Status st = db_error_status(std::runtime_error("bad_alloc somewhere"), "reading the grid");
  EXPECT_EQ(st.kind(), ErrorKind::kPermanent);
  EXPECT_EQ(st.message(), "reading the grid: bad_alloc somewhere");
}

TEST(DbErrorTest, TheStatementStaysOutOfTheUsersLine) {
  std::string statement = "INSERT INTO pdr_model_jobs (a, b) VALUES ";
  for (int i = 0; i < 200; ++i) statement += "(:a" + std::to_string(i) + ", :b" + std::to_string(i) + "), ";
  const Status st = mysql(
      1062, "Duplicate entry 'x' for key 'uq_jobs_name' while executing \"" + statement + "\" with :a0=1, :b0=2.");
  EXPECT_EQ(st.message(), "claiming jobs: Duplicate entry 'x' for key 'uq_jobs_name' (MySQL error 1062)");
  EXPECT_LT(st.message().size(), 200u);
}

// A call that answered between two troubles (a server that came back for a moment, a call that
// started after it answered while others were still blocked) gave owners no whole lease to
// renew: the trouble keeps its first beginning, which is what the reaper measures silence by.
// Trouble a lease after the last ended begins anew.
TEST(DbManagerTroubleTest, TroubleAgainWithinALeaseKeepsItsFirstBeginning) {
  DatabaseSettings settings;
  DbManager db(settings);
  using clock = std::chrono::steady_clock;
  db.set_trouble_window(6);
  db.note_trouble(clock::now() - std::chrono::seconds(40));
  db.note_answer();
  EXPECT_GE(db.seconds_since_trouble_began(), 40.0);
  db.note_trouble(clock::now() - std::chrono::seconds(2));
  EXPECT_GE(db.seconds_since_trouble_began(), 40.0);
  EXPECT_EQ(db.seconds_since_trouble(), 0.0);
  db.note_answer();
  db.set_trouble_window(0.2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  db.note_trouble(clock::now());
  EXPECT_LT(db.seconds_since_trouble_began(), 5.0);
}

// A call that could not even get a session (a connect or a ping that blocked for its timeout on
// a server that stopped answering) was trouble from its start: the outage began then, and the
// reaper measures owners' silence from there. Timed from when it gave up, a live owner's lease
// was taken back right after a freeze of 40 s (its silence exceeded the shortened outage).
TEST(DbManagerTroubleTest, ACallThatGotNoSessionWasTroubleFromItsStart) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);  // accepts connections, never answers
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  DatabaseSettings settings;
  settings.type = "mysql";
  settings.host = "127.0.0.1";
  settings.port = ntohs(addr.sin_port);
  settings.database = "d";
  settings.username = "u";
  settings.connect_timeout = settings.read_timeout = settings.write_timeout = 1;
  settings.retry.max_attempts = 1;
  DbManager db(settings);
  Transactor tx(&db);
  const Status st = tx.run("x", [](soci::session&) { return Status::Ok(); });
  EXPECT_FALSE(st.ok());
  EXPECT_GE(db.seconds_since_trouble_began(), 0.9) << st.message();
  close(listener);
}

}  // namespace
}  // namespace pdr
