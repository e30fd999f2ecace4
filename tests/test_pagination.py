"""The pagination every list shares: parameters, offset pages, cursor pages."""

import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeSerializer

from extensions import db
from models import User
from plumbing.pagination import CURSOR_SALT
from tests.helpers import START, assert_problem

LISTS = ["/api/products", "/api/feedback", "/api/admin/users"]


@pytest.fixture
def products(add_products):
    """37 products with many equal names, prices and creation times."""
    add_products(
        *(
            {
                "name": f"Name {number % 4}",
                "price": Decimal(number % 3) + Decimal("0.10"),
                "category": "misc" if number % 2 else "other",
                "created_at": START + timedelta(seconds=number % 5, microseconds=number % 2),
            }
            for number in range(37)
        )
    )
    return 37


def _query(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=1.5", "page"),
        ("page=", "page"),
        ("page=%201", "page"),
        ("page=99999999999999999999", "page"),
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=101", "limit"),
        ("limit=", "limit"),
        ("sort=up", "sort"),
        ("sort=ASC", "sort"),
        ("order_by=nope", "order_by"),
        ("order_by=", "order_by"),
        ("page=1&cursor=", "page"),
        ("page=1&cursor=", "cursor"),
        ("page=1&page=2", "page"),
        ("limit=5&limit=5", "limit"),
        ("bogus=1", "bogus"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(client, admin_headers, url, query, param):
    response = client.get(f"{url}?{query}", headers=admin_headers)
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert param in body["errors"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("cursor", ["abc", "x.y", "W10", "W10.AAAA", "a" * 1001])
def test_malformed_cursors(client, admin_headers, url, cursor):
    response = client.get(url, query_string={"cursor": cursor}, headers=admin_headers)
    assert response.status_code == 400
    assert response.get_json()["code"] in {"INVALID_CURSOR", "VALIDATION_ERROR"}


def test_tampered_cursor_is_invalid(client, products):
    cursor = client.get("/api/products?cursor=&limit=5").get_json()["meta"]["next_cursor"]
    payload, _, signature = cursor.rpartition(".")
    for forged in (payload + "x." + signature, payload + "." + signature[::-1], "." + signature):
        response = client.get("/api/products", query_string={"cursor": forged})
        assert_problem(response, 400, "INVALID_CURSOR")


def test_cursor_from_another_query_is_refused(client, products, make_app):
    cursor = client.get("/api/products?cursor=&limit=5&order_by=price").get_json()["meta"][
        "next_cursor"
    ]
    for other in ("order_by=name", "order_by=price&sort=desc", "order_by=price&category=misc"):
        response = client.get(f"/api/products?{other}&cursor={cursor}")
        assert_problem(response, 400, "INVALID_CURSOR")
    # The page size may change between pages.
    same = client.get(f"/api/products?order_by=price&limit=7&cursor={cursor}")
    assert same.status_code == 200
    # A cursor signed with another key is refused.
    other_app = make_app(SECRET_KEY="another-secret-key-that-is-long-enough-000")
    response = other_app.test_client().get(f"/api/products?order_by=price&cursor={cursor}")
    assert_problem(response, 400, "INVALID_CURSOR")


def test_offset_pages_meta_and_links(client, products):
    first = client.get("/api/products?limit=10&category=misc")
    body = first.get_json()
    assert body["meta"] == {"page": 1, "limit": 10, "total": 18, "pages": 2}
    links = body["links"]
    assert links["prev"] is None
    assert _query(links["self"]) == {"limit": "10", "category": "misc", "page": "1"}
    assert _query(links["next"]) == {"limit": "10", "category": "misc", "page": "2"}
    assert _query(links["first"])["page"] == "1"
    assert _query(links["last"])["page"] == "2"
    assert links["next"].startswith("http://localhost/api/products?")
    assert f'<{links["next"]}>; rel="next"' in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]

    last = client.get(links["last"]).get_json()
    assert len(last["data"]) == 8
    assert last["links"]["next"] is None
    assert _query(last["links"]["prev"])["page"] == "1"


def test_middle_page(client, products):
    response = client.get("/api/products?page=2&limit=10")
    body = response.get_json()
    assert [p["id"] for p in body["data"]] == list(range(11, 21))
    assert body["meta"] == {"page": 2, "limit": 10, "total": 37, "pages": 4}
    assert _query(body["links"]["prev"])["page"] == "1"
    assert _query(body["links"]["next"])["page"] == "3"
    assert 'rel="prev"' in response.headers["Link"]
    assert 'rel="next"' in response.headers["Link"]


def test_page_past_the_end_is_empty(client, products):
    body = client.get("/api/products?page=9&limit=10").get_json()
    assert body["data"] == []
    assert body["meta"] == {"page": 9, "limit": 10, "total": 37, "pages": 4}
    assert body["links"]["next"] is None
    assert _query(body["links"]["prev"])["page"] == "4"
    huge = client.get("/api/products?page=999999999999999999&limit=100")
    assert huge.status_code == 200 and huge.get_json()["data"] == []


def test_empty_list(client):
    body = client.get("/api/products").get_json()
    assert body["data"] == []
    assert body["meta"] == {"page": 1, "limit": 20, "total": 0, "pages": 0}
    assert body["links"]["prev"] is None and body["links"]["next"] is None
    assert _query(body["links"]["last"])["page"] == "1"


def test_defaults(client, products):
    body = client.get("/api/products").get_json()
    assert body["meta"]["limit"] == 20
    assert [p["id"] for p in body["data"]] == list(range(1, 21))
    desc = client.get("/api/products?sort=desc&limit=100").get_json()["data"]
    assert [p["id"] for p in desc] == list(range(37, 0, -1))


def _walk(client, url, headers=None, limit=4):
    """Follow next cursors from the first page; return every id seen, in order."""
    seen, pages = [], 0
    response = client.get(f"{url}&cursor=&limit={limit}", headers=headers)
    while True:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body["meta"]) == {"limit", "next_cursor", "has_more"}
        seen.extend(item["id"] for item in body["data"])
        pages += 1
        assert pages < 100
        if not body["meta"]["has_more"]:
            assert body["meta"]["next_cursor"] is None
            assert body["links"]["next"] is None
            assert "Link" not in response.headers or 'rel="next"' not in response.headers["Link"]
            return seen
        assert len(body["data"]) == limit
        next_link = body["links"]["next"]
        assert f'<{next_link}>; rel="next"' in response.headers["Link"]
        response = client.get(next_link, headers=headers)


def _expected_order(client, url, headers=None):
    """The order the offset pages give, which the cursor walk must match."""
    return [
        item["id"] for item in client.get(f"{url}&limit=100", headers=headers).get_json()["data"]
    ]


@pytest.mark.parametrize("order_by", ["id", "name", "price", "created_at"])
@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_product_cursor_walk_visits_every_row_once(client, products, order_by, sort):
    url = f"/api/products?order_by={order_by}&sort={sort}"
    seen = _walk(client, url)
    assert sorted(seen) == list(range(1, products + 1))
    assert seen == _expected_order(client, url)


def test_cursor_walk_with_filters_and_link_keeps_them(client, products):
    url = "/api/products?order_by=price&sort=desc&category=misc&min_price=1"
    seen = _walk(client, url, limit=3)
    assert seen == _expected_order(client, url)
    first = client.get(f"{url}&cursor=&limit=3").get_json()
    assert _query(first["links"]["next"])["category"] == "misc"
    assert _query(first["links"]["next"])["min_price"] == "1"


def test_cursor_first_page_meta(client, products):
    body = client.get("/api/products?cursor=&limit=10").get_json()
    assert body["meta"]["limit"] == 10 and body["meta"]["has_more"] is True
    assert "total" not in body["meta"]
    assert [p["id"] for p in body["data"]] == list(range(1, 11))


@pytest.mark.parametrize("order_by", ["id", "created_at", "rating"])
@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_feedback_cursor_walk(client, add_feedback, editor_headers, order_by, sort):
    add_feedback(
        *(
            {
                "name": "Someone",
                "email": "s@example.com",
                "message": "A message long enough.",
                "rating": [None, 1, 5, 5, 3][number % 5],
                "created_at": START + timedelta(seconds=number % 3),
            }
            for number in range(23)
        )
    )
    url = f"/api/feedback?order_by={order_by}&sort={sort}"
    seen = _walk(client, url, editor_headers)
    assert sorted(seen) == list(range(1, 24))
    assert seen == _expected_order(client, url, editor_headers)


@pytest.mark.parametrize("order_by", ["id", "name", "email", "created_at"])
@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_admin_users_cursor_walk(client, create_user, admin_headers, app, order_by, sort):
    for number in range(11):
        create_user(name=f"Same {number % 2}")
    with app.app_context():
        db.session.execute(db.update(User).values(created_at=START))
        db.session.commit()
    url = f"/api/admin/users?order_by={order_by}&sort={sort}"
    seen = _walk(client, url, admin_headers, limit=3)
    assert sorted(seen) == list(range(1, 13))
    assert seen == _expected_order(client, url, admin_headers)


# Queries whose pages are read with the list's statements built once per process
# (plumbing.pagination.ListStatements): every value they send is a bind parameter
# or a filter of their own request, never one kept from an earlier request.
AWKWARD_QUERIES = [
    "",
    "limit=1",
    "limit=100",
    "page=2&limit=7",
    "page=6&limit=7",
    "page=99&limit=7",
    "category=misc&limit=5",
    "category=odd",
    "q=name%201&limit=3",
    "q=%25",
    "q=_",
    "q=%5C",
    "q=ALL%25",
    "min_price=1.10&max_price=2.10&limit=4&page=2",
    "order_by=price&sort=desc&limit=9&page=2",
    "order_by=name&category=other&limit=6",
    "order_by=price&sort=desc&limit=4&cursor=",
    "order_by=name&category=misc&limit=2&cursor=",
    "q=name&min_price=2&cursor=",
]


@pytest.fixture
def awkward(products, add_products):
    """The 37 products and three whose names hold LIKE's wildcards and escape."""
    add_products(
        *(
            {"name": name, "price": Decimal("5.00"), "category": "odd"}
            for name in ("All 100% cotton", "snake_case", "back\\slash")
        )
    )
    return products + 3


def _reference(client, query, total_ids):
    """The ids a page of ``query`` must hold, worked out in Python from the items."""
    items = [client.get(f"/api/products/{i}").get_json() for i in range(1, total_ids + 1)]
    args = _query(f"?{query}")
    if "category" in args:
        items = [item for item in items if item["category"] == args["category"]]
    if "q" in args:
        items = [item for item in items if args["q"].lower() in item["name"].lower()]
    if "min_price" in args:
        items = [item for item in items if Decimal(item["price"]) >= Decimal(args["min_price"])]
    if "max_price" in args:
        items = [item for item in items if Decimal(item["price"]) <= Decimal(args["max_price"])]
    order_by = args.get("order_by", "id")

    def key(item):
        value = Decimal(item["price"]) if order_by == "price" else item[order_by]
        return (value, item["id"])

    items.sort(key=key, reverse=args.get("sort") == "desc")
    limit = int(args.get("limit", 20))
    page = int(args.get("page", 1))
    if "cursor=" in query:  # a first cursor page (``_query`` drops the empty value)
        return [item["id"] for item in items[:limit]], None
    return [item["id"] for item in items[(page - 1) * limit : page * limit]], len(items)


def _answer(client, query):
    response = client.get(f"/api/products?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_data(), response.headers.get("Link"), response.headers["ETag"]


def test_pages_answer_their_own_query_whatever_was_asked_before(awkward, make_app):
    """Each page holds its own query's rows, meta and links, and asked again after
    every other query (in another order), the same bytes, Link header and ETag."""
    client = make_app(CACHE_URL="none").test_client()
    first = {query: _answer(client, query) for query in AWKWARD_QUERIES}
    for query in reversed(AWKWARD_QUERIES):
        assert _answer(client, query) == first[query], query
    for query, (body, link, _etag) in first.items():
        page = json.loads(body)
        ids, total = _reference(client, query, awkward)
        assert [item["id"] for item in page["data"]] == ids, query
        if total is not None:
            assert page["meta"]["total"] == total, query
        expected_link = ", ".join(
            f'<{url}>; rel="{rel}"' for rel, url in page["links"].items() if url and rel != "self"
        )
        assert link == (expected_link or None), query
        for url in filter(None, page["links"].values()):
            kept = {k: v for k, v in _query(url).items() if k not in ("page", "cursor")}
            assert kept == {
                k: v for k, v in _query(f"?{query}").items() if k not in ("page", "cursor")
            }


def test_interleaved_cursor_walks_each_keep_their_own_position(awkward, make_app):
    """Two cursor walks of different filters and orders, a step of each in turn:
    each visits its own rows once, in its own order."""
    client = make_app(CACHE_URL="none").test_client()
    urls = [
        "/api/products?order_by=price&sort=desc&category=misc&limit=3&cursor=",
        "/api/products?order_by=name&min_price=1&limit=4&cursor=",
    ]
    seen = {url: [] for url in urls}
    following = dict.fromkeys(urls)
    while any(following.values()) or not any(seen.values()):
        for url in urls:
            if seen[url] and following[url] is None:
                continue
            body = client.get(following[url] or url).get_json()
            seen[url].extend(item["id"] for item in body["data"])
            following[url] = body["links"]["next"]
    for url in urls:
        assert seen[url] == _expected_order(
            client, url.removesuffix("&cursor=").replace("&limit=3", "").replace("&limit=4", "")
        )


def test_cursors_are_itsdangerous_default_format(client, app, products):
    """The service's cursors are what itsdangerous's default serializer makes and
    reads: cursors given out before the serializer was kept stay valid after."""
    default = URLSafeSerializer(app.config["SECRET_KEY"], salt=CURSOR_SALT)
    body = client.get("/api/products?order_by=price&limit=5&cursor=").get_json()
    binding, *position = default.loads(body["meta"]["next_cursor"])
    assert default.dumps([binding, *position]) == body["meta"]["next_cursor"]
    again = default.dumps([binding, *position])
    following = client.get(f"/api/products?order_by=price&limit=5&cursor={again}")
    assert following.status_code == 200, following.get_json()
    assert following.get_json()["data"][0]["id"] not in {item["id"] for item in body["data"]}
