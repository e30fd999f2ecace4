"""PostgreSQL databases a tool makes for itself, marked so that it drops only those.

The test suite (``tests/conftest.py``) and the stack (``deploy/stack.py``) each
work in a database of their own, on a server that may hold someone's data. Each
marks the database it creates with a comment naming the tool, and drops a
database only when its comment is that tool's marker: never one it did not create.
"""

from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_MARKER_OF = text(
    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"
)


def server_engine(url):
    """An AUTOCOMMIT engine on the server of ``url``, through its maintenance database
    (``CREATE DATABASE`` and ``DROP DATABASE`` run outside a transaction)."""
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


@contextmanager
def _server_connection(url):
    """A connection of ``server_engine(url)``; the engine is disposed of afterwards."""
    engine = server_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def create_marked(url, name, marker):
    """Create the database ``name`` beside the one ``url`` names, marked with
    ``marker``; return its URL (with the password, for the tool's own use)."""
    base = make_url(url)
    with _server_connection(base) as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        quoted = connection.exec_driver_sql("SELECT quote_literal(%s)", (marker,)).scalar()
        connection.execute(text(f'COMMENT ON DATABASE "{name}" IS {quoted}'))
    return base.set(database=name).render_as_string(hide_password=False)


def marker_of(url):
    """The marker (comment) of the database ``url`` names; ``None`` when it has none."""
    with _server_connection(url) as connection:
        return connection.scalar(_MARKER_OF, {"name": make_url(url).database})


def drop_marked(url, marker):
    """Drop the database ``url`` names if it carries ``marker``; whether it was dropped."""
    name = make_url(url).database
    with _server_connection(url) as connection:
        if connection.scalar(_MARKER_OF, {"name": name}) != marker:
            return False
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        return True
