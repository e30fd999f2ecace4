"""products: a trigram index for q (name contains, any case) on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

``GET /api/products?q=`` is ``name ILIKE '%term%'``, which no B-tree can serve:
without this index every search reads the whole table. pg_trgm's GIN index
serves ILIKE for terms of 3 characters or more (shorter ones still scan, and
stay correct). ``pg_trgm`` is a trusted extension (PostgreSQL 13+): the
database's owner may create it without being a superuser. SQLite gets nothing
here (docs/performance.md says why).
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_products_name_trgm",
        "products",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade():
    if op.get_context().dialect.name != "postgresql":
        return
    # The extension stays: other objects of the database may use it.
    op.drop_index("ix_products_name_trgm", table_name="products")
