"""``q`` on products: literal wildcards at every term length, exact totals, and
the COUNT counted once per catalog version (issue 21).

On PostgreSQL a trigram index serves terms of 3 characters or more; shorter
terms are read without it. Both must give the same, literal answer.
"""

import pytest
from sqlalchemy import select, text

from extensions import db
from models import Product
from models.search import SAMPLES
from plumbing.pagination import contains_text
from tests.helpers import listening

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

    with listening(uncached_client.application, ("before_cursor_execute", record)):
        yield seen


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
    """A first page that holds the whole list (at most its limit) needs no COUNT:
    a selective search costs the database one indexed read."""
    add_products(*({"name": name} for name in NAMES))
    assert _search(uncached_client, "snake") == ["snake_case mug", "snakeXcase mug"]
    assert _total(uncached_client, "q=zzz") == 0
    assert _total(uncached_client, "limit=8") == 7
    # A page the list fills exactly is the whole list too: the row after it is missing.
    assert _total(uncached_client, "limit=7") == 7
    assert _search(uncached_client, "hook") == ["back\\slash hook", "backslash hook"]
    assert _total(uncached_client, "q=hook&limit=2") == 2
    assert counts == []
    # A full first page may have more behind it: that one is counted.
    assert _total(uncached_client, "q=c&limit=6") == 7
    assert len(counts) == 1
    # A later page counts (once per catalog version) and agrees.
    body = uncached_client.get("/api/products?q=snake&page=2&limit=100").get_json()
    assert body["data"] == []
    assert body["meta"]["total"] == 2


# A catalog where one word is in every name, as in bench/search.py's seed.
BULK = [f"Bulk product {number}" for number in range(100, 400)]
ODD = ["Bulk product 123%", "Bulk product 123_x", "Bulk product 123\\", "BULK PRODUCT 1234"]


def _analyze(app):
    """Give PostgreSQL the statistics a production catalog has, and make the
    search read them now rather than after ``models.search.SAMPLE_TTL``."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.execute(text("ANALYZE products"))
                connection.commit()
    SAMPLES.clear()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("product 123", ["Bulk product 123", *ODD]),
        ("PRODUCT 1234", ["BULK PRODUCT 1234"]),
        ("product 123%", ["Bulk product 123%"]),
        ("product 123_", ["Bulk product 123_x"]),
        ("product 123\\", ["Bulk product 123\\"]),
        ("bulk product 15", [name for name in BULK if "product 15" in name]),
        ("product 15 ", []),
        ("product 999", []),
    ],
)
def test_a_common_word_beside_a_rare_one_finds_the_same_rows(
    app, client, add_products, q, expected
):
    """On PostgreSQL the rare word drives the index and the whole term filters
    (models/search.py): still contains, any case, with literal wildcards."""
    add_products(*({"name": name} for name in [*BULK, *ODD]))
    _analyze(app)
    assert _search(client, q) == expected


def test_the_rare_word_drives_the_trigram_index(app, add_products):
    """With statistics saying "product" is in every name, ``q=product 123``
    reads the index with ``123`` only and tests the whole term on its rows."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the trigram index is PostgreSQL's")
    add_products(*({"name": name} for name in [*BULK, *ODD]))
    _analyze(app)
    with app.app_context():
        statement = select(Product.id).where(contains_text(Product.name, "product 123"))
        compiled = statement.compile(db.engine)
        with db.engine.connect() as connection:
            # A table this small is cheaper to read whole, or through the B-tree on
            # (name, id): forbid the one and hide the other, in a transaction rolled back.
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            connection.execute(text("DROP INDEX ix_products_name_id"))
            plan = "\n".join(
                connection.exec_driver_sql(
                    f"EXPLAIN (COSTS OFF) {compiled}", compiled.params
                ).scalars()
            )
            connection.rollback()
        index_condition = next(line for line in plan.splitlines() if "Index Cond" in line)
        assert "'%123%'" in index_condition, plan
        assert "product" not in index_condition, plan
        assert "'%product 123%'" in plan, plan


def test_a_term_without_both_a_common_and_a_rare_word_stays_one_ilike(app, add_products):
    """Only a common word beside a rare one is worth the split: one word, all
    common words or all rare ones keep the plain ILIKE."""
    add_products(*({"name": name} for name in BULK))
    _analyze(app)
    with app.app_context():
        for q in ("product", "bulk product", "777 999", "product 12"):
            where = str(select(Product.id).where(contains_text(Product.name, q)).compile(db.engine))
            assert "||" not in where, q


def test_totals_stay_exact_after_writes_with_a_rare_word(
    app, uncached_client, add_products, editor_headers
):
    add_products(*({"name": name} for name in [*BULK, *ODD]))
    _analyze(app)
    assert _total(uncached_client, "q=product 123&limit=2") == 5
    created = uncached_client.post(
        "/api/products",
        json={"name": "Bulk Product 1235", "price": "3", "category": "hooks"},
        headers=editor_headers,
    )
    assert created.status_code == 201
    assert _total(uncached_client, "q=product 123&limit=2") == 6
    assert _total(uncached_client, "q=product 123&page=3&limit=2") == 6
