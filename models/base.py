"""Column types and mixins shared by every model."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow():
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC that always comes back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones and returns naive
    values, which are UTC by construction because every write goes through here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


CENT = Decimal("0.01")


class Money(TypeDecorator):
    """An amount with two decimal places, exact on every database.

    PostgreSQL keeps ``NUMERIC(12, 2)``. SQLite has no exact decimal type (its
    NUMERIC holds floats), so there the column holds whole cents as integers;
    comparisons and ordering work the same because every bound value comes
    through here too.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        amount = Decimal(value)
        if amount != amount.quantize(CENT):
            raise ValueError(f"{value!r} has more than two decimal places")
        return int(amount * 100) if dialect.name == "sqlite" else amount.quantize(CENT)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(value) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)


def only_on(dialect, index):
    """``index`` exists on ``dialect``'s databases only (a PostgreSQL GIN index, say).

    ``ddl_if`` keeps ``create_all`` from building it elsewhere; the ``info`` mark
    lets the migration comparison (``schema_filter``) skip it there too, since
    Alembic does not read ``ddl_if``.
    """
    index.info["only_on"] = dialect
    return index.ddl_if(dialect=dialect)


def schema_filter(dialect):
    """Alembic's ``include_object`` for a ``dialect`` database: models marked
    ``only_on`` another dialect are no part of its schema."""

    def include_object(obj, _name, _type, _reflected, _compare_to):
        wanted = getattr(obj, "info", {}).get("only_on")
        return wanted is None or wanted == dialect

    return include_object
