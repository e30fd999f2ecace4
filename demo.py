"""Demo data for development: known accounts, a catalog and some feedback."""

import functools
import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import column, insert, select, text
from sqlalchemy import table as sa_table

from extensions import db
from models import Feedback, Product, User
from models.base import utcnow

# Development-only credentials; ``seed-demo`` refuses to run in production.
DEMO_USERS = (
    ("Ada Admin", "admin@example.com", "admin", "admin-demo-pass"),
    ("Eddie Editor", "editor@example.com", "editor", "editor-demo-pass"),
    ("Vera Viewer", "viewer@example.com", "viewer", "viewer-demo-pass"),
)

CATALOG = {
    "books": ("Notebook", "Sketchbook", "Planner", "Cookbook", "Atlas", "Journal"),
    "furniture": ("Chair", "Desk", "Shelf", "Stool", "Bench", "Cabinet"),
    "garden": ("Planter", "Trowel", "Hose", "Watering can", "Rake", "Bird feeder"),
    "kitchen": ("Kettle", "Teapot", "Mug", "Skillet", "Cutting board", "Whisk"),
    "lighting": ("Desk lamp", "Floor lamp", "Pendant", "Lantern", "Candle", "String lights"),
    "outdoor": ("Tent", "Backpack", "Hammock", "Camp stove", "Cooler", "Sleeping bag"),
    "textiles": ("Throw", "Cushion", "Rug", "Towel", "Apron", "Tablecloth"),
}
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Handmade", "Oak", "Recycled", "Travel")
DEMO_FEEDBACK = (
    ("Sam Shopper", "sam@example.com", "Found the lantern I wanted in seconds.", 5),
    ("Robin", "robin@example.com", "Search could match plurals as well.", 3),
    ("Kim", "kim@example.com", "Prices are clear and the pages load fast.", 4),
    ("Alex", "alex@example.com", "Please add more garden tools!", None),
)
BULK_BATCH = 50_000
# From this many bulk rows on, GIN indexes are rebuilt once instead of grown per row.
GIN_REBUILD_FROM = 10_000


def seed_users():
    """Create the demo accounts that do not exist yet; return the ones created."""
    created = []
    for name, email, role, password in DEMO_USERS:
        if User.by_email(email) is not None:
            continue
        user = User(name=name, email=email, role=role, is_active=True)
        user.set_password(password)
        db.session.add(user)
        created.append((email, role, password))
    db.session.commit()
    return created


def catalog_rows():
    """The demo catalog: every adjective with every item (294 products)."""
    rng = random.Random(3)  # the same catalog on every machine
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for category, items in CATALOG.items():
        for adjective, item in itertools.product(ADJECTIVES, items):
            rows.append(
                {
                    "name": f"{adjective} {item.lower()}",
                    "description": f"A {adjective.lower()} {item.lower()} from our {category}.",
                    "price": Decimal(rng.randrange(199, 49999)).scaleb(-2),
                    "category": category,
                    "created_at": start + timedelta(hours=len(rows)),
                    "updated_at": start + timedelta(hours=len(rows)),
                }
            )
    return rows


def seed_catalog():
    """Add the demo catalog unless it is there already; return how many were added."""
    rows = catalog_rows()
    if db.session.scalar(select(Product.id).where(Product.name == rows[0]["name"]).limit(1)):
        return 0
    db.session.execute(insert(Product), rows)
    db.session.commit()
    return len(rows)


def seed_feedback():
    """Add the demo feedback unless it is there already; return how many were added."""
    emails = [email for _, email, _, _ in DEMO_FEEDBACK]
    if db.session.scalar(select(Feedback.id).where(Feedback.email.in_(emails)).limit(1)):
        return 0
    db.session.add_all(
        Feedback(name=name, email=email, message=message, rating=rating)
        for name, email, message, rating in DEMO_FEEDBACK
    )
    db.session.commit()
    return len(DEMO_FEEDBACK)


def add_bulk_products(count):
    """Insert ``count`` generated products with bulk inserts (for benchmarks).

    Prices and creation times repeat on purpose, so sorted pages hold many
    equal values, as real catalogs do. Values are converted to what the
    database stores once per distinct value and sent through an untyped table,
    which makes a million rows several times faster than one conversion per row.
    """
    table = Product.__table__
    dialect = db.session.get_bind().dialect
    stored = {name: _bind_converter(table.c[name], dialect) for name in ("price", "created_at")}
    plain = sa_table("products", *(column(name) for name in _BULK_COLUMNS))
    categories = list(CATALOG)
    now = utcnow()
    updated_at = stored["created_at"](now)
    rebuilt = _drop_gin_indexes() if count >= GIN_REBUILD_FROM else []
    added = 0
    while added < count:
        size = min(BULK_BATCH, count - added)
        rows = [
            (
                f"Bulk product {number}",
                stored["price"](Decimal(number * 7919 % 100_000).scaleb(-2)),
                categories[number % len(categories)],
                stored["created_at"](now - timedelta(seconds=number // 10)),
                updated_at,
            )
            for number in range(added, added + size)
        ]
        if dialect.name == "postgresql":
            _copy_rows(rows)
        else:
            db.session.execute(
                insert(plain), [dict(zip(_BULK_COLUMNS, row, strict=True)) for row in rows]
            )
        added += size
    for definition in rebuilt:
        db.session.execute(text(definition))
    if dialect.name == "postgresql":
        # Fresh statistics: without them the planner reads a million new rows as
        # none, and search picks scans (models/search.py reads them too).
        db.session.execute(text("ANALYZE products"))
    db.session.commit()
    return added


def _copy_rows(rows):
    """``COPY products FROM STDIN`` (psycopg's copy): one statement for the batch.

    Not an executemany: that is one INSERT per row, and each fires the statement
    trigger that bumps the catalog version (migration 0009), a million updates of
    one row in one transaction, each slower than the last.
    """
    driver_connection = db.session.connection().connection.driver_connection
    columns = ", ".join(_BULK_COLUMNS)
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f"COPY products ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _drop_gin_indexes():
    """Drop the GIN indexes of ``products`` (PostgreSQL); return how to make them again.

    A GIN index (the trigram index that serves ``q``) grows row by row far more
    slowly than it is built once over the finished table: a million rows took
    most of an hour one way and under a minute the other. The drop and the
    rebuild happen in the seed's own transaction, so a failed seed keeps them.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return []
    rows = db.session.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = 'products'"
            " AND indexdef LIKE '% USING gin %'"
        )
    ).all()
    for name, _ in rows:
        db.session.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in rows]


_BULK_COLUMNS = ("name", "price", "category", "created_at", "updated_at")


def _bind_converter(table_column, dialect):
    """The column type's own conversion to the stored value, remembered per value."""
    process = table_column.type.bind_processor(dialect) or (lambda value: value)
    return functools.lru_cache(maxsize=200_000)(process)
