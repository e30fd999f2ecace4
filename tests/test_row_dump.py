"""``schemas.row_dump.RowDump`` shows plain rows exactly as ``schema.dump`` shows them.

Lists, the product batch and the export dump rows with it instead of
marshmallow; any difference would change what a client reads. Checked on rows
made here (any value a column can hold, awkward ones first) and end to end on
what the lists and the batch answer against marshmallow's dump of the ORM objects.
"""

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from marshmallow import Schema, fields
from sqlalchemy import select

from auth.access import CALLER_COLUMNS, Caller
from blueprints.admin import USER_PAGES
from blueprints.feedback import FEEDBACK_PAGES
from blueprints.products import PRODUCT_BATCH, PRODUCT_PAGES
from extensions import db
from models import Feedback, Product, User
from schemas.feedback import FeedbackSchema
from schemas.product import ProductSchema
from schemas.row_dump import RowDump
from schemas.user import UserSchema

TEXTS = [
    "",
    "Plain",
    "Ünïcødé ☃ 😀 中文 עברית",
    'Quote " and back\\slash',
    "Line\nbreak\ttab\u2028separator\x00nul",
    "=1+2",
    "x" * 5000,
]
PRICES = [
    Decimal("0"),
    Decimal("0.00"),
    Decimal("0.01"),
    Decimal("12.5"),
    Decimal("999999.99"),
    Decimal("1000000.00"),
]
TIMES = [
    datetime(2026, 1, 31, 9, 15, tzinfo=UTC),
    datetime(2026, 1, 31, 9, 15, 0, 999, tzinfo=UTC),  # under a millisecond
    datetime(2026, 1, 31, 9, 15, 0, 1000, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # cut, never rounded up
    datetime(2026, 3, 1, 0, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2025, 12, 31, 22, 0, tzinfo=timezone(timedelta(hours=-5))),  # another year in UTC
]


def _awkward(value_lists):
    """Rows that give every column each of its values at least once."""
    count = max(len(values) for values in value_lists.values())
    return [
        {name: values[number % len(values)] for name, values in value_lists.items()}
        for number in range(count)
    ]


def _as_rows(statement, mappings):
    """``mappings`` as tuples in the order of ``statement``'s columns, as a query returns them."""
    names = [column.key for column in statement.selected_columns]
    return [tuple(mapping[name] for name in names) for mapping in mappings]


PRODUCTS = _awkward(
    {
        "id": [1, 2, 2**31 - 1, 2**63 - 1],
        "name": TEXTS,
        "description": [None, *TEXTS],
        "price": PRICES,
        "category": TEXTS,
        "created_at": TIMES,
        "updated_at": list(reversed(TIMES)),
    }
)
FEEDBACK = _awkward(
    {
        "id": [1, 2**63 - 1],
        "name": TEXTS,
        "email": ["a@example.com", "Mixed.Case+tag@example.com"],
        "message": TEXTS,
        "rating": [None, 1, 5],
        "user_id": [None, 7],
        "created_at": TIMES,
    }
)
USERS = _awkward(
    {
        "id": [1, 2**63 - 1],
        "name": TEXTS,
        "email": ["a@example.com", "b@example.com"],
        "password_hash": ["never shown"],
        "role": ["admin", "editor", "viewer"],
        "is_active": [True, False],
        "created_at": TIMES,
        "updated_at": list(reversed(TIMES)),
    }
)


@pytest.mark.parametrize(
    ("schema", "model", "mappings"),
    [
        (ProductSchema(), Product, PRODUCTS),
        (FeedbackSchema(), Feedback, FEEDBACK),
        (UserSchema(), User, USERS),
    ],
    ids=["products", "feedback", "users"],
)
def test_rows_dump_as_marshmallow_dumps_them(schema, model, mappings):
    statement = select(model)
    rows = _as_rows(statement, mappings)
    expected = schema.dump(mappings, many=True)

    dumped = RowDump(schema, statement.selected_columns).dump(rows)

    assert dumped == expected
    assert json.dumps(dumped) == json.dumps(expected)  # the same keys in the same order
    assert "password_hash" not in dumped[0]


def test_an_extra_column_after_the_fields_is_ignored():
    statement = select(Product).add_columns(Product.price, Product.id)
    rows = [(*row, "extra", 1) for row in _as_rows(select(Product), PRODUCTS)]

    dumped = RowDump(ProductSchema(), statement.selected_columns).dump(rows)

    assert dumped == ProductSchema().dump(PRODUCTS, many=True)


class OddSchema(Schema):
    """Fields RowDump has no shortcut for: each shows what marshmallow shows.
    (Dump-only: marshmallow refuses two loaded fields of one attribute.)"""

    ident = fields.Integer(attribute="id", data_key="productId", as_string=True, dump_only=True)
    label = fields.Method("label_of")
    amount = fields.Float(attribute="price", dump_only=True)
    id_text = fields.String(attribute="id", dump_only=True)  # a String of an integer column
    flag = fields.Boolean(
        attribute="name", dump_only=True
    )  # marshmallow 4 shows a Boolean's value as it is
    absent = fields.String()  # no such column: the key is left out
    constant = fields.Constant("always")

    def label_of(self, product):
        return product["name"].upper()


def test_fields_without_a_shortcut_are_serialized_by_marshmallow():
    statement = select(Product)
    rows = _as_rows(statement, PRODUCTS)
    expected = OddSchema().dump(PRODUCTS, many=True)

    dumped = RowDump(OddSchema(), statement.selected_columns).dump(rows)

    assert dumped == expected
    assert json.dumps(dumped) == json.dumps(expected)
    assert "absent" not in dumped[0]


def test_no_rows_dump_as_an_empty_list():
    assert RowDump(ProductSchema(), select(Product).selected_columns).dump([]) == []


@pytest.mark.parametrize(
    ("schema", "mappings"),
    [(ProductSchema(), PRODUCTS), (OddSchema(), PRODUCTS)],
    ids=["shortcuts", "marshmallow"],
)
def test_one_row_dumps_as_marshmallow_dumps_it(schema, mappings):
    statement = select(Product)
    dump = RowDump(schema, statement.selected_columns)

    for mapping, row in zip(mappings, _as_rows(statement, mappings), strict=True):
        dumped = dump.dump_one(row)
        assert json.dumps(dumped) == json.dumps(schema.dump(mapping))


def test_the_caller_dumps_as_marshmallow_dumps_it():
    """What GET /api/auth/me and the caller's own GET /api/users/{id} show."""
    dump = RowDump(UserSchema(), CALLER_COLUMNS)

    for mapping in USERS:
        caller = Caller(**{field.name: mapping[field.name] for field in dataclasses.fields(Caller)})
        dumped = dump.dump_object(caller)
        assert json.dumps(dumped) == json.dumps(UserSchema().dump(caller))
        assert json.dumps(dumped) == json.dumps(UserSchema().dump(mapping))


def test_an_object_of_one_column_dumps_too_and_keyless_columns_are_refused():
    class NameOnly(Schema):
        name = fields.String()

    @dataclasses.dataclass
    class Named:
        name: str

    assert RowDump(NameOnly(), [User.__table__.c.name]).dump_object(Named("Ann")) == {"name": "Ann"}
    with pytest.raises(TypeError):
        RowDump(NameOnly(), [User.__table__.c.name + "!"]).dump_object(Named("Ann"))


# End to end: what the service answers is marshmallow's dump of the ORM objects.
# PostgreSQL keeps no NUL in text and holds a name to its column's length.
STORED_TEXTS = [text.replace("\x00", "")[:100] or "-" for text in TEXTS]


def _check_pages(client, url, headers, pages, model, schema, count):
    """The numbered and the cursor page of ``url`` equal the page schemas' dump."""
    for position, page_schema in (("page=1", pages.offset), ("cursor=", pages.cursor)):
        response = client.get(f"{url}?limit=100&{position}", headers=headers)
        assert response.status_code == 200
        body = response.get_json()
        ids = [item["id"] for item in body["data"]]
        assert len(ids) == count
        db.session.expire_all()
        objects = [db.session.get(model, each) for each in ids]
        expected = page_schema.dump({**body, "data": objects})
        assert body == expected
        assert list(body) == list(expected)
        assert [list(item) for item in body["data"]] == [list(item) for item in expected["data"]]


def test_product_pages_and_the_batch_show_what_marshmallow_shows(app, client, add_products):
    ids = add_products(
        *(
            {
                "name": name,
                "description": [None, TEXTS[2], TEXTS[4].replace("\x00", "")][number % 3],
                "price": PRICES[number % len(PRICES)],
                "category": name[:50],
                "created_at": TIMES[number % len(TIMES)],
            }
            for number, name in enumerate(STORED_TEXTS * 2)
        )
    )
    with app.app_context():
        _check_pages(
            client,
            "/api/products",
            {},
            PRODUCT_PAGES,
            Product,
            ProductSchema(),
            len(ids),
        )
        asked = [ids[3], 999_999, ids[0], ids[3]]
        response = client.get(f"/api/products?ids={','.join(map(str, asked))}")
        body = response.get_json()
        objects = [db.session.get(Product, each) for each in (ids[3], ids[0])]
        expected = PRODUCT_BATCH.dump({"data": objects, "meta": {"missing_ids": [999_999]}})
        assert body == expected
        assert [list(item) for item in body["data"]] == [list(item) for item in expected["data"]]


def test_feedback_pages_show_what_marshmallow_shows(app, client, add_feedback, editor_headers):
    ids = add_feedback(
        *(
            {
                "name": name,
                "message": name,
                "rating": [None, 1, 5][number % 3],
                "created_at": TIMES[number % len(TIMES)],
            }
            for number, name in enumerate(STORED_TEXTS)
        )
    )
    with app.app_context():
        _check_pages(
            client,
            "/api/feedback",
            editor_headers,
            FEEDBACK_PAGES,
            Feedback,
            FeedbackSchema(),
            len(ids),
        )


def test_user_pages_show_what_marshmallow_shows(app, client, create_user, admin_headers):
    for number, name in enumerate(STORED_TEXTS[1:5]):
        create_user(["viewer", "editor"][number % 2], name=name, is_active=number % 2 == 0)
    with app.app_context():
        _check_pages(client, "/api/admin/users", admin_headers, USER_PAGES, User, UserSchema(), 5)


def test_the_callers_own_user_shows_what_marshmallow_shows(app, client, create_user, login):
    user = create_user(name=STORED_TEXTS[2])
    headers = login(user.email)
    with app.app_context():
        expected = UserSchema().dump(db.session.get(User, user.id))
    for url in ("/api/auth/me", f"/api/users/{user.id}"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        body = response.get_json()
        assert body == expected
        assert list(body) == list(expected)
