-- A result database as nce wrote it at schema version 1, built by hand for the migration test
-- (tests/results/schema_test.cpp): two runs, three epochs, four candidates.
CREATE TABLE runs (
  id          INTEGER PRIMARY KEY,
  method      TEXT NOT NULL,
  model       TEXT,
  dataset     TEXT,
  bits        INTEGER,
  hw          TEXT,
  status      TEXT NOT NULL DEFAULT 'running',
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  final_top1  REAL,
  config      TEXT NOT NULL DEFAULT '{}',
  git_commit  TEXT,
  seed        INTEGER
);
CREATE TABLE epochs (
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch   INTEGER NOT NULL,
  phase   TEXT NOT NULL,
  loss    REAL,
  top1    REAL,
  seconds REAL,
  PRIMARY KEY (run_id, epoch, phase)
);
CREATE TABLE candidates (
  id             INTEGER PRIMARY KEY,
  run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch          INTEGER,
  phase          TEXT,
  widths         TEXT NOT NULL,
  macs           INTEGER,
  params         INTEGER,
  latency_cycles INTEGER,
  energy_pj      REAL,
  top1           REAL
);
CREATE INDEX candidates_run ON candidates(run_id);
CREATE VIEW v_candidates AS
  SELECT c.run_id, r.method, r.model, r.dataset, r.bits, r.hw, c.epoch, c.phase, c.widths,
         c.macs, c.params, c.latency_cycles, c.energy_pj, c.top1
  FROM candidates c JOIN runs r ON r.id = c.run_id;
CREATE VIEW v_runs AS
  SELECT id AS run_id, method, model, dataset, bits, hw, status, started_at, finished_at,
         final_top1, config
  FROM runs;

INSERT INTO runs VALUES (1, 'nce', 'resnet20', 'cifar10', 2, 'mid-32x32-os-2b', 'finished',
  '2026-01-02T03:04:05.000Z', '2026-01-02T05:04:05.000Z', 91.54, '{"threshold":0.3}', 'abc123def456', 7);
INSERT INTO runs VALUES (2, 'wrpn', 'resnet20', 'cifar10', 2, NULL, 'running',
  '2026-01-03T00:00:00.000Z', NULL, NULL, '{"multiplier":1.5}', 'abc123def456', NULL);
INSERT INTO epochs VALUES (1, 0, 'warmup', 2.31, 10.5, 12.0);
INSERT INTO epochs VALUES (1, 1, 'search', 1.20, 55.25, 13.5);
INSERT INTO epochs VALUES (2, 0, 'train', 1.90, 30.0, 11.0);
INSERT INTO candidates VALUES (1, 1, 1, 'search', '[3,16,6,4,4,4,4,4,32,32,12,19,32,28,64,64,64,64,64,44]',
  22444472, 150000, 123456, 7890.5, NULL);
INSERT INTO candidates VALUES (2, 1, 2, 'final', '[3,16,16,16,16,16,16,16,32,32,32,32,32,32,64,64,64,64,64,64]',
  40813184, 272282, 234567, 12345.25, 91.54);
INSERT INTO candidates VALUES (3, 2, NULL, 'final', '[3,24,24,24,24,24,24,24,48,48,48,48,48,48,96,96,96,96,96,96]',
  91000000, 610000, NULL, NULL, 91.9);
INSERT INTO candidates VALUES (4, 2, NULL, 'final', '[3,32,32]', 5, 6, 7, 8.0, 9.0);
PRAGMA user_version = 1;
