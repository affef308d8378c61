#include "nce/results/merge.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "nce/common/text.h"
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

// A snapshot of the input in a private temporary file, removed (with its -wal/-shm/-journal) on
// destruction. The input itself is only ever read, through a read-only connection.
class TempCopy {
 public:
  explicit TempCopy(const Database& input) {
    std::string pattern = (std::filesystem::temp_directory_path() / "nce-merge-XXXXXX").string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    if (fd < 0) throw DatabaseError(input.path() + ": cannot create a temporary copy to merge");
    ::close(fd);
    path_ = name.data();
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> dest(raw, sqlite3_close);
    if (rc == SQLITE_OK) {
      // One backup step copies every page from one read snapshot of the input.
      sqlite3_backup* backup = sqlite3_backup_init(dest.get(), "main", input.handle(), "main");
      if (backup == nullptr) {
        rc = sqlite3_errcode(dest.get());
      } else {
        rc = sqlite3_backup_step(backup, -1);
        const int finish = sqlite3_backup_finish(backup);
        if (rc == SQLITE_DONE) rc = finish;
      }
    }
    if (rc != SQLITE_OK) {
      const std::string detail = sqlite3_errstr(rc);
      dest.reset();
      remove_files();
      throw DatabaseError(input.path() + ": cannot copy it to merge: " + detail, rc);
    }
  }
  TempCopy(const TempCopy&) = delete;
  TempCopy& operator=(const TempCopy&) = delete;
  ~TempCopy() { remove_files(); }
  const std::string& path() const { return path_; }

 private:
  void remove_files() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::remove((path_ + suffix).c_str());
    }
  }
  std::string path_;
};

// Every value of the rows `sql` returns, as one text (NULL distinct from '').
std::string rows_text(const Database& db, const std::string& sql, std::int64_t run_id) {
  auto stmt = db.prepare(sql);
  stmt.bind(1, run_id);
  std::string text;
  while (stmt.step()) {
    for (int i = 0; i < stmt.column_count(); ++i) {
      text += stmt.is_null(i) ? std::string("\x01N") : "\x01" + stmt.column_text(i);
    }
    text += '\x02';
  }
  return text;
}

// Schema v1 had no run uuid; migrating a copy gives each of its runs a random one, so two copies
// of one old database would merge twice. Runs of a v1 input get a uuid derived from their content
// instead (id, every column, candidates and epochs): copies of one run agree, other runs differ.
void give_v1_runs_content_keys(Database& copy) {
  std::vector<std::int64_t> ids;
  {
    auto list = copy.prepare("SELECT id FROM runs ORDER BY id");
    while (list.step()) ids.push_back(list.column_int(0));
  }
  copy.write_transaction([&] {
    auto update = copy.prepare("UPDATE runs SET uuid = ? WHERE id = ?");
    for (std::int64_t id : ids) {
      const std::string content =
          rows_text(copy,
                    "SELECT id, method, model, dataset, bits, hw, status, started_at, finished_at, "
                    "final_top1, config, git_commit, seed FROM runs WHERE id = ?",
                    id) +
          rows_text(copy,
                    "SELECT epoch, phase, widths, macs, params, latency_cycles, energy_pj, top1 "
                    "FROM candidates WHERE run_id = ? ORDER BY id",
                    id) +
          rows_text(copy,
                    "SELECT epoch, phase, loss, top1, seconds FROM epochs WHERE run_id = ? "
                    "ORDER BY epoch, phase",
                    id);
      update.reset();
      update.bind(1, common::text_fingerprint(content)).bind(2, id);
      update.run();
    }
  });
}

// The input opened read-only (checked like any open: a newer, corrupt or non-SQLite file is
// refused) and copied; an older schema is migrated in the copy, never in the input.
std::unique_ptr<TempCopy> migrated_copy(const std::string& input_path) {
  std::unique_ptr<TempCopy> copy;
  int input_version = 0;
  {
    OpenOptions ro;
    ro.mode = OpenMode::kReadOnly;
    Database input(input_path, ro);
    input_version = input.schema_version();
    copy = std::make_unique<TempCopy>(input);
  }
  OpenOptions quiet;
  quiet.quick_check_max_bytes = 0;  // the input passed its check
  Database migrated(copy->path(), quiet);
  if (input_version < 2) give_v1_runs_content_keys(migrated);
  // Leave one self-contained file for ATTACH (no -wal to consult).
  migrated.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return copy;
}

// A run of the attached input (merge_src): its id, uuid, status and rows (candidates + epochs).
struct SourceRun {
  std::int64_t id;
  std::string uuid, status;
  std::int64_t rows;
};

std::vector<SourceRun> source_runs(const Database& out) {
  std::vector<SourceRun> runs;
  auto list = out.prepare(
      "SELECT r.id, r.uuid, r.status, (SELECT count(*) FROM merge_src.candidates c WHERE "
      "c.run_id = r.id) + (SELECT count(*) FROM merge_src.epochs e WHERE e.run_id = r.id) "
      "FROM merge_src.runs r ORDER BY r.id");
  while (list.step()) {
    runs.push_back(
        {list.column_int(0), list.column_text(1), list.column_text(2), list.column_int(3)});
  }
  return runs;
}

