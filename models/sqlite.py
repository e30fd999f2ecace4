"""How the service uses a SQLite file, all in one place: the connection's busy
timeout, its pragmas, and the writers' queue.

Writers queue for the database through ``models/sqlite_writers.py`` where the
system has ``flock`` (every POSIX system); elsewhere (Windows) SQLite's own busy
handler orders them, as it does for any SQLite program. That module imports
``fcntl``, so it is imported here only, and only when it can be.
"""

from sqlalchemy import event

BUSY_TIMEOUT = 5  # seconds a writer waits for the database (SQLite's busy timeout)

PRAGMAS = (
    "foreign_keys = ON",
    "journal_mode = WAL",  # readers do not wait for the writer
    "synchronous = NORMAL",  # durable at each checkpoint, safe from corruption in WAL
)


def connect_args():
    """The ``sqlite3.connect`` arguments: the busy timeout, and the writers'
    queue where the system can lock files."""
    args = {"timeout": BUSY_TIMEOUT}
    try:
        from models.sqlite_writers import WriterQueueConnection
    except ImportError:  # no fcntl (Windows): SQLite's busy handler orders writers
        pass
    else:
        args["factory"] = WriterQueueConnection
    return args


def set_pragmas(dbapi_connection, _record=None):
    """Foreign keys on, and WAL for concurrent readers (a SQLAlchemy ``connect``
    event listener)."""
    cursor = dbapi_connection.cursor()
    for pragma in PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def configure(engine):
    """Set the pragmas on every new connection of ``engine``."""
    event.listen(engine, "connect", set_pragmas)
