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

CSV follows RFC 4180 through the ``csv`` module (CRLF line ends, quotes where a
field holds a comma, a quote or a line break), with a header row of the field
names. A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``, so no spreadsheet runs it as a formula
(the OWASP advice for CSV injection); numbers and timestamps are not text.
"""

import csv
import io
import json

from extensions import db
from models import Product
from schemas.product import ProductSchema

BATCH_SIZE = 1000
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_FIELDS = ("name", "description", "category")

_FIELDS = ProductSchema().dump_fields
COLUMNS = [Product.__table__.c[name] for name in _FIELDS]
# As Flask's jsonify writes a body: compact, ASCII only, keys in the schema's order.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def chunks(statement, fmt):
    """The export of ``statement`` (a filtered ``select(Product)``) in ``fmt``, piece by piece."""
    batches = _batches(statement.with_only_columns(*COLUMNS))
    return _ndjson(batches) if fmt == "ndjson" else _csv(batches)


def _batches(statement):
    """Lists of products as the API shows them, in id order, one keyset query each."""
    last_id = 0
    while True:
        rows = (
            db.session.connection()
            .execute(statement.where(Product.id > last_id).order_by(Product.id).limit(BATCH_SIZE))
            .all()
        )
        if not rows:
            return
        yield [_shown(row) for row in rows]
        if len(rows) < BATCH_SIZE:
            return
        last_id = rows[-1].id


def _shown(row):
    """A row as the API shows a product, through ``ProductSchema``'s own fields."""
    values = dict(zip(_FIELDS, row, strict=True))  # COLUMNS are in _FIELDS' order
    return {name: field.serialize(name, values) for name, field in _FIELDS.items()}


def _ndjson(batches):
    for batch in batches:
        yield "".join(f"{_encode(product)}\n" for product in batch).encode()


def _csv(batches):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_FIELDS)
    yield _drain(buffer)
    for batch in batches:
        writer.writerows([_csv_cell(name, product[name]) for name in _FIELDS] for product in batch)
        yield _drain(buffer)


def _csv_cell(name, value):
    if value is None:
        return ""
    if name in TEXT_FIELDS and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _drain(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()