// "col = (SELECT col FROM merge_src.runs WHERE id = ?1), ..." for every column of runs but id.
std::string run_assignments(const Database& out) {
  std::string assignments;
  auto info = out.prepare("SELECT name FROM pragma_table_info('runs') WHERE name <> 'id'");
  while (info.step()) {
    const std::string name = info.column_text(0);
    if (!assignments.empty()) assignments += ", ";
    assignments += name + " = (SELECT " + name + " FROM merge_src.runs WHERE id = ?1)";
  }
  return assignments;
}

// Each run of the input into the output, by uuid: added when new, its row replaced (and its
// candidates and epochs dropped) when the output's is an older snapshot of an unfinished run,
// skipped otherwise. Fills merge_run_map (input id -> output id) with the runs whose rows are
// to be copied.
void merge_runs(Database& out, MergeStats& stats) {
  const std::string run_columns = column_list(out, "runs", "id");
  auto existing = out.prepare(
      "SELECT r.id, r.status, (SELECT count(*) FROM main.candidates c WHERE c.run_id = r.id) "
      "+ (SELECT count(*) FROM main.epochs e WHERE e.run_id = r.id) FROM main.runs r WHERE "
      "r.uuid = ?");
  auto copy_run = out.prepare("INSERT INTO main.runs (" + run_columns + ") SELECT " + run_columns +
                              " FROM merge_src.runs WHERE id = ?");
  auto update_run = out.prepare("UPDATE main.runs SET " + run_assignments(out) + " WHERE id = ?2");
  auto drop_candidates = out.prepare("DELETE FROM main.candidates WHERE run_id = ?");
  auto drop_epochs = out.prepare("DELETE FROM main.epochs WHERE run_id = ?");
  auto map = out.prepare("INSERT INTO merge_run_map (old_id, new_id) VALUES (?, ?)");
  for (const SourceRun& src : source_runs(out)) {
    existing.reset();
    existing.bind(1, src.uuid);
    std::int64_t target = 0;
    if (existing.step()) {
      const std::int64_t id = existing.column_int(0);
      const std::string status = existing.column_text(1);
      const std::int64_t rows = existing.column_int(2);
      // The output holds a snapshot of a run that had not finished (still being written, or
      // interrupted and resumed since): the input's is newer when its status differs, or when it
      // has more rows so far.
      const bool newer = status != "finished" && (src.status != status || src.rows > rows);
      if (!newer) {
        ++stats.runs_skipped;
        continue;
      }
      update_run.reset();
      update_run.bind(1, src.id).bind(2, id);
      update_run.run();
      for (Statement* drop : {&drop_candidates, &drop_epochs}) {
        drop->reset();
        drop->bind(1, id);
        drop->run();
      }
      target = id;
      ++stats.runs_updated;
    } else {
      copy_run.reset();
      copy_run.bind(1, src.id);
      copy_run.run();
      target = out.last_insert_rowid();
      ++stats.runs_added;
    }
    map.reset();
    map.bind(1, src.id).bind(2, target);
    map.run();
  }
}

// The mapped runs' candidates and epochs (with their new run ids), and the hardware configs and
// cost cache entries the output lacks.
void copy_rows(Database& out, MergeStats& stats) {
  const std::string candidate_columns = column_list(out, "candidates", "id");
  std::string select_candidates = column_list(out, "candidates", "id", "c.");
  select_candidates.replace(select_candidates.find("c.run_id"), 8, "m.new_id");
  out.exec("INSERT INTO main.candidates (" + candidate_columns + ") SELECT " + select_candidates +
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
  out.exec("INSERT OR IGNORE INTO main.cost_cache (" + cache_columns + ") SELECT " + cache_columns +
           " FROM merge_src.cost_cache");
  stats.cost_entries_added = changes(out);
}

}  // namespace

MergeStats merge_database(Database& out, const std::string& input_path) {
  if (same_file(out.path(), input_path)) {
    throw DatabaseError(input_path + ": cannot merge a database into itself");
  }
  const std::unique_ptr<TempCopy> copy = migrated_copy(input_path);
  auto attach = out.prepare("ATTACH DATABASE ? AS merge_src");
  attach.bind(1, copy->path());
  attach.run();
  MergeStats stats;
  try {
    out.write_transaction([&] {
      stats = MergeStats{};
      out.exec(
          "CREATE TEMP TABLE IF NOT EXISTS merge_run_map (old_id INTEGER PRIMARY KEY, new_id "
          "INTEGER NOT NULL); DELETE FROM merge_run_map;");
      merge_runs(out, stats);
      copy_rows(out, stats);
    });
  } catch (...) {
    sqlite3_exec(out.handle(), "DETACH DATABASE merge_src", nullptr, nullptr, nullptr);
    throw;
  }
  out.exec("DETACH DATABASE merge_src");
  return stats;
}

}  // namespace nce::results
