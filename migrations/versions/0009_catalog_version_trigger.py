"""catalog_version: bumped by the database on every write to products

The server-side cache keys public catalog reads with the catalog version's token
(models/catalog.py). Triggers change the token in the same transaction as any
INSERT, UPDATE or DELETE on ``products`` (and TRUNCATE on PostgreSQL), whoever
writes: the ORM, a Core statement, raw SQL, a database console, another program.
The new token is 32 random hex characters, like the ones the application makes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# PostgreSQL: one bump per statement, however many rows it touches.
POSTGRESQL_UP = (
    """
    CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO catalog_version (id, token)
        VALUES (1, replace(gen_random_uuid()::text, '-', ''))
        ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER products_bump_catalog_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()
    """,
)
POSTGRESQL_DOWN = (
    "DROP TRIGGER IF EXISTS products_bump_catalog_version ON products",
    "DROP FUNCTION IF EXISTS bump_catalog_version()",
)

# SQLite has row triggers only: one bump per row written.
SQLITE_EVENTS = ("insert", "update", "delete")
SQLITE_UP = tuple(  # three fixed event names, no input
    f"""
    CREATE TRIGGER products_bump_catalog_version_{event}
    AFTER {event.upper()} ON products
    BEGIN
        INSERT INTO catalog_version (id, token) VALUES (1, lower(hex(randomblob(16))))
        ON CONFLICT (id) DO UPDATE SET token = excluded.token;
    END
    """  # noqa: S608
    for event in SQLITE_EVENTS
)
SQLITE_DOWN = tuple(
    f"DROP TRIGGER IF EXISTS products_bump_catalog_version_{event}" for event in SQLITE_EVENTS
)


def _statements(up):
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        return POSTGRESQL_UP if up else POSTGRESQL_DOWN
    if dialect == "sqlite":
        return SQLITE_UP if up else SQLITE_DOWN
    raise NotImplementedError(f"no catalog version trigger for {dialect}")


def upgrade():
    for statement in _statements(up=True):
        op.execute(statement)


def downgrade():
    for statement in _statements(up=False):
        op.execute(statement)
