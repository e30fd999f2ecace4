"""SQLite writers queue on a lock file (models/sqlite_writers.py): ordered, never hung."""

import fcntl
import os
import sqlite3
import subprocess
import sys
import threading

import pytest

from app import create_app
from extensions import db
from models.sqlite import set_pragmas
from models.sqlite_writers import WriterQueueConnection
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


@pytest.fixture
def queue_is_taken(database):
    """``queue_is_taken()``: whether a writer holds the queue, as any other
    program using the lock file (another worker, the CLI) would find it."""
    probe = os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT, 0o600)

    def taken():
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False

    yield taken
    os.close(probe)


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_writer_holds_the_queue_from_its_first_write_to_its_end(database, queue_is_taken, end):
    # SQLite's own lock would order the writers of the tests above by itself;
    # this is what the queue adds: other writers wait on the lock file, not in
    # SQLite's busy handler.
    writer = connect(database)
    writer.execute("SELECT count(*) FROM notes").fetchone()
    assert not queue_is_taken()  # a read takes no place in the queue
    writer.execute("INSERT INTO notes (text) VALUES ('first')")
    assert queue_is_taken()
    writer.execute("INSERT INTO notes (text) VALUES ('second')")
    assert queue_is_taken()
    getattr(writer, end)()
    assert not queue_is_taken()
    if end != "close":
        writer.close()


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


def test_the_app_starts_and_writes_where_fcntl_does_not_exist(tmp_path):
    """As on Windows: no ``fcntl`` module; SQLite's busy handler orders the writers."""
    script = f"""
import sys
sys.modules["fcntl"] = None  # "import fcntl" now raises ImportError, as on Windows
from app import create_app
url = "sqlite:///{tmp_path}/windows.db"
app = create_app({{"DATABASE_URL": url, "SECRET_KEY": "{SECRET_KEY}"}})
from flask_migrate import upgrade
with app.app_context():
    upgrade()
client = app.test_client()
body = {{"name": "Ann", "email": "ann@example.com", "message": "Works on Windows too."}}
print(client.post("/api/feedback", json=body).status_code)
"""
    done = subprocess.run(  # noqa: S603 -- this interpreter, a script of the test's own
        [sys.executable, "-c", script],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        env={**os.environ, "FLASK_SKIP_DOTENV": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "201"
    assert not (tmp_path / "windows.db-writers").exists()  # no writer queue there
