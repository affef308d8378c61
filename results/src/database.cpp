#include "nce/results/database.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include "nce/results/schema.h"

namespace nce::results {

namespace {

bool is_busy(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

std::string shorten(const std::string& sql) {
  constexpr size_t kMax = 160;
  std::string one_line;
  for (char ch : sql) one_line += (ch == '\n' || ch == '\t') ? ' ' : ch;
  if (one_line.size() <= kMax) return one_line;
  return one_line.substr(0, kMax) + "...";
}

bool file_exists(const std::string& path, std::int64_t* size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (size) *size = static_cast<std::int64_t>(st.st_size);
  return true;
}

bool directory_writable(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  return ::access(dir.c_str(), W_OK) == 0;
}

// "file:" URI of a path, percent-encoding what a URI gives a meaning ('%', '?', '#').
std::string sqlite_uri(const std::string& path) {
  std::string out = "file:";
  for (char ch : path) {
    if (ch == '%' || ch == '?' || ch == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(ch));
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- Statement

Statement::Statement(const Database& db, sqlite3_stmt* stmt, std::string sql)
    : db_(&db), stmt_(stmt), sql_(std::move(sql)) {}

Statement& Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK)
    db_->fail(rc, "cannot bind parameter " + std::to_string(index) + " of '" + shorten(sql_) + "'");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (!std::isfinite(value)) return bind_null(index);
  int rc = sqlite3_bind_double(stmt_.get(), index, value);
  if (rc != SQLITE_OK)
    db_->fail(rc, "cannot bind parameter " + std::to_string(index) + " of '" + shorten(sql_) + "'");
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  int rc = sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK)
    db_->fail(rc, "cannot bind parameter " + std::to_string(index) + " of '" + shorten(sql_) + "'");
  return *this;
}

Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK)
    db_->fail(rc, "cannot bind parameter " + std::to_string(index) + " of '" + shorten(sql_) + "'");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_.get());
  db_->fail(rc, "SQL error in '" + shorten(sql_) + "'");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

int Statement::column_count() const {
  return sqlite3_column_count(stmt_.get());
}

std::string Statement::column_name(int i) const {
  const char* name = sqlite3_column_name(stmt_.get(), i);
  return name ? name : "";
}

bool Statement::is_null(int i) const {
  return column_type(i) == SQLITE_NULL;
}

std::int64_t Statement::column_int(int i) const {
  return sqlite3_column_int64(stmt_.get(), i);
}

double Statement::column_double(int i) const {
  return sqlite3_column_double(stmt_.get(), i);
}

std::string Statement::column_text(int i) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), i);
  if (!text) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), i)));
}

std::optional<std::int64_t> Statement::column_opt_int(int i) const {
  if (is_null(i)) return std::nullopt;
  return column_int(i);
}

std::optional<double> Statement::column_opt_double(int i) const {
  if (is_null(i)) return std::nullopt;
  return column_double(i);
}

int Statement::column_type(int i) const {
  return sqlite3_column_type(stmt_.get(), i);
}

bool Statement::read_only() const {
  return sqlite3_stmt_readonly(stmt_.get()) != 0;
}

// ---------------------------------------------------------------- Database

Database::Database(std::string path, OpenOptions options)
    : path_(std::move(path)), options_(options) {
  open();
}

void Database::fail(int rc, const std::string& what) const {
  std::string detail = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  std::string prefix = path_ + ": ";
  if (primary == SQLITE_NOTADB) {
    throw DatabaseError(prefix + "not an SQLite database (" + detail + ")", rc);
  }
  if (primary == SQLITE_CORRUPT) {
    throw DatabaseError(prefix + "the database file is corrupt (" + detail + "); " + what, rc);
  }
  throw DatabaseError(prefix + what + ": " + detail, rc);
}

