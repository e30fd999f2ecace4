"""The product export: every matching product as NDJSON or CSV, produced in pieces.

``chunks(statement, fmt)`` reads the products of a filtered ``select()`` in id
order, ``BATCH_SIZE`` rows at a time with keyset queries (``id > last id``, on
the primary key, so the millionth row costs what the first does), and yields
the file one batch at a time: memory holds one batch whatever the catalog's
size, and the first bytes leave before the last row is read. The rows are read
as plain columns, never as ORM objects, so nothing accumulates in the session.

A row is shown exactly as the API shows a product: the fields, their order and
their formatting (price with two places, timestamps in UTC with ``Z``) come
from ``ProductSchema``'s own fields, so an NDJSON line is byte for byte the body
of ``GET /api/products/{id}``.

Speed (issue 21: a million rows at 50,000 rows/s): a batch is formatted column
by column, not value by value through ``Field.serialize``. For each field the
module works out once how it shows a stored value (``ShownColumn`` below): a
formatted field's own ``dump_value`` (the function its ``serialize`` calls),
nothing for a string or integer column that marshmallow's ``String`` /
``Integer`` passes through unchanged, and the field's ``serialize`` itself for
any other field. NDJSON lines are then put together from per-value JSON texts
(``json.encoder.encode_basestring_ascii``, what ``json.dumps`` with
``ensure_ascii`` uses for a string) with one ``str.format`` per row, instead of
building a dict and encoding it.

CSV follows RFC 4180 through the ``csv`` module (CRLF line ends, quotes where a
field holds a comma, a quote or a line break), with a header row of the field
names. A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``, so no spreadsheet runs it as a formula
(the OWASP advice for CSV injection); numbers and timestamps are not text.
"""

import csv
import io
import json
from dataclasses import dataclass
from itertools import repeat
from json.encoder import encode_basestring_ascii

from marshmallow import fields

from extensions import db
from models import Product
from schemas.product import ProductSchema

# Rows per query and per piece written. 5,000 and 20,000 measured no cheaper per
# row than 1,000 (bench/README.md, "Product export") and send the first bytes later.
BATCH_SIZE = 1000
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_FIELDS = ("name", "description", "category")

# As Flask's jsonify writes a body: compact, ASCII only, keys in the schema's order.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


@dataclass(frozen=True)
class ShownColumn:
    """How the export shows one of ``ProductSchema``'s fields, derived from the field.

    ``dump``: stored value (never None) -> the value a response shows, or None
    when the field shows the stored value as it is. ``json``: a shown value
    (never None) -> its JSON text, as ``_encode`` would write it. ``nullable``:
    whether the column may hold None (if not, ``map`` applies the functions
    with no per-value test, the cheaper loop).
    """

    name: str
    dump: object
    json: object
    nullable: bool


def _column(name, field):
    stored = Product.__table__.c[name]
    nullable = stored.nullable
    if callable(getattr(field, "dump_value", None)):
        # Price and UTCDateTime: a formatted text (schemas/fields.py).
        return ShownColumn(name, field.dump_value, encode_basestring_ascii, nullable)
    if isinstance(field, fields.String) and stored.type.python_type is str:
        return ShownColumn(name, None, encode_basestring_ascii, nullable)  # String: str(value)
    if isinstance(field, fields.Integer) and not field.as_string and stored.type.python_type is int:
        return ShownColumn(name, None, repr, nullable)  # Integer: int(value); JSON writes its repr

    # Any other field: its own serialize, and the whole JSON encoder for the result.
    def dump(value):
        return field.serialize(name, {name: value})

    return ShownColumn(name, dump, _encode, nullable=True)


_COLUMNS_SHOWN = [_column(name, field) for name, field in ProductSchema().dump_fields.items()]
COLUMN_NAMES = [column.name for column in _COLUMNS_SHOWN]
COLUMNS = [Product.__table__.c[name] for name in COLUMN_NAMES]
# One NDJSON line: the keys as JSON writes them, a {} for each value's JSON text.
_LINE = "{{" + ",".join(f"{encode_basestring_ascii(name)}:{{}}" for name in COLUMN_NAMES) + "}}\n"
_TEXT = [name in TEXT_FIELDS for name in COLUMN_NAMES]


def chunks(statement, fmt):
    """The export of ``statement`` (a filtered ``select(Product)``) in ``fmt``, piece by piece."""
    batches = _batches(statement.with_only_columns(*COLUMNS))
    return _ndjson(batches) if fmt == "ndjson" else _csv(batches)


def _batches(statement):
    """Each batch as lists of shown values, one list per field (in ``COLUMN_NAMES``' order)."""
    last_id = 0
    while True:
        rows = (
            db.session.connection()
            .execute(statement.where(Product.id > last_id).order_by(Product.id).limit(BATCH_SIZE))
            .all()
        )
        if not rows:
            return
        yield [
            _shown(column, values)
            for column, values in zip(_COLUMNS_SHOWN, zip(*rows, strict=True), strict=True)
        ]
        if len(rows) < BATCH_SIZE:
            return
        last_id = rows[-1].id


def _shown(column, values):
    """A column of stored values as the API shows them (None stays None)."""
    return values if column.dump is None else _each(column.dump, values, column.nullable)


def _each(function, values, nullable, none=None):
    """``function`` of each value, ``none`` for a None."""
    if not nullable:
        return list(map(function, values))
    return [none if value is None else function(value) for value in values]


def _ndjson(batches):
    for batch in batches:
        texts = [
            _each(column.json, values, column.nullable, none="null")
            for column, values in zip(_COLUMNS_SHOWN, batch, strict=True)
        ]
        yield "".join(map(_LINE.format, *texts)).encode()


def _csv(batches):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    yield _drain(buffer)
    for batch in batches:
        cells = [
            _guarded(values, column.nullable) if text else values
            for text, column, values in zip(_TEXT, _COLUMNS_SHOWN, batch, strict=True)
        ]
        writer.writerows(zip(*cells, strict=True))  # the csv module writes None as an empty cell
        yield _drain(buffer)


def _guarded(values, nullable):
    """Text cells with the formula prefix rule applied."""
    if not nullable and not any(map(str.startswith, values, repeat(FORMULA_PREFIXES))):
        return values  # the common case, tested without a Python-level loop
    return [
        "'" + value if value is not None and value.startswith(FORMULA_PREFIXES) else value
        for value in values
    ]


def _drain(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()
