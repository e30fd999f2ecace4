"""GET /api/products/export: NDJSON and CSV, the list's filters, roles, streaming."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from extensions import db
from models import Product
from schemas.fields import UTCDateTime
from services import product_export
from tests.helpers import assert_problem

EXPORT = "/api/products/export"


@pytest.fixture
def products(client, editor_headers):
    """Products made through the API, in id order; returns their JSON."""

    def make(*specs):
        made = []
        for spec in specs:
            body = {"price": "1.00", "category": "misc", **spec}
            response = client.post("/api/products", json=body, headers=editor_headers)
            assert response.status_code == 201, response.get_json()
            made.append(response.get_json())
        return made

    return make


def add_directly(app, **columns):
    """A product written straight to the database, around the API's trimming."""
    with app.app_context():
        product = Product(**{"price": Decimal("1.00"), "category": "misc", **columns})
        db.session.add(product)
        db.session.commit()
        return product.id


def test_ndjson_lines_are_the_products_exactly_as_the_api_shows_them(
    client, editor_headers, products
):
    made = products(
        {"name": "Desk lamp", "price": "19.99", "category": "lighting", "description": "Warm"},
        {"name": "Café table ☕", "price": "5", "category": "furniture"},
        {"name": 'Quote " and \\ backslash', "price": "1000000", "category": "misc"},
    )
    response = client.get(EXPORT, headers=editor_headers)
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Disposition" not in response.headers
    body = response.get_data()
    assert body.endswith(b"\n")
    lines = body.split(b"\n")[:-1]
    assert len(lines) == len(made)
    for line, product in zip(lines, made, strict=True):
        shown = client.get(f"/api/products/{product['id']}").get_data()
        assert line + b"\n" == shown  # byte for byte the item's body
        assert json.loads(line) == product


AWKWARD = [
    {"name": "Café ☕ 😀 naïve", "description": None, "price": Decimal("0.50")},
    {
        "name": 'Quote " \\ back\\slash',
        "description": "tab\tnew\nline\r\x01\x1f\x7f",  # (PostgreSQL text holds no NUL)
        "price": Decimal("1000000.00"),
    },
    {"name": "</script> & 'single'", "description": "", "price": Decimal("0.00")},
    {
        "name": "=cmd|' /C calc'!A0",
        "description": "-2+3",
        "price": Decimal("12.30"),
        "category": "@x",
    },
    {
        "name": "\u2028 line separator \ufeff",
        "description": "é" * 50,
        "price": Decimal("999999.99"),
    },
]
MOMENTS = [
    datetime(2026, 1, 31, 9, 15, tzinfo=UTC),  # no fraction
    datetime(2026, 1, 31, 9, 15, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # cut to .999, not rounded up
    datetime(2026, 3, 1, 0, 0, 0, 1000, tzinfo=UTC),
    datetime(1999, 7, 4, 12, 0, 0, 500, tzinfo=UTC),
]


@pytest.mark.parametrize("batch_size", [2, 1000])
def test_awkward_values_export_exactly_as_the_api_shows_them(
    app, client, editor_headers, monkeypatch, batch_size
):
    """The column-wise formatting is byte for byte GET /api/products/{id} (NDJSON)
    and that body's values through the csv module with the formula rule (CSV)."""
    monkeypatch.setattr(product_export, "BATCH_SIZE", batch_size)
    ids = [
        add_directly(app, **columns, created_at=moment, updated_at=MOMENTS[-1 - number])
        for number, (columns, moment) in enumerate(zip(AWKWARD, MOMENTS, strict=True))
    ]
    shown = [client.get(f"/api/products/{product_id}").get_data() for product_id in ids]

    ndjson = client.get(EXPORT, headers=editor_headers).get_data()
    assert ndjson == b"".join(shown)

    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\r\n")
    for body in shown:
        product = json.loads(body)
        assert list(product) == list(product_export.COLUMN_NAMES)
        writer.writerow(
            "'" + value
            if name in product_export.TEXT_FIELDS and value and value[0] in "=+-@\t\r"
            else value
            for name, value in product.items()
        )
    as_csv = client.get(f"{EXPORT}?format=csv", headers=editor_headers).get_data(as_text=True)
    header, _, rows = as_csv.partition("\r\n")
    assert header == ",".join(product_export.COLUMN_NAMES)
    assert rows == expected.getvalue()


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.timezones() | st.just(UTC),
    )
)
def test_timestamps_are_written_as_isoformat_writes_them(moment):
    """UTCDateTime.dump_value builds the text from the fields (faster); it is
    isoformat's own text, milliseconds cut, not rounded, and Z for +00:00."""
    expected = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert UTCDateTime.dump_value(moment) == expected


def test_an_empty_catalog_exports_nothing(client, editor_headers):
    response = client.get(EXPORT, headers=editor_headers)
    assert response.status_code == 200
    assert response.get_data() == b""
    csv_response = client.get(f"{EXPORT}?format=csv", headers=editor_headers)
    assert (
        csv_response.get_data() == b"id,name,description,price,category,created_at,updated_at\r\n"
    )


@pytest.mark.parametrize(
    "filters",
    [
        "category=lighting",
        "q=LAMP",
        "q=50%25",
        "q=a_b",
        "min_price=10",
        "max_price=10.00",
        "min_price=5&max_price=20&category=lighting",
    ],
)
def test_filters_match_the_list(client, editor_headers, products, filters):
    products(
        {"name": "Desk lamp", "price": "19.99", "category": "lighting"},
        {"name": "Floor lamp", "price": "120.00", "category": "lighting"},
        {"name": "50% off chair", "price": "10.00", "category": "furniture"},
        {"name": "a_b stool", "price": "4.50", "category": "furniture"},
        {"name": "axb stool", "price": "5.00", "category": "furniture"},
    )
    listed = client.get(f"/api/products?limit=100&{filters}").get_json()["data"]
    exported = client.get(f"{EXPORT}?{filters}", headers=editor_headers).get_data()
    assert [json.loads(line) for line in exported.splitlines()] == listed
    as_csv = client.get(f"{EXPORT}?{filters}&format=csv", headers=editor_headers)
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [int(row["id"]) for row in rows] == [item["id"] for item in listed]


