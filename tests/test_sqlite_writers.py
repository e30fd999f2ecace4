"""SQLite writers queue on a lock file (models/sqlite.py): ordered, never hung."""

import sqlite3
import threading

import pytest

from app import create_app
from extensions import db
from models.sqlite import WriterQueueConnection, set_pragmas
from tests.helpers import SECRET_KEY


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "queue.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode = WAL")
    setup.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    setup.commit()
    setup.close()
    return path


def connect(path, timeout=5.0):
    connection = sqlite3.connect(
        path, timeout=timeout, factory=WriterQueueConnection, check_same_thread=False
    )
    set_pragmas(connection)
    return connection


def notes(path):
    reader = sqlite3.connect(path)
    try:
        return sorted(text for (text,) in reader.execute("SELECT text FROM notes"))
    finally:
        reader.close()


def write_in_thread(path, text, events):
    """Start a thread that inserts ``text`` and commits; it notes when its insert ran."""

    def run():
        connection = connect(path)
        try:
            connection.execute("INSERT INTO notes (text) VALUES (?)", (text,))
            events.append(f"{text} inserted")
            connection.commit()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_second_writer_waits_until_the_first_transaction_ends(database, end):
    first = connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('first')")
    events = []
    second = write_in_thread(database, "second", events)
    second.join(timeout=0.3)
    assert second.is_alive() and events == []  # queued behind the open transaction

    events.append(f"first {end}")
    getattr(first, end)()
    second.join(timeout=10)

    assert not second.is_alive()
    assert events == [f"first {end}", "second inserted"]
    expected = ["first", "second"] if end == "commit" else ["second"]
    assert notes(database) == expected
    if end != "close":
        first.close()


def test_readers_do_not_queue_behind_a_writer(database):
    writer = connect(database)
    writer.execute("INSERT INTO notes (text) VALUES ('pending')")
    reader = connect(database)
    assert reader.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    reader.close()
    writer.commit()
    writer.close()


def test_a_thread_already_holding_the_lock_does_not_wait_for_itself(database):
    """A second connection of the same thread writing while the first holds the
    lock meets SQLite's own busy timeout, as without the queue: no hang."""
    first = connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('first')")
    other = connect(database, timeout=0.2)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("INSERT INTO notes (text) VALUES ('other')")
    other.close()
    first.commit()
    first.close()
    assert notes(database) == ["first"]


def test_a_writer_stops_waiting_after_its_busy_timeout(database):
    """A transaction left open slows the next writer down to its timeout, then
    SQLite answers "database is locked": it never hangs."""
    holder = connect(database)
    holder.execute("INSERT INTO notes (text) VALUES ('held')")
    outcome = []

    def impatient():
        connection = connect(database, timeout=0.3)
        try:
            connection.execute("INSERT INTO notes (text) VALUES ('late')")
        except sqlite3.OperationalError as error:
            outcome.append(str(error))
        finally:
            connection.close()

    thread = threading.Thread(target=impatient)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert outcome == ["database is locked"]
    holder.commit()
    holder.close()
    assert notes(database) == ["held"]


def test_many_writers_all_land(database):
    events = []
    threads = [write_in_thread(database, f"note {n:02}", events) for n in range(20)]
    for thread in threads:
        thread.join(timeout=30)
    assert notes(database) == [f"note {n:02}" for n in range(20)]


def test_the_lock_file_sits_beside_a_file_database_only(tmp_path):
    connect(tmp_path / "file.db").close()
    assert (tmp_path / "file.db-writers").exists()
    memory = sqlite3.connect(":memory:", factory=WriterQueueConnection)
    memory.execute("CREATE TABLE t (x)")
    memory.execute("INSERT INTO t VALUES (1)")
    memory.commit()
    memory.close()


def test_the_service_queues_its_writers(tmp_path):
    """The app's connections to a SQLite file are writer-queue connections."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/service.db", "SECRET_KEY": SECRET_KEY})
    with app.app_context(), db.engine.connect() as connection:
        assert isinstance(connection.connection.dbapi_connection, WriterQueueConnection)
    assert (tmp_path / "service.db-writers").exists()
