"""The catalog version: one row whose token changes with every write to products.

The server-side cache of public reads (``features/server_cache.py``) puts the token in
its keys, so a write makes every cached catalog answer unreachable at once, for
every process and instance that reads this database. The token changes in the
same transaction as the write, so it commits or rolls back with it: once a write
is answered, no reader can see the old token any more.

The database itself changes the token: triggers on ``products`` (migration
0009) bump it on every INSERT, UPDATE or DELETE, so no write path can forget it:
the ORM, a Core statement, raw SQL typed into a database console, or another
program. ``flask --app app bump-catalog-version`` still lets an operator drop
every cached catalog answer at once (after changing data the catalog answers
depend on elsewhere, or to be sure).
"""

import secrets

from sqlalchemy import Integer, String, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

from .fast_read import FastRead

CATALOG_ROW = 1


class CatalogVersion(db.Model):
    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), nullable=False)


_table = CatalogVersion.__table__
_CURRENT_TOKEN = FastRead(select(_table.c.token).where(_table.c.id == CATALOG_ROW))
_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def current_token(engine):
    """The catalog's token, or ``None`` when the row is missing (an emptied database).

    Read on every cached request, so it takes the shortest way the database
    allows (``models/fast_read.py``): no ORM session, which the request does not
    need when the answer comes from the cache.
    """
    row = _CURRENT_TOKEN.first(engine)
    return row[0] if row else None


# The token as a column expression: ``paginate``'s ``version`` for product lists,
# which reads it in the same statement as a page's rows (NULL without the row).
CATALOG_TOKEN = select(_table.c.token).where(_table.c.id == CATALOG_ROW).scalar_subquery()


def new_token():
    """A token never used before, so no old cache entry can ever match it again
    (not even after a database is restored from a backup)."""
    return secrets.token_hex(16)


def bump_catalog_version(connection):
    """Give the catalog a new token, in ``connection``'s transaction."""
    token = new_token()
    changed = connection.execute(
        update(_table).where(_table.c.id == CATALOG_ROW).values(token=token)
    ).rowcount
    if changed:
        return
    # The row is missing (a fresh or emptied database): create it, or update
    # it if a concurrent writer created it first.
    insert = _INSERT.get(connection.dialect.name)
    if insert is None:
        connection.execute(_table.insert().values(id=CATALOG_ROW, token=token))
        return
    connection.execute(
        insert(_table)
        .values(id=CATALOG_ROW, token=token)
        .on_conflict_do_update(index_elements=[_table.c.id], set_={"token": token})
    )
