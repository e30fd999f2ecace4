"""One-row reads on a Connection of their own, for the queries nearly every request makes.

Every cached catalog read first reads the catalog version (``models/catalog.py``),
and every authenticated request looks its token up (``web/auth.py``). Through
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

The read runs in a transaction of its own, outside the request's session; on
SQLite every SELECT sees the latest commit and on PostgreSQL (READ COMMITTED)
every statement does, so it sees what a query through the session would have
seen.
"""


class FastRead:
    """``FastRead(select(...)).first(engine, **params)``: the first row, or ``None``."""

    def __init__(self, statement):
        self.statement = statement

    def first(self, engine, **params):
        """The first row as a tuple of processed values, or ``None``."""
        with engine.connect() as connection:
            row = connection.execute(self.statement, params).first()
        return None if row is None else tuple(row)
