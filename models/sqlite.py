"""How the service uses a SQLite file: its pragmas (``set_pragmas``).

Writers queue for the database through ``models/sqlite_writers.py`` where the
system has ``flock`` (every POSIX system); elsewhere (Windows) SQLite's own busy
handler orders them, as it does for any SQLite program.
"""

PRAGMAS = (
    "foreign_keys = ON",
    "journal_mode = WAL",  # readers do not wait for the writer
    "synchronous = NORMAL",  # durable at each checkpoint, safe from corruption in WAL
)  # the busy timeout is the connection's ``timeout`` (config.engine_options)


def set_pragmas(dbapi_connection, _record=None):
    """Foreign keys on, and WAL for concurrent readers (a SQLAlchemy ``connect``
    event listener)."""
    cursor = dbapi_connection.cursor()
    for pragma in PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
