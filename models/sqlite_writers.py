"""SQLite writers queue on a lock file: one writer at a time (POSIX only: ``flock``).

SQLite lets one connection write at a time. A second writer is told "busy" and
SQLite's busy handler retries it after sleeps of 1, 2, 5, 10 ms and more, so
with several processes writing (gunicorn workers, the CLI) most of a contended
write's time is spent sleeping or retrying: measured with two processes sending
feedback, 1.4 ms of CPU and 1.9 ms per write, against 0.9 ms and 1.0 ms when
the writers queue instead (``bench/README.md``).

``WriterQueueConnection`` makes them queue: before a connection's first write
statement of a transaction it takes an exclusive ``flock`` on a lock file beside
the database (``<database>-writers``), and it lets go once that transaction is
committed or rolled back, or the connection closed. A waiting writer polls the
lock at intervals of 50 µs growing to 1 ms, so it starts within a fraction of a
millisecond of the previous writer's commit. SQLite's own locking still decides
what is safe; the queue only orders the writers that use it:

- Readers never take it (WAL lets them read while one connection writes).
- ``flock`` locks belong to an open file, so threads of one process queue too,
  and a process that dies lets go of its lock with it.
- A thread that already holds the lock through another connection (a session's
  ``last_used_at`` written on a connection of its own while the request's
  transaction writes) does not wait for itself: that write goes to SQLite's
  busy handler, as every write did before.
- A writer that waits longer than the connection's busy timeout stops waiting
  and goes ahead without the lock (SQLite then answers "database is locked"
  after its own timeout if the holder is still writing), so a transaction left
  open can slow writers down but never hang them.

Only a database in a file gets a lock file; an in-memory one has one connection.
This module imports ``fcntl``, so only a POSIX system imports it
(``models/sqlite.py``); the app itself imports on Windows too.
"""

import fcntl
import os
import sqlite3
import threading
import time

_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_FIRST_POLL, _LONGEST_POLL = 0.00005, 0.001  # seconds


class _Held(threading.local):
    connection = None  # the connection through which this thread holds the lock


_held = _Held()


def is_write(statement):
    return statement.lstrip()[:7].upper().startswith(_WRITE_VERBS)


class WriterQueueCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=()):
        if is_write(sql):
            self.connection.queue_for_write()
        return super().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        if is_write(sql):
            self.connection.queue_for_write()
        return super().executemany(sql, seq_of_parameters)


class WriterQueueConnection(sqlite3.Connection):
    """A ``sqlite3`` connection whose writers queue on a lock file; pass it as
    ``sqlite3.connect(..., factory=WriterQueueConnection)``."""

    def __init__(self, database, *args, timeout=5.0, **kwargs):
        super().__init__(database, *args, timeout=timeout, **kwargs)
        self._wait_limit = timeout
        self._lock_file = None
        self._holding = False
        path = os.fspath(database) if not isinstance(database, bytes) else database.decode()
        if path and path != ":memory:" and not path.startswith("file:"):
            self._lock_file = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)

    def cursor(self, factory=WriterQueueCursor):
        return super().cursor(factory)

    def execute(self, sql, parameters=()):
        return self.cursor().execute(sql, parameters)

    def queue_for_write(self):
        """Wait for the lock (at most the busy timeout) unless this connection or
        this thread already holds it."""
        if self._lock_file is None or self._holding or _held.connection is not None:
            return
        deadline = time.monotonic() + self._wait_limit
        pause = _FIRST_POLL
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # go ahead; SQLite's own lock decides
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_POLL)
                continue
            self._holding = True
            _held.connection = self
            return

    def _release(self):
        if self._holding:
            self._holding = False
            if _held.connection is self:
                _held.connection = None
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def commit(self):
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._release()

    def close(self):
        try:
            super().close()
        finally:
            self._release()
            self._close_lock_file()

    def __del__(self):  # dropped without close(): closing the file lets go of its lock
        self._close_lock_file()

    def _close_lock_file(self):
        if getattr(self, "_lock_file", None) is not None:
            os.close(self._lock_file)
            self._lock_file = None