def test_csv_is_rfc_4180_with_a_header_row(client, editor_headers, products):
    made = products(
        {"name": 'Lamp, "big"', "price": "19.9", "category": "lighting", "description": "a\nb"},
        {"name": "Plain", "price": "2", "category": "misc"},
    )
    response = client.get(f"{EXPORT}?format=csv", headers=editor_headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="products.csv"'
    text = response.get_data(as_text=True)
    first, second = made
    assert text == (
        "id,name,description,price,category,created_at,updated_at\r\n"
        f'{first["id"]},"Lamp, ""big""","a\nb",19.90,lighting,'
        f"{first['created_at']},{first['updated_at']}\r\n"
        f"{second['id']},Plain,,2.00,misc,{second['created_at']},{second['updated_at']}\r\n"
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][1:3] == ['Lamp, "big"', "a\nb"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_text_that_could_run_as_a_formula_gets_a_leading_quote(
    app, client, editor_headers, start
):
    formula = f"{start}SUM(A1:A9)"
    add_directly(app, name=formula, description=formula, category=formula)
    response = client.get(f"{EXPORT}?format=csv", headers=editor_headers)
    row = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))[1]
    assert row[1:3] == ["'" + formula, "'" + formula]
    assert row[4] == "'" + formula
    # NDJSON is data, not a spreadsheet: the text is left as it is.
    line = client.get(EXPORT, headers=editor_headers).get_data()
    assert json.loads(line)["name"] == formula


def test_numbers_and_ordinary_text_are_not_prefixed(client, editor_headers, products):
    products({"name": "Lamp - large", "price": "0", "category": "x-y", "description": "'="})
    text = client.get(f"{EXPORT}?format=csv", headers=editor_headers).get_data(as_text=True)
    row = list(csv.reader(io.StringIO(text, newline="")))[1]
    assert row[1:5] == ["Lamp - large", "'=", "0.00", "x-y"]


@pytest.mark.parametrize(
    ("caller", "status"),
    [("anonymous", 401), ("viewer", 403), ("editor", 200), ("admin", 200)],
)
def test_editors_and_admins_may_export(request, client, caller, status):
    headers = {} if caller == "anonymous" else request.getfixturevalue(f"{caller}_headers")
    for fmt in ("ndjson", "csv"):
        response = client.get(f"{EXPORT}?format={fmt}", headers=headers)
        assert response.status_code == status
        if status != 200:
            assert_problem(response, status, "UNAUTHENTICATED" if status == 401 else "FORBIDDEN")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "format"),
        ("limit=5", "limit"),
        ("cursor=", "cursor"),
        ("min_price=9&max_price=1", "min_price"),
        ("format=csv&format=ndjson", "format"),
    ],
)
def test_bad_parameters_are_400(client, editor_headers, query, field):
    response = client.get(f"{EXPORT}?{query}", headers=editor_headers)
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert field in body["errors"]


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_the_export_is_streamed_batch_by_batch(
    app, client, editor_headers, products, monkeypatch, fmt
):
    made = products(*({"name": f"Product {number}"} for number in range(5)))
    monkeypatch.setattr(product_export, "BATCH_SIZE", 2)
    queries = []

    def count(_connection, _cursor, statement, *_args):
        if "FROM products" in statement:
            queries.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(f"{EXPORT}?format={fmt}", headers=editor_headers)
        assert response.status_code == 200
        assert response.is_streamed
        # (The test client reads the first chunk itself to see the response start.)
        chunks = iter(response.response)
        first = next(chunks)
        if fmt == "csv":
            assert first.startswith(b"id,name")  # the header row leaves first
            first = next(chunks)
        assert len(queries) == 1  # the first rows leave before the rest is read
        assert len(first.splitlines()) == 2
        rest = b"".join(chunks)
        response.close()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(queries) == 3  # 2 + 2 + 1 rows, one keyset query each
    assert len((first + rest).splitlines()) == len(made)


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_an_export_the_database_fails_under_ends_in_an_error_not_a_clean_end(
    app, client, editor_headers, products, monkeypatch, fmt
):
    """The rows already sent stay sent, and the stream then fails rather than ending:
    under gunicorn that closes the connection without the last chunk, so the client
    sees an incomplete transfer (through nginx too: tests/test_topology.py, a
    ``servers`` test, kills the worker instead)."""
    products(*({"name": f"Product {number}"} for number in range(5)))
    monkeypatch.setattr(product_export, "BATCH_SIZE", 2)
    queries = []

    def fail_the_second_batch(_connection, _cursor, statement, *_args):
        if "FROM products" in statement:
            queries.append(statement)
            if len(queries) == 2:
                raise OperationalError(statement, {}, ConnectionError("server closed"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", fail_the_second_batch)
    try:
        response = client.get(f"{EXPORT}?format={fmt}", headers=editor_headers)
        assert response.status_code == 200
        received = []
        with pytest.raises(OperationalError):
            for chunk in response.response:
                received.append(chunk)
        response.close()
    finally:
        event.remove(engine, "before_cursor_execute", fail_the_second_batch)
    rows = b"".join(received).splitlines()
    assert len(rows) == (3 if fmt == "csv" else 2)  # (the header row,) the first batch
    assert not any(b"error" in row.lower() for row in rows)  # no error text as a row
