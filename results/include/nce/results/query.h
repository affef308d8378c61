// Running SQL against a result database and formatting what comes back as an aligned text
// table, CSV (RFC 4180), JSON (an array of objects) or a Markdown table.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nce/results/database.h"

namespace nce::results {

struct Value {
  enum class Type { kNull, kInteger, kReal, kText };
  Type type = Type::kNull;
  std::int64_t integer = 0;
  double real = 0;
  std::string text;               // also holds BLOBs as hex
  std::string to_string() const;  // "" for NULL; reals with up to 10 significant digits
};

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

// Runs every statement in `sql` in order and returns the rows of the one that has columns. At most
// one statement may return rows ("SELECT 1; SELECT 2" is refused before the second runs: one
// result table, never a silently dropped one). With `read_only_statements`, a statement that
// would write is refused before it runs; a PRAGMA that only reads a setting ("PRAGMA
// journal_mode", no "= value") counts as a read. Errors throw DatabaseError naming the file and
// the SQL.
QueryResult run_query(const Database& db, const std::string& sql, bool read_only_statements = true);

// Bounds on a query: its wall-clock time (checked every few thousand steps of SQLite's virtual
// machine by a progress handler) and the heap SQLite may hold meanwhile
// (sqlite3_hard_heap_limit64: process-wide, set for the query and restored after). A query past
// either ends with a DatabaseError naming the file and the limit (a recursive CTE that would take
// gigabytes stops at the limit); `interrupted` (may be empty) is polled with the clock, and a
// non-zero signal number ends the query with nce::Interrupted.
struct QueryLimits {
  double seconds = 60;                              // 0 = no limit
  std::int64_t heap_bytes = std::int64_t{1} << 30;  // 0 = no limit
  std::function<int()> interrupted;
};
QueryResult run_query(const Database& db, const std::string& sql, const QueryLimits& limits,
                      bool read_only_statements = true);

// SELECT * of a table or view, after checking the name exists (no SQL injected through it).
QueryResult dump_table(const Database& db, const std::string& table);

std::string format_table(const QueryResult& result);
std::string format_csv(const QueryResult& result);
std::string format_json(const QueryResult& result);
std::string format_markdown(const QueryResult& result);

}  // namespace nce::results
