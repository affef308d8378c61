// A SQLite result database: one connection in RAII handles, opened with its schema checked and
// migrated in place (schema.h), in WAL mode, with a busy timeout and retried write transactions so
// that several processes can write one file at once and lose nothing.
//
// Errors: every failure throws DatabaseError whose message names the file, e.g.
//   "results.db: not an SQLite database (file is not a database)"
//   "results.db: schema version 7 is newer than this nce understands (2); upgrade nce"
//   "results.db: SQL error in 'SELEC 1': near "SELEC": syntax error"
// A file that is refused is never written to (no WAL switch, no migration).
//
// Thread safety: a Database is one connection; use it from one thread at a time (the sinks and the
// cost cache that share one add their own mutex). Use one Database per process after fork().
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nce::results {

class DatabaseError : public std::runtime_error {
 public:
  explicit DatabaseError(const std::string& message, int sqlite_code = 0)
      : std::runtime_error(message), sqlite_code_(sqlite_code) {}
  // The extended SQLite result code behind the error (0: not an SQLite call, e.g. a newer schema).
  int sqlite_code() const { return sqlite_code_; }

 private:
  int sqlite_code_;
};

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

class Database;

// A prepared statement (owned; must not outlive its Database or survive moving it).
// bind() indices are 1-based as in SQLite; column() indices 0-based.
// step() returns true while a row is available; errors throw DatabaseError naming the file and SQL.
class Statement {
 public:
  Statement(const Database& db, sqlite3_stmt* stmt, std::string sql);

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);  // non-finite values are stored as NULL
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
  Statement& bind_null(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }
  // Binds `values` to parameters 1, 2, ... in their order, each as bind(index, value) does.
  template <typename... Ts>
  Statement& bind_all(const Ts&... values) {
    int index = 0;
    (bind(++index, values), ...);
    return *this;
  }

  bool step();
  void run();    // step until done, for statements that return no rows
  void reset();  // reset and clear bindings to run again

  int column_count() const;
  std::string column_name(int i) const;
  bool is_null(int i) const;
  std::int64_t column_int(int i) const;
  double column_double(int i) const;
  std::string column_text(int i) const;  // "" for NULL
  std::optional<std::int64_t> column_opt_int(int i) const;
  std::optional<double> column_opt_double(int i) const;
  // Reads columns 0, 1, ... of the current row into `out...` in their order: a std::string as
  // column_text, an integer as column_int (0 for NULL), a double as column_double, a std::optional
  // of one of these as nullopt for NULL.
  template <typename... Ts>
  void read_columns(Ts&... out) const {
    int index = 0;
    (read_column(index++, out), ...);
  }
  int column_type(
      int i) const;        // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
  bool read_only() const;  // true if the statement does not write the database
  const std::string& sql() const { return sql_; }
  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  void read_column(int i, std::string& out) const { out = column_text(i); }
  void read_column(int i, std::int64_t& out) const { out = column_int(i); }
  void read_column(int i, int& out) const { out = static_cast<int>(column_int(i)); }
  void read_column(int i, double& out) const { out = column_double(i); }
  template <typename T>
  void read_column(int i, std::optional<T>& out) const {
    if (is_null(i)) {
      out.reset();
      return;
    }
    T value{};
    read_column(i, value);
    out = value;
  }

  const Database* db_;
  StatementHandle stmt_;
  std::string sql_;
};

enum class OpenMode {
  kReadWrite,  // create if missing, check, migrate to the current schema, WAL
  kReadOnly,   // SQLITE_OPEN_READONLY: must exist; checked, never migrated or written
};

struct OpenOptions {
  OpenMode mode = OpenMode::kReadWrite;
  // How long one statement waits on another process's lock before SQLITE_BUSY
  // (sqlite3_busy_timeout).
  std::chrono::milliseconds busy_timeout{15000};
  // How long write_transaction() keeps retrying a transaction that hit SQLITE_BUSY.
  std::chrono::milliseconds retry_budget{120000};
  // Run PRAGMA quick_check on open (refuses a corrupt file before touching it) when the file is at
  // most this many bytes; 0 disables the check.
  std::int64_t quick_check_max_bytes = 256LL << 20;
};

class Database {
 public:
  // Opens (and for kReadWrite creates/migrates) the database at `path`. Throws DatabaseError.
  explicit Database(std::string path, OpenOptions options = {});
  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;

  const std::string& path() const { return path_; }
  bool read_only() const { return options_.mode == OpenMode::kReadOnly; }
  sqlite3* handle() const { return db_.get(); }

  // The schema version stored in the file (PRAGMA user_version).
  int schema_version() const;

  Statement prepare(const std::string& sql) const;
  // Runs one or more statements that return no rows (no bindings).
  void exec(const std::string& sql) const;
  // Runs a query returning one integer (first column of the first row); nullopt if no row/NULL.
  std::optional<std::int64_t> query_int(const std::string& sql) const;

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT. If another process holds the write lock beyond
  // the busy timeout, or the commit is busy, the whole transaction is rolled back and `body` runs
  // again (so it must only touch the database and local state it resets) until retry_budget is
  // spent. An exception from `body` rolls back and propagates. Nested calls join the outer one.
  void write_transaction(const std::function<void()>& body);

  std::int64_t last_insert_rowid() const;
  // PRAGMA integrity_check: "ok" or the problems it lists.
  std::string integrity_check() const;

  // Throws DatabaseError "<path>: <what> (<sqlite message>)" for a failed call returning `rc`.
  [[noreturn]] void fail(int rc, const std::string& what) const;

 private:
  void open();
  void check_readable();
  std::string path_;
  OpenOptions options_;
  SqliteHandle db_;
  int transaction_depth_ = 0;
};

// The canonical UTC time text stored in the database: "2026-11-23T18:43:33.123Z".
std::string utc_now_iso8601();

}  // namespace nce::results
