"""``q`` on products: literal wildcards at every term length, exact totals, and
the COUNT counted once per catalog version (issue 21).

On PostgreSQL a trigram index serves terms of 3 characters or more; shorter
terms are read without it. Both must give the same, literal answer.
"""

import pytest
from sqlalchemy import event, select, text

from extensions import db
from models import Product
from web.pagination import contains_text

NAMES = [
    "100% cotton",
    "100 percent wool",
    "snake_case mug",
    "snakeXcase mug",
    "back\\slash hook",
    "backslash hook",
    "Plain chair",
]


def _search(client, q):
    response = client.get("/api/products", query_string={"q": q, "limit": 100})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    names = [product["name"] for product in body["data"]]
    assert body["meta"]["total"] == len(names)
    return names


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # shorter than a trigram
        ("%", ["100% cotton"]),
        ("_", ["snake_case mug"]),
        ("\\", ["back\\slash hook"]),
        ("0%", ["100% cotton"]),
        ("e_", ["snake_case mug"]),
        ("k\\", ["back\\slash hook"]),
        # long enough for the trigram index
        ("0% c", ["100% cotton"]),
        ("100%", ["100% cotton"]),
        ("SNAKE_CASE", ["snake_case mug"]),
        ("e_c", ["snake_case mug"]),
        ("k\\sl", ["back\\slash hook"]),
        ("BACK\\SLASH", ["back\\slash hook"]),
        ("%%%", []),
        ("___", []),
        # plain terms, any case
        ("hook", ["back\\slash hook", "backslash hook"]),
        ("ch", ["Plain chair"]),
        ("C", NAMES),
    ],
)
def test_search_is_literal_at_every_length(client, add_products, q, expected):
    add_products(*({"name": name} for name in NAMES))
    assert _search(client, q) == expected


def test_the_trigram_index_can_serve_a_search(app, add_products):
    """On PostgreSQL, migration 0008's index answers ``name ILIKE '%...%'``."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the trigram index is PostgreSQL's")
        add_products(*({"name": name} for name in NAMES))
        statement = select(Product.id).where(contains_text(Product.name, "0% c"))
        compiled = statement.compile(db.engine)
        with db.engine.connect() as connection:
            # A table this small is cheaper to read whole; forbid that to see the index.
            connection.execute(text("SET enable_seqscan = off"))
            plan = (
                connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
            )
            found = connection.execute(statement).scalars().all()
        assert any("ix_products_name_trgm" in line for line in plan), plan
        assert len(found) == 1


@pytest.fixture
def uncached_client(make_app):
    """A client of an app without the server-side cache: every list is computed."""
    return make_app(CACHE_URL="none").test_client()


@pytest.fixture
def counts(uncached_client):
    """The COUNT statements the uncached app sends its database."""
    seen = []

    def record(_conn, _cursor, statement, _params, _context, _many):
        if "count(" in statement.lower():
            seen.append(statement)

    with uncached_client.application.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _total(client, query):
    response = client.get(f"/api/products?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["meta"]["total"]


def test_a_total_is_counted_once_per_catalog_version(
    uncached_client, counts, add_products, editor_headers
):
    add_products(*({"name": name} for name in NAMES))
    assert _total(uncached_client, "q=hook&limit=1") == 2
    assert len(counts) == 1
    # Another page, order or limit of the same search counts nothing again.
    for query in ("q=hook&page=2&limit=1", "q=hook&sort=desc&limit=1", "q=hook&order_by=name"):
        assert _total(uncached_client, query) == 2
    assert len(counts) == 1
    # Another filter is another total.
    assert _total(uncached_client, "q=HOOK&limit=1") == 2
    assert len(counts) == 2

    # A write makes every total counted before it unreachable: the next read counts again.
    created = uncached_client.post(
        "/api/products",
        json={"name": "Coat hook", "price": "3", "category": "hooks"},
        headers=editor_headers,
    )
    assert created.status_code == 201
    assert _total(uncached_client, "q=hook&limit=1") == 3
    assert len(counts) == 3
    deleted_id = add_products({"name": "Hook rail"})[0]
    assert _total(uncached_client, "q=hook&limit=1") == 4
    with uncached_client.application.app_context():
        db.session.execute(Product.__table__.delete().where(Product.id == deleted_id))
        db.session.commit()
    assert _total(uncached_client, "q=hook&page=2&limit=1") == 3


def test_a_short_first_page_is_its_own_total(uncached_client, counts, add_products):
    """A first page with fewer rows than its limit needs no COUNT: a selective
    search costs the database one indexed read."""
    add_products(*({"name": name} for name in NAMES))
    assert _search(uncached_client, "snake") == ["snake_case mug", "snakeXcase mug"]
    assert _total(uncached_client, "q=zzz") == 0
    assert _total(uncached_client, "limit=8") == 7
    assert counts == []
    # A full first page may have more behind it: that one is counted.
    assert _total(uncached_client, "q=c&limit=6") == 7
    assert len(counts) == 1
    # A later page counts (once per catalog version) and agrees.
    body = uncached_client.get("/api/products?q=snake&page=2&limit=100").get_json()
    assert body["data"] == []
    assert body["meta"]["total"] == 2