void Database::open() {
  std::int64_t size = 0;
  bool exists = file_exists(path_, &size);
  if (exists) {
    // SQLite would fail on a directory only after its retries, and block on a FIFO.
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      throw DatabaseError(path_ + ": is a directory, not a database file");
    }
    if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      throw DatabaseError(path_ +
                          ": not a regular file (a FIFO, socket or device), not a database");
    }
  }
  if (read_only() && !exists) {
    throw DatabaseError(path_ + ": no such database file");
  }
  int flags = read_only() ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  std::string target = path_;
  if (read_only() && !directory_writable(path_) && !file_exists(path_ + "-wal", nullptr)) {
    // A WAL database needs its -shm file beside it even to be read; in a directory nobody can
    // write, no writer can be active either (it could not create its -wal), so the file cannot
    // change while we read it: open it immutable (no locks, no -shm).
    target = sqlite_uri(path_) + "?mode=ro&immutable=1";
    flags |= SQLITE_OPEN_URI;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(target.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) {
    std::string detail = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    db_.reset();
    throw DatabaseError(path_ + ": cannot open database: " + detail, rc);
  }
  sqlite3_extended_result_codes(db_.get(), 1);
  sqlite3_busy_timeout(db_.get(), static_cast<int>(options_.busy_timeout.count()));

  check_readable();
  if (exists && options_.quick_check_max_bytes > 0 && size <= options_.quick_check_max_bytes) {
    std::string verdict;
    auto check = prepare("PRAGMA quick_check");
    while (check.step()) {
      if (!verdict.empty()) verdict += "; ";
      verdict += check.column_text(0);
    }
    if (verdict != "ok") {
      throw DatabaseError(
          path_ + ": the database file is corrupt (quick_check: " + shorten(verdict) + ")",
          SQLITE_CORRUPT);
    }
  }
  check_schema_compatible(*this);
  if (read_only()) {
    exec("PRAGMA query_only = ON");
    return;
  }
  // Switching to WAL needs a lock: retry while another process holds it.
  auto deadline = std::chrono::steady_clock::now() + options_.retry_budget;
  while (true) {
    try {
      auto mode = prepare("PRAGMA journal_mode = WAL");
      mode.step();
      break;
    } catch (const DatabaseError& e) {
      if (!is_busy(e.sqlite_code()) || std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  exec("PRAGMA synchronous = NORMAL");
  exec("PRAGMA foreign_keys = ON");
  migrate(*this);
}

void Database::check_readable() {
  // Reading the schema touches the header and page 1: a non-SQLite file fails here.
  auto probe = prepare("SELECT count(*) FROM sqlite_master");
  probe.step();
}

int Database::schema_version() const {
  return static_cast<int>(query_int("PRAGMA user_version").value_or(0));
}

Statement Database::prepare(const std::string& sql) const {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    fail(rc, "SQL error in '" + shorten(sql) + "'");
  }
  if (!stmt) throw DatabaseError(path_ + ": empty SQL statement");
  return Statement(*this, stmt, sql);
}

void Database::exec(const std::string& sql) const {
  char* message = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    int primary = rc & 0xff;
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) fail(rc, shorten(sql));
    throw DatabaseError(path_ + ": SQL error in '" + shorten(sql) + "': " + detail, rc);
  }
}

std::optional<std::int64_t> Database::query_int(const std::string& sql) const {
  auto stmt = prepare(sql);
  if (!stmt.step()) return std::nullopt;
  return stmt.column_opt_int(0);
}

void Database::write_transaction(const std::function<void()>& body) {
  if (read_only()) throw DatabaseError(path_ + ": opened read-only; cannot write");
  if (transaction_depth_ > 0) {
    body();
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + options_.retry_budget;
  std::minstd_rand jitter(
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  auto wait_or_throw = [&](const DatabaseError& e) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw DatabaseError(std::string(e.what()) + " (gave up retrying after " +
                              std::to_string(options_.retry_budget.count()) + " ms)",
                          e.sqlite_code());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500 + jitter() % 4000));
  };
  auto rollback = [&] {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    transaction_depth_ = 0;
  };
  while (true) {
    try {
      exec("BEGIN IMMEDIATE");
    } catch (const DatabaseError& e) {
      if (!is_busy(e.sqlite_code())) throw;
      wait_or_throw(e);
      continue;
    }
    transaction_depth_ = 1;
    try {
      body();
      exec("COMMIT");
      transaction_depth_ = 0;
      return;
    } catch (const DatabaseError& e) {
      rollback();
      if (!is_busy(e.sqlite_code())) throw;
      wait_or_throw(e);
    } catch (...) {
      rollback();
      throw;
    }
  }
}

std::int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_.get());
}

std::string Database::integrity_check() const {
  std::string verdict;
  auto check = prepare("PRAGMA integrity_check");
  while (check.step()) {
    if (!verdict.empty()) verdict += "; ";
    verdict += check.column_text(0);
  }
  return verdict;
}

std::string utc_now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace nce::results
