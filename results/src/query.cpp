#include "nce/results/query.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "nce/common/interrupted.h"
#include "nce/common/json.h"
#include "nce/common/text.h"

namespace nce::results {

std::string Value::to_string() const {
  switch (type) {
    case Type::kNull:
      return "";
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kReal: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", real);
      return buf;
    }
    case Type::kText:
      return text;
  }
  return "";
}

namespace {

bool only_space_or_semicolons(const char* tail) {
  for (; *tail; ++tail) {
    if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';') return false;
  }
  return true;
}

// "PRAGMA name" or "PRAGMA schema.name" without "= value" or "(value)": reads a setting. SQLite
// flags some of these (journal_mode) as writes because the same pragma with a value writes. The
// connection of a read-only Database is SQLITE_OPEN_READONLY and query_only, so a pragma let
// through here still cannot change the file.
bool is_pragma_read(const std::string& text) {
  std::string t;
  for (char ch : text) {
    if (ch == ';') break;
    if (!std::isspace(static_cast<unsigned char>(ch))) {
      t += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  static const char* const kQueries[] = {
      "journal_mode", "user_version",   "schema_version", "application_id", "page_size",
      "page_count",   "freelist_count", "encoding",       "foreign_keys",   "auto_vacuum",
      "synchronous",  "cache_size",     "busy_timeout",   "query_only",     "locking_mode"};
  if (t.rfind("pragma", 0) != 0) return false;
  std::string name = t.substr(6);
  const auto dot = name.find('.');
  if (dot != std::string::npos) name = name.substr(dot + 1);
  for (const char* q : kQueries) {
    if (name == q) return true;
  }
  return false;
}

QueryResult collect(Statement& stmt) {
  QueryResult result;
  for (int i = 0; i < stmt.column_count(); ++i) result.columns.push_back(stmt.column_name(i));
  while (stmt.step()) {
    std::vector<Value> row;
    for (int i = 0; i < stmt.column_count(); ++i) {
      Value v;
      switch (stmt.column_type(i)) {
        case SQLITE_INTEGER:
          v.type = Value::Type::kInteger;
          v.integer = stmt.column_int(i);
          break;
        case SQLITE_FLOAT:
          v.type = Value::Type::kReal;
          v.real = stmt.column_double(i);
          break;
        case SQLITE_NULL:
          break;
        case SQLITE_BLOB: {
          v.type = Value::Type::kText;
          const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt.get(), i));
          int n = sqlite3_column_bytes(stmt.get(), i);
          static const char* hex = "0123456789abcdef";
          for (int k = 0; k < n; ++k) {
            v.text += hex[bytes[k] >> 4];
            v.text += hex[bytes[k] & 15];
          }
          break;
        }
        default:
          v.type = Value::Type::kText;
          v.text = stmt.column_text(i);
      }
      row.push_back(std::move(v));
    }
    result.rows.push_back(std::move(row));
  }
  return result;
}

bool is_numeric(const Value& v) {
  return v.type == Value::Type::kInteger || v.type == Value::Type::kReal;
}

}  // namespace

QueryResult run_query(const Database& db, const std::string& sql, bool read_only_statements) {
  QueryResult last;
  std::string last_text;
  bool have_rows = false;
  const char* cursor = sql.c_str();
  bool any = false;
  while (*cursor && !only_space_or_semicolons(cursor)) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db.handle(), cursor, -1, &raw, &tail);
    std::string text(cursor, tail ? static_cast<size_t>(tail - cursor) : std::strlen(cursor));
    if (rc != SQLITE_OK) {
      sqlite3_finalize(raw);
      db.fail(rc, "SQL error in '" + text + "'");
    }
    cursor = tail;
    if (!raw) continue;  // a comment
    Statement stmt(db, raw, text);
    if (read_only_statements && !stmt.read_only() && !is_pragma_read(text)) {
      throw DatabaseError(db.path() + ": refusing a statement that writes: '" + text + "'");
    }
    if (stmt.column_count() > 0) {
      if (have_rows) {
        throw DatabaseError(db.path() + ": more than one statement returns rows ('" + last_text +
                            "' and '" + text + "'); run them one at a time");
      }
      have_rows = true;
      last_text = text;
    }
    any = true;
    QueryResult result = collect(stmt);
    if (!result.columns.empty()) last = std::move(result);
  }
  if (!any) throw DatabaseError(db.path() + ": no SQL statement given");
  return last;
}

namespace {

struct QueryClock {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  const QueryLimits* limits = nullptr;
  bool timed_out = false;
  int signal = 0;
};

// SQLite's progress handler: non-zero stops the running statement (SQLITE_INTERRUPT).
int on_progress(void* arg) {
  auto* clock = static_cast<QueryClock*>(arg);
  if (clock->limits->interrupted) {
    if (const int sig = clock->limits->interrupted()) {
      clock->signal = sig;
      return 1;
    }
  }
  if (clock->limits->seconds > 0 &&
      std::chrono::duration<double>(std::chrono::steady_clock::now() - clock->start).count() >
          clock->limits->seconds) {
    clock->timed_out = true;
    return 1;
  }
  return 0;
}

}  // namespace

