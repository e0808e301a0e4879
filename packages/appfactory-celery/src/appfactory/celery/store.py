"""The embedded store: one SQLite database (WAL mode) holding task messages and results.

Used by the embedded broker (:mod:`appfactory.celery.embedded`) and its result
backend (:mod:`appfactory.celery.embedded_results`). The database lives in
a private folder (0o700) of the instance folder, in a file of mode 0o600
(SQLite gives its ``-wal`` and ``-shm`` files the mode of the database).

A message fetched by a worker is leased, not removed: the row records the
lease's end and the process holding it (host, PID, start time of the
process), and is deleted when the worker acknowledges it. A lease whose time
ran out, or whose process is gone from this machine, is taken back
(:meth:`Store.reclaim`), so a killed worker loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import typing as t

from .storepaths import (
    SCHEME,
    STORE_NAME,
    StoreError,
    create,
    explain,
    make_private_folder,
    path_from_url,
    process_alive,
    process_start,
    this_host,
    url_for,
)

logger = logging.getLogger(__name__)

#: Bytes of write-ahead log kept after a checkpoint.
WAL_LIMIT = 4 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0,
    lease TEXT,
    lease_until REAL,
    owner_host TEXT,
    owner_pid INTEGER,
    owner_start INTEGER
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, lease, id);
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    payload BLOB,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires REAL
);
CREATE INDEX IF NOT EXISTS results_expires ON results (expires);
CREATE TABLE IF NOT EXISTS consumers (
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    start INTEGER NOT NULL,
    PRIMARY KEY (host, pid, start)
);
"""

__all__ = [
    "SCHEME",
    "STORE_NAME",
    "Store",
    "StoreError",
    "make_private_folder",
    "owner",
    "path_from_url",
    "process_alive",
    "process_start",
    "this_host",
    "url_for",
]


