"""The product catalog."""

from decimal import Decimal

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

from .base import Money, TimestampMixin, only_on


class Product(TimestampMixin, db.Model):
    __tablename__ = "products"
    # Each list filter and sort has an index ending in id: keyset pages seek on
    # (column, id), so a deep page reads no more rows than the first.
    __table_args__ = (
        Index("ix_products_category_id", "category", "id"),
        Index("ix_products_name_id", "name", "id"),
        Index("ix_products_price_id", "price", "id"),
        Index("ix_products_created_at_id", "created_at", "id"),
        # ``q`` (name contains, any case) on PostgreSQL: a trigram index serves
        # ILIKE '%...%' for terms of 3 characters or more (migration 0008 creates
        # the pg_trgm extension). SQLite has no such index: docs/performance.md says why.
        only_on(
            "postgresql",
            Index(
                "ix_products_name_trgm",
                "name",
                postgresql_using="gin",
                postgresql_ops={"name": "gin_trgm_ops"},
            ),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    category: Mapped[str] = mapped_column(String(50), nullable=False)


# What ``order_by`` may name in the product list, and the column each sorts on.
PRODUCT_ORDER = {
    "id": Product.id,
    "name": Product.name,
    "price": Product.price,
    "created_at": Product.created_at,
}