QueryResult run_query(const Database& db, const std::string& sql, const QueryLimits& limits,
                      bool read_only_statements) {
  QueryClock clock;
  clock.limits = &limits;
  sqlite3_progress_handler(db.handle(), 4096, on_progress, &clock);
  const sqlite3_int64 heap_before = sqlite3_hard_heap_limit64(-1);
  if (limits.heap_bytes > 0) sqlite3_hard_heap_limit64(limits.heap_bytes);
  struct Restore {
    const Database& db;
    sqlite3_int64 heap;
    ~Restore() {
      sqlite3_progress_handler(db.handle(), 0, nullptr, nullptr);
      sqlite3_hard_heap_limit64(heap);
    }
  } restore{db, heap_before};
  try {
    return run_query(db, sql, read_only_statements);
  } catch (const DatabaseError& e) {
    if (clock.signal) throw common::Interrupted(clock.signal);
    if (clock.timed_out) {
      throw DatabaseError(db.path() + ": the query ran longer than its limit of " +
                          common::number_text(limits.seconds) +
                          " s and was stopped (nce db query --timeout SECONDS raises it)");
    }
    if (e.sqlite_code() == SQLITE_NOMEM && limits.heap_bytes > 0) {
      throw DatabaseError(db.path() + ": the query needed more than " +
                          common::number_text(static_cast<double>(limits.heap_bytes) / (1 << 20)) +
                          " MiB of memory and was stopped (nce db query --max-memory MB raises "
                          "it)");
    }
    throw;
  }
}

QueryResult dump_table(const Database& db, const std::string& table) {
  auto check =
      db.prepare("SELECT count(*) FROM sqlite_master WHERE type IN ('table','view') AND name = ?");
  check.bind(1, table);
  check.step();
  if (check.column_int(0) == 0) {
    throw DatabaseError(db.path() + ": no table or view named '" + table + "'");
  }
  std::string quoted = "\"";
  for (char ch : table) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  quoted += '"';
  auto stmt = db.prepare("SELECT * FROM " + quoted);
  return collect(stmt);
}

std::string format_table(const QueryResult& result) {
  std::vector<size_t> width(result.columns.size());
  std::vector<bool> right(result.columns.size(), true);
  for (size_t c = 0; c < result.columns.size(); ++c) width[c] = result.columns[c].size();
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].to_string().size());
      if (row[c].type == Value::Type::kText) right[c] = false;
    }
  }
  std::ostringstream out;
  auto cell = [&](const std::string& text, size_t c) {
    if (c) out << "  ";
    std::string pad(width[c] - std::min(width[c], text.size()), ' ');
    if (right[c]) {
      out << pad << text;
    } else {
      out << text << (c + 1 < width.size() ? pad : "");
    }
  };
  for (size_t c = 0; c < result.columns.size(); ++c) cell(result.columns[c], c);
  out << "\n";
  for (size_t c = 0; c < result.columns.size(); ++c) {
    if (c) out << "  ";
    out << std::string(width[c], '-');
  }
  out << "\n";
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < row.size(); ++c) cell(row[c].to_string(), c);
    out << "\n";
  }
  out << "(" << result.rows.size() << (result.rows.size() == 1 ? " row)\n" : " rows)\n");
  return out.str();
}

std::string format_csv(const QueryResult& result) {
  auto quote = [](const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string q = "\"";
    for (char ch : text) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  std::ostringstream out;
  for (size_t c = 0; c < result.columns.size(); ++c)
    out << (c ? "," : "") << quote(result.columns[c]);
  out << "\r\n";
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << quote(row[c].to_string());
    out << "\r\n";
  }
  return out.str();
}

std::string format_json(const QueryResult& result) {
  std::ostringstream out;
  common::JsonWriter json(out, true);
  json.begin_array();
  for (const auto& row : result.rows) {
    json.begin_object();
    for (size_t c = 0; c < row.size(); ++c) {
      json.key(result.columns[c]);
      const Value& v = row[c];
      switch (v.type) {
        case Value::Type::kNull:
          json.null();
          break;
        case Value::Type::kInteger:
          json.value(v.integer);
          break;
        case Value::Type::kReal:
          json.value(v.real);
          break;
        case Value::Type::kText:
          json.value(v.text);
          break;
      }
    }
    json.end_object();
  }
  json.end_array();
  out << "\n";
  return out.str();
}

std::string format_markdown(const QueryResult& result) {
  auto escape = [](const std::string& text) {
    std::string e;
    for (char ch : text) e += ch == '|' ? std::string("\\|") : std::string(1, ch);
    return e;
  };
  std::ostringstream out;
  out << "|";
  for (const auto& c : result.columns) out << " " << escape(c) << " |";
  out << "\n|";
  for (size_t c = 0; c < result.columns.size(); ++c) {
    bool numeric = !result.rows.empty() && is_numeric(result.rows[0][c]);
    out << (numeric ? " ---: |" : " --- |");
  }
  out << "\n";
  for (const auto& row : result.rows) {
    out << "|";
    for (const auto& v : row) out << " " << escape(v.to_string()) << " |";
    out << "\n";
  }
  return out.str();
}

}  // namespace nce::results
