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
by column, not value by value through ``Field.serialize``. ``ROWS``, a
``schemas.row_dump.RowDump`` (the same dump the list pages and the batch use),
works out once for each field how it shows a stored value: a formatted field's
own ``dump_value`` (the function its ``serialize`` calls), nothing for a string
or integer column that marshmallow's ``String`` / ``Integer`` passes through
unchanged, and the field's ``serialize`` itself for any other field. NDJSON
lines are then put together from per-value JSON texts
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
from itertools import repeat
from json.encoder import encode_basestring_ascii

from extensions import db
from models import Product
from schemas.product import ProductSchema
from schemas.row_dump import RowDump

# Rows per query and per piece written. 5,000 and 20,000 measured no cheaper per
# row than 1,000 (bench/README.md, "Product export") and send the first bytes later.
BATCH_SIZE = 1000
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_FIELDS = ("name", "description", "category")

# As Flask's jsonify writes a body: compact, ASCII only, keys in the schema's order.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode

# The schema's fields are the table's columns of the same names (``ProductSchema``).
COLUMN_NAMES = list(ProductSchema().dump_fields)
COLUMNS = [Product.__table__.c[name] for name in COLUMN_NAMES]
ROWS = RowDump(ProductSchema(), COLUMNS)


def _json_text(shown):
    """The function from a shown value (never None) of ``shown``'s field to its
    JSON text, as ``_encode`` would write it."""
    if shown.shown_type is str:
        return encode_basestring_ascii
    if shown.shown_type is int:
        return repr  # JSON writes an integer as its repr
    return _encode


_JSON_TEXTS = [(_json_text(shown), shown.nullable) for shown in ROWS.fields]
# One NDJSON line: the keys as JSON writes them, a {} for each value's JSON text.
_LINE = "{{" + ",".join(f"{encode_basestring_ascii(key)}:{{}}" for key in ROWS.keys) + "}}\n"
_TEXT = [name in TEXT_FIELDS for name in COLUMN_NAMES]
_NULLABLE = [shown.nullable for shown in ROWS.fields]


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
        yield ROWS.shown_columns(rows)
        if len(rows) < BATCH_SIZE:
            return
        last_id = rows[-1].id


def _each(function, values, nullable, none=None):
    """``function`` of each value, ``none`` for a None."""
    if not nullable:
        return list(map(function, values))
    return [none if value is None else function(value) for value in values]


def _ndjson(batches):
    for batch in batches:
        texts = [
            _each(json_text, values, nullable, none="null")
            for (json_text, nullable), values in zip(_JSON_TEXTS, batch, strict=True)
        ]
        yield "".join(map(_LINE.format, *texts)).encode()


def _csv(batches):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    yield _drain(buffer)
    for batch in batches:
        cells = [
            _guarded(values, nullable) if text else values
            for text, nullable, values in zip(_TEXT, _NULLABLE, batch, strict=True)
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
