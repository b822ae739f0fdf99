"""The study store: one SQLite database beside the run folders (WAL mode, safe with many writers).

Tables: ``jobs`` (one row per job key: status, timing, error, the resolved config and the metrics;
under Ray also ``node``, the node that ran it, and ``nodes``, every node that started it)
and ``bench`` (efficiency figures per model). Every write is one short ``BEGIN IMMEDIATE``
transaction with a busy timeout, so several processes (Ray workers, two terminals) can record at
once without losing a row.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    study TEXT,
    kind TEXT NOT NULL,
    task TEXT,
    teacher TEXT,
    student TEXT,
    method TEXT,
    seed INTEGER,
    status TEXT NOT NULL,
    out TEXT,
    config TEXT,
    metrics TEXT,
    test_headline REAL,
    params INTEGER,
    error TEXT,
    attempts INTEGER DEFAULT 0,
    node TEXT,
    nodes TEXT,
    started REAL,
    finished REAL,
    seconds REAL
);
CREATE TABLE IF NOT EXISTS bench (
    model TEXT PRIMARY KEY,
    study TEXT,
    role TEXT,
    task TEXT,
    student TEXT,
    figures TEXT,
    recorded REAL
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
"""


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.executescript(SCHEMA)
            have = {r["name"] for r in c.execute("PRAGMA table_info(jobs)")}
            for col in ("node", "nodes"):  # databases written before jobs recorded their node
                if col not in have:
                    c.execute(f"ALTER TABLE jobs ADD COLUMN {col} TEXT")

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=60000")
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._conn() as c:
            for attempt in range(20):
                try:
                    c.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:  # pragma: no cover - contention beyond busy_timeout
                    if "locked" not in str(exc) or attempt == 19:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            try:
                yield c
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ writes
    def register(self, job: Any, study: str) -> None:
        """Insert a job as pending (keeps an existing row's status)."""
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO jobs(key, study, kind, task, teacher, student, method, seed, status, out, config)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (job.key, study, job.kind, job.task, job.teacher, job.student, job.method, job.seed, "pending",
                 job.out, job.cfg.model_dump_json()))

    def mark_running(self, key: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE jobs SET status='running', started=?, attempts=attempts+1, error=NULL WHERE key=?",
                      (time.time(), key))

    def mark_node(self, key: str, node: str) -> None:
        """The node (Ray node name) that runs the job now: ``node``; every node that started it: ``nodes``."""
        with self._tx() as c:
            row = c.execute("SELECT nodes FROM jobs WHERE key=?", (key,)).fetchone()
            nodes = json.loads(row["nodes"]) if row is not None and row["nodes"] else []
            c.execute("UPDATE jobs SET node=?, nodes=? WHERE key=?", (node, json.dumps([*nodes, node]), key))

    def mark_done(self, key: str, metrics: dict[str, Any], seconds: float) -> None:
        headline = metrics.get("test_headline")
        with self._tx() as c:
            c.execute("UPDATE jobs SET status='done', metrics=?, test_headline=?, params=?, finished=?, seconds=?,"
                      " error=NULL WHERE key=?",
                      (json.dumps(metrics, default=float), headline, metrics.get("params"), time.time(), seconds, key))

    def mark_failed(self, key: str, error: str, seconds: float) -> None:
        with self._tx() as c:
            c.execute("UPDATE jobs SET status='failed', error=?, finished=?, seconds=? WHERE key=?",
                      (error[:4000], time.time(), seconds, key))

    def record_bench(self, model: str, study: str, role: str, task: str | None, student: str | None,
                     figures: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO bench(model, study, role, task, student, figures, recorded)"
                      " VALUES (?,?,?,?,?,?,?)", (model, study, role, task, student, json.dumps(figures, default=float),
                                                  time.time()))

    # ------------------------------------------------------------------ reads
    def jobs(self, *, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT * FROM jobs"
        cond, args = [], []
        if kind:
            cond.append("kind=?")
            args.append(kind)
        if status:
            cond.append("status=?")
            args.append(status)
        if cond:
            q += " WHERE " + " AND ".join(cond)
        q += " ORDER BY key"
        with self._conn() as c:
            rows = [dict(r) for r in c.execute(q, args)]
        for r in rows:
            for k in ("metrics", "config", "nodes"):
                if r.get(k):
                    r[k] = json.loads(r[k])
        return rows

    def status(self, key: str) -> str | None:
        with self._conn() as c:
            row = c.execute("SELECT status FROM jobs WHERE key=?", (key,)).fetchone()
        return row["status"] if row else None

    def bench_rows(self) -> list[dict[str, Any]]:
        with self._conn() as c:
            rows = [dict(r) for r in c.execute("SELECT * FROM bench ORDER BY model")]
        for r in rows:
            r["figures"] = json.loads(r["figures"])
        return rows

    def snapshot(self) -> list[tuple]:
        """Comparable contents (no timestamps): for resume tests and audits."""
        with self._conn() as c:
            return [tuple(r) for r in c.execute(
                "SELECT key, kind, task, teacher, student, method, seed, status, test_headline, params FROM jobs ORDER BY key")]
