"""One INSERT, and the row it wrote as a dict: for creates that need nothing else.

A create whose only write is one new row needs neither the ORM's unit of work
(``session.add`` and ``flush``) nor an ORM object to answer with: ``insert`` runs
the table's INSERT through SQLAlchemy's public ``Connection.execute`` and returns
the values written, the column defaults SQLAlchemy computed (``created_at``) and
the primary key, which a schema dumps as it dumps an object. The statement goes
through the engine, so traces, statement counts and error handling see it as any
other.

``insert_alone`` runs it when the request has no transaction to join: on a pooled
connection of its own, committed at once, without opening the ORM session. On
PostgreSQL that connection is the autocommit engine's (``models/engine.py``):
psycopg would otherwise send a BEGIN before the INSERT and the commit a COMMIT
after it, three round trips where one does. A single INSERT is atomic on its own,
so autocommit changes nothing anyone sees: the row exists once the statement
returns, or not at all when it fails. SQLite has no round trips to save: its
driver wraps the INSERT in a transaction of its own, committed here.

Only Python-side column defaults are in the returned row (every model computes
its defaults in Python: ``extensions.py``).
"""

from sqlalchemy import Table

# table -> its INSERT and its primary key's names, made once (SQLAlchemy caches the
# compiled statement; building the construct and walking the key each time is not free).
_INSERTS = {}


def insert(connection, table: Table, values):
    """INSERT ``values`` into ``table`` on ``connection`` (in whatever transaction it
    has) and return the row written: the values, computed defaults and primary key."""
    prepared = _INSERTS.get(table)
    if prepared is None:
        prepared = _INSERTS[table] = (table.insert(), [column.key for column in table.primary_key])
    statement, keys = prepared
    result = connection.execute(statement, values)
    row = dict(result.last_inserted_params())
    row.update(zip(keys, result.inserted_primary_key, strict=True))
    return row


def insert_alone(engine, table: Table, values):
    """``insert`` on a pooled connection of ``engine`` (``fast_read.autocommit_engine()``),
    committed before this returns (in autocommit on PostgreSQL: one round trip)."""
    with engine.connect() as connection:
        row = insert(connection, table, values)
        connection.commit()  # SQLite's transaction; nothing is sent in autocommit
    return row
