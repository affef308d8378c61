#include "nce/results/merge.h"

#include <sys/stat.h>

#include <vector>

#include "nce/results/schema.h"

namespace nce::results {

namespace {

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The columns of `table` in the main schema, except `skip`, as "a, b, c".
std::string column_list(const Database& db, const std::string& table, const std::string& skip,
                        const std::string& prefix = "") {
  auto info = db.prepare("SELECT name FROM pragma_table_info(?)");
  info.bind(1, table);
  std::string list;
  while (info.step()) {
    std::string name = info.column_text(0);
    if (name == skip) continue;
    if (!list.empty()) list += ", ";
    list += prefix + name;
  }
  return list;
}

std::int64_t changes(const Database& db) {
  return sqlite3_changes(db.handle());
}

}  // namespace

MergeStats merge_database(Database& out, const std::string& input_path) {
  if (same_file(out.path(), input_path)) {
    throw DatabaseError(input_path + ": cannot merge a database into itself");
  }
  {
    // Check (and if older, migrate) the input with the same rules as any open.
    OpenOptions ro;
    ro.mode = OpenMode::kReadOnly;
    Database probe(input_path, ro);
    if (probe.schema_version() < current_schema_version()) {
      Database upgrade(input_path);
    }
  }
  auto attach = out.prepare("ATTACH DATABASE ? AS merge_src");
  attach.bind(1, input_path);
  attach.run();
  MergeStats stats;
  try {
    out.write_transaction([&] {
      stats = MergeStats{};
      out.exec(
          "CREATE TEMP TABLE IF NOT EXISTS merge_run_map (old_id INTEGER PRIMARY KEY, new_id "
          "INTEGER NOT NULL); DELETE FROM merge_run_map;");
      const std::string run_columns = column_list(out, "runs", "id");
      std::vector<std::pair<std::int64_t, std::string>> src_runs;
      {
        auto list = out.prepare("SELECT id, uuid FROM merge_src.runs ORDER BY id");
        while (list.step()) src_runs.emplace_back(list.column_int(0), list.column_text(0 + 1));
      }
      auto exists = out.prepare("SELECT count(*) FROM main.runs WHERE uuid = ?");
      auto copy = out.prepare("INSERT INTO main.runs (" + run_columns + ") SELECT " + run_columns +
                              " FROM merge_src.runs WHERE id = ?");
      auto map = out.prepare("INSERT INTO merge_run_map (old_id, new_id) VALUES (?, ?)");
      for (const auto& [old_id, uuid] : src_runs) {
        exists.reset();
        exists.bind(1, uuid);
        exists.step();
        if (exists.column_int(0) > 0) {
          ++stats.runs_skipped;
          continue;
        }
        copy.reset();
        copy.bind(1, old_id);
        copy.run();
        map.reset();
        map.bind(1, old_id).bind(2, out.last_insert_rowid());
        map.run();
        ++stats.runs_added;
      }
      const std::string candidate_columns = column_list(out, "candidates", "id");
      const std::string candidate_values = column_list(out, "candidates", "id", "c.");
      std::string select_candidates = candidate_values;
      select_candidates.replace(select_candidates.find("c.run_id"), 8, "m.new_id");
      out.exec("INSERT INTO main.candidates (" + candidate_columns + ") SELECT " +
               select_candidates +
               " FROM merge_src.candidates c JOIN merge_run_map m ON m.old_id = c.run_id ORDER "
               "BY c.id");
      stats.candidates_added = changes(out);
      const std::string epoch_columns = column_list(out, "epochs", "");
      std::string select_epochs = column_list(out, "epochs", "", "e.");
      select_epochs.replace(select_epochs.find("e.run_id"), 8, "m.new_id");
      out.exec("INSERT INTO main.epochs (" + epoch_columns + ") SELECT " + select_epochs +
               " FROM merge_src.epochs e JOIN merge_run_map m ON m.old_id = e.run_id");
      stats.epochs_added = changes(out);
      const std::string hw_columns = column_list(out, "hw_configs", "");
      out.exec("INSERT OR IGNORE INTO main.hw_configs (" + hw_columns + ") SELECT " + hw_columns +
               " FROM merge_src.hw_configs");
      stats.hw_configs_added = changes(out);
      const std::string cache_columns = column_list(out, "cost_cache", "");
      out.exec("INSERT OR IGNORE INTO main.cost_cache (" + cache_columns + ") SELECT " +
               cache_columns + " FROM merge_src.cost_cache");
      stats.cost_entries_added = changes(out);
    });
  } catch (...) {
    sqlite3_exec(out.handle(), "DETACH DATABASE merge_src", nullptr, nullptr, nullptr);
    throw;
  }
  out.exec("DETACH DATABASE merge_src");
  return stats;
}

}  // namespace nce::results