class Store:
    """A connection to the store at ``path`` (shared by the threads of one process)."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.pid = os.getpid()
        try:
            existed = os.path.exists(path)
            create(path)
            self.inode = os.stat(path).st_ino
            self.timeout = timeout
            self.db = self._connect()
            if not existed or not self._has_schema():
                self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise explain(path, exc) from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        # Safe against a killed process (what this store is for); a power cut
        # may lose the last transactions, as with Redis's default settings.
        db.execute("PRAGMA synchronous=NORMAL")
        # The write-ahead log is cut back to this size after each checkpoint.
        db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        return db

    def _after_fork(self) -> None:
        """A forked child opens its own connection (SQLite's must not cross a fork)."""
        if os.getpid() != self.pid:
            self.pid = os.getpid()
            self.lock = threading.RLock()
            self.db = self._connect()

    def _has_schema(self) -> bool:
        row = self.db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
            "('messages', 'set_aside', 'results')"
        ).fetchone()
        return bool(row[0] == 3)

    def replaced(self) -> bool:
        """Whether the store file was deleted or replaced since this connection opened it."""
        try:
            return os.stat(self.path).st_ino != self.inode
        except OSError:
            return True

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    @contextlib.contextmanager
    def write(self) -> t.Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); errors become :class:`StoreError`."""
        self._after_fork()
        with self.lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                raise explain(self.path, exc) from exc

    def read(self, sql: str, params: t.Sequence[t.Any] = ()) -> list[t.Any]:
        self._after_fork()
        with self.lock:
            try:
                return self.db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise explain(self.path, exc) from exc

    # -- messages ------------------------------------------------------------------------

    def put(self, queue: str, payload: str) -> None:
        with self.write() as db:
            db.execute("INSERT INTO messages (queue, payload) VALUES (?, ?)", (queue, payload))

    def lease(
        self, queue: str, seconds: float, owner: tuple[str, int, int]
    ) -> tuple[int, str, str, int] | None:
        """Lease the oldest ready message of ``queue``: ``(id, lease, payload, deliveries)``."""
        token = os.urandom(6).hex()
        with self.write() as db:
            row = db.execute(
                "UPDATE messages SET lease = ?, lease_until = ?, owner_host = ?, "
                "owner_pid = ?, owner_start = ?, deliveries = deliveries + 1 WHERE id = "
                "(SELECT id FROM messages WHERE queue = ? AND lease IS NULL ORDER BY id LIMIT 1) "
                "RETURNING id, payload, deliveries",
                (token, time.time() + seconds, *owner, queue),
            ).fetchone()
        if row is None:
            return None
        return int(row[0]), token, row[1], int(row[2])

    def has_ready(self, queues: t.Sequence[str]) -> bool:
        marks = ",".join("?" * len(queues))
        rows = self.read(
            f"SELECT 1 FROM messages WHERE queue IN ({marks}) AND lease IS NULL LIMIT 1",
            list(queues),
        )
        return bool(rows)

    def ack(self, message_id: int, lease: str) -> None:
        with self.write() as db:
            db.execute("DELETE FROM messages WHERE id = ? AND lease = ?", (message_id, lease))

    def release(self, message_id: int, lease: str) -> None:
        """Give a leased message back to its queue, as it was (it keeps its place)."""
        with self.write() as db:
            db.execute(
                "UPDATE messages SET lease = NULL, lease_until = NULL, owner_host = NULL, "
                "owner_pid = NULL, owner_start = NULL WHERE id = ? AND lease = ?",
                (message_id, lease),
            )

    def set_aside(self, message_id: int, reason: str) -> None:
        """Move a message no worker can read out of its queue, into ``set_aside``."""
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO set_aside (id, queue, payload, reason, at) "
                "SELECT id, queue, payload, ?, ? FROM messages WHERE id = ?",
                (reason, time.time(), message_id),
            )
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def renew(self, leases: t.Sequence[tuple[int, str]], seconds: float) -> None:
        """Extend ``leases`` (``(id, lease)`` pairs): a live worker keeps what it holds."""
        if not leases:
            return
        until = time.time() + seconds
        with self.write() as db:
            db.executemany(
                "UPDATE messages SET lease_until = ? WHERE id = ? AND lease = ?",
                [(until, message_id, lease) for message_id, lease in leases],
            )

    def checkpoint(self) -> None:
        """Cut the write-ahead log back when it outgrew its limit.

        SQLite's own checkpoints cannot restart the log while readers use it,
        and a busy store always has some (every idle worker reads every few
        milliseconds): this one waits for them, briefly, then truncates.
        """
        try:
            size = os.stat(self.path + "-wal").st_size
        except OSError:
            return
        if size > WAL_LIMIT:
            self.read("PRAGMA wal_checkpoint(TRUNCATE)")

    def reclaim(self) -> int:
        """Give back the leases that ran out, or whose process on this machine is gone."""
        host = this_host()
        owners = self.read(
            "SELECT DISTINCT owner_pid, owner_start FROM messages "
            "WHERE lease IS NOT NULL AND owner_host = ?",
            (host,),
        )
        dead = [(pid, start) for pid, start in owners if not process_alive(pid, start)]
        count = 0
        with self.write() as db:
            for pid, start in dead:
                count += db.execute(
                    "UPDATE messages SET lease = NULL, lease_until = NULL, owner_host = NULL, "
                    "owner_pid = NULL, owner_start = NULL WHERE lease IS NOT NULL AND "
                    "owner_host = ? AND owner_pid = ? AND owner_start = ?",
                    (host, pid, start),
                ).rowcount
            count += db.execute(
                "UPDATE messages SET lease = NULL, lease_until = NULL, owner_host = NULL, "
                "owner_pid = NULL, owner_start = NULL WHERE lease IS NOT NULL AND "
                "lease_until < ?",
                (time.time(),),
            ).rowcount
        return count

    def add_consumer(self, who: tuple[str, int, int]) -> None:
        """Record that the process ``who`` (:func:`owner`) consumes from the store."""
        with self.write() as db:
            db.execute("INSERT OR IGNORE INTO consumers (host, pid, start) VALUES (?, ?, ?)", who)

    def consumers(self) -> int:
        """How many processes consume from the store: those recorded on this machine
        that still run (the others are forgotten), and any recorded on another."""
        host = this_host()
        rows = self.read("SELECT host, pid, start FROM consumers")
        gone = [row for row in rows if row[0] == host and not process_alive(row[1], row[2])]
        if gone:
            with self.write() as db:
                db.executemany(
                    "DELETE FROM consumers WHERE host = ? AND pid = ? AND start = ?", gone
                )
        return len(rows) - len(gone)

    def size(self, queue: str) -> int:
        rows = self.read("SELECT count(*) FROM messages WHERE queue = ?", (queue,))
        return int(rows[0][0])

    def purge(self, queue: str) -> int:
        with self.write() as db:
            return int(
                db.execute(
                    "DELETE FROM messages WHERE queue = ? AND lease IS NULL", (queue,)
                ).rowcount
            )

    # -- results ---------------------------------------------------------------------------

    def get_results(self, keys: t.Sequence[str]) -> dict[str, bytes]:
        marks = ",".join("?" * len(keys))
        rows = self.read(
            f"SELECT key, value FROM results WHERE key IN ({marks}) "
            "AND (expires IS NULL OR expires > ?)",
            [*keys, time.time()],
        )
        return {
            key: bytes(value) if isinstance(value, memoryview) else value for key, value in rows
        }

    def set_result(self, key: str, value: bytes | str, expires: float | None) -> None:
        until = time.time() + expires if expires else None
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO results (key, value, expires) VALUES (?, ?, ?)",
                (key, value, until),
            )

    def delete_result(self, key: str) -> None:
        with self.write() as db:
            db.execute("DELETE FROM results WHERE key = ?", (key,))

    def incr_result(self, key: str, expires: float | None) -> int:
        until = time.time() + expires if expires else None
        with self.write() as db:
            row = db.execute(
                "INSERT INTO results (key, value, expires) VALUES (?, '1', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                "RETURNING value",
                (key, until),
            ).fetchone()
        return int(row[0])

    def expire_results(self) -> int:
        with self.write() as db:
            return int(
                db.execute(
                    "DELETE FROM results WHERE expires IS NOT NULL AND expires <= ?",
                    (time.time(),),
                ).rowcount
            )


def owner() -> tuple[str, int, int]:
    """This process, as it is recorded on the leases it takes."""
    pid = os.getpid()
    return this_host(), pid, process_start(pid) or 0
