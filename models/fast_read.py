"""One-row reads on a Connection of their own, for the queries nearly every request makes.

Every cached catalog read first reads the catalog version (``models/catalog.py``),
and every authenticated request looks its token up (``auth/access.py``). Through
the ORM session each costs about twice what the same statement costs on a
``Connection`` of its own (the session's transaction, its state, an ORM result):
measured 70 to 80 µs against 35 µs per read on SQLite (bench/README.md). The
statement goes through SQLAlchemy's public ``Connection.execute``, so its
compiled form is cached, its values are processed as usual (aware datetimes,
booleans on SQLite), every engine event sees it (traces, query counts) and a
driver error is SQLAlchemy's (without parameters; a lost connection is
invalidated). Compiling the statement once by hand and running it with
``exec_driver_sql`` measured no faster, and a raw pooled DBAPI connection (20 µs
less) needs SQLAlchemy's private parts to keep those promises.

On PostgreSQL the read runs in autocommit, on the engine whose connections
are always in it (``autocommit_engine()``, ``models/engine.py``): a single SELECT
needs no transaction around it, and psycopg would otherwise send a BEGIN before
it and the pool a ROLLBACK after it, two of the three round trips the read
costs. Only a SELECT of one statement runs here, so autocommit changes nothing
it sees: under READ COMMITTED every statement sees the latest commit anyway,
also what a query through the session would have seen. SQLite's driver begins
no transaction for a SELECT, so there the session's engine serves.

The pool does not ping a connection before handing it out (``models/engine.engine_options``):
a connection that died while pooled (a restarted PostgreSQL or PgBouncer) is
found by the first statement sent on it. These reads are nearly every request's
first statement, and they are safe to repeat, so a read whose connection turns
out lost is run once more on a new one. SQLAlchemy has by then marked every
connection the pool held before the loss as to be replaced, and the session's
engine has lost its pool too (``models/engine.configure`` disposes of the other
engine's pool on a lost connection), so the request's session also gets a live
one and the restart costs no request an error.
"""

from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from extensions import db
from models.engine import AUTOCOMMIT


def autocommit_engine():
    """The engine for statements that each stand alone: the autocommit engine of a
    server database (``db.engines[AUTOCOMMIT]``), the session's engine on SQLite."""
    engines = db.engines
    return engines.get(AUTOCOMMIT) or engines[None]


class FastRead:
    """``FastRead(select(...)).first(engine, **params)``: the first row, or ``None``;
    ``engine`` is ``autocommit_engine()`` but where a test brings its own."""

    def __init__(self, statement):
        self.statement = statement

    def first(self, engine, **params):
        """The first row as a tuple of processed values, or ``None``."""
        try:
            return self._first(engine, params)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        return self._first(engine, params)  # on a new connection: the old one was lost

    def _first(self, engine, params):
        with engine.connect() as connection:
            row = connection.execute(self.statement, params).first()
        return None if row is None else tuple(row)


@contextmanager
def read_connection():
    """A pooled ``Connection`` of ``autocommit_engine()`` for SELECTs only (in
    autocommit on PostgreSQL: see above); returned to the pool when the block ends.

    For reads that need no ORM objects and no transaction of the request's own,
    such as a list's page (``plumbing/pagination.py``): no BEGIN, no ROLLBACK,
    no session. Each statement sees the latest commit, as it would in the
    session under READ COMMITTED.
    """
    with autocommit_engine().connect() as connection:
        yield connection
