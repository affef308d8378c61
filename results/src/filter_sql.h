// Internal to nce_results: the WHERE terms a CandidateFilter adds to a query of runs or candidates,
// with its text values bound as parameters (never spliced into the SQL).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nce/results/candidates.h"
#include "nce/results/database.h"

namespace nce::results {

class FilterSql {
 public:
  explicit FilterSql(std::string sql) : sql_(std::move(sql)) {}

  // " AND <column> = ?" bound to `value`; nothing when `value` is empty (matches everything).
  void text(const std::string& column, const std::string& value) {
    if (value.empty()) return;
    sql_ += " AND " + column + " = ?";
    texts_.push_back(value);
  }
  // The run-level text fields every query filters on: method, model, dataset, hw.
  void run_texts(const CandidateFilter& filter) {
    text("method", filter.method);
    text("model", filter.model);
    text("dataset", filter.dataset);
    text("hw", filter.hw);
  }
  // The filter's bits and run id (`id_column`: the run's id in the query), when given.
  void run_numbers(const CandidateFilter& filter, const std::string& id_column) {
    if (filter.bits > 0) append(" AND bits = " + std::to_string(filter.bits));
    if (filter.run_id) append(" AND " + id_column + " = " + std::to_string(*filter.run_id));
  }
  // A term with no parameter, appended as is.
  void append(const std::string& sql) { sql_ += sql; }

  // The statement with its text values bound (parameters 1, 2, ... in the order added).
  Statement prepare(const Database& db) const {
    auto stmt = db.prepare(sql_);
    for (std::size_t i = 0; i < texts_.size(); ++i) stmt.bind(static_cast<int>(i + 1), texts_[i]);
    return stmt;
  }
  // Every row of the query, each a Row that `read(statement, row)` fills from the current row.
  template <typename Row, typename Read>
  std::vector<Row> rows(const Database& db, Read read) const {
    auto stmt = prepare(db);
    std::vector<Row> out;
    while (stmt.step()) {
      Row row;
      read(stmt, row);
      out.push_back(std::move(row));
    }
    return out;
  }

 private:
  std::string sql_;
  std::vector<std::string> texts_;
};

}  // namespace nce::results
