"""Products: reads, writes, role rules, price precision, ETags, batch fetch."""

from decimal import Decimal

import pytest

from extensions import db
from models import Product
from tests.helpers import VALID_PRODUCT as VALID
from tests.helpers import assert_problem


def test_create_returns_product_location_and_etag(client, editor_headers, app):
    response = client.post("/api/products", json=VALID, headers=editor_headers)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {
        "id", "name", "description", "price", "category", "created_at", "updated_at"
    }  # fmt: skip
    assert body["price"] == "19.99" and body["description"] is None
    assert body["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/api/products/{body['id']}"
    assert response.headers["ETag"]
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert db.session.get(Product, body["id"]).price == Decimal("19.99")


def test_a_created_product_is_stored_as_answered(client, editor_headers, app):
    """The create answers from the row it wrote (``insert_one``), not from a read:
    the product read back is the same, to its ETag."""
    created = client.post("/api/products", json={**VALID, "price": 5}, headers=editor_headers)
    assert created.status_code == 201
    read = client.get(created.headers["Location"])
    assert read.get_json() == created.get_json()
    assert read.headers["ETag"] == created.headers["ETag"]


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("5", "5.00"),
        (5, "5.00"),
        ("0.10", "0.10"),
        (0.2, "0.20"),
        ("0", "0.00"),
        ("-0", "0.00"),
        (" 7.5 ", "7.50"),
        ("1000000", "1000000.00"),
        ("1.230", "1.23"),
        (999999.99, "999999.99"),
    ],
)
def test_price_is_exact_with_two_places(client, editor_headers, sent, shown):
    response = client.post("/api/products", json={**VALID, "price": sent}, headers=editor_headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["price"] == shown
    fetched = client.get(response.headers["Location"]).get_json()
    assert fetched["price"] == shown


def test_small_decimals_stay_exact_in_sums_and_filters(client, editor_headers):
    for price in ("0.10", "0.20", "0.30"):
        client.post("/api/products", json={**VALID, "price": price}, headers=editor_headers)
    prices = [p["price"] for p in client.get("/api/products").get_json()["data"]]
    assert sum(Decimal(p) for p in prices[:2]) == Decimal(prices[2]) == Decimal("0.30")
    # 0.1 + 0.2 is not 0.3 in floating point; the stored value must be exactly 0.30.
    exact = client.get("/api/products?min_price=0.30&max_price=0.30").get_json()["data"]
    assert [p["price"] for p in exact] == ["0.30"]


@pytest.mark.parametrize(
    "price",
    ["1.234", 1.234, "NaN", "Infinity", "-Infinity", "1,50", "1e3", "", "abc", True, False,
     None, "-1", -0.01, "1000000.01", 10**7, [], {}, "0x10", "1_000"],
)  # fmt: skip
def test_bad_prices_are_400(client, editor_headers, price):
    response = client.post("/api/products", json={**VALID, "price": price}, headers=editor_headers)
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert "price" in body["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 201),
        ("category", ""),
        ("category", "c" * 51),
        ("description", "d" * 5001),
        ("name", 5),
    ],
)
def test_bad_fields_are_400(client, editor_headers, field, value):
    response = client.post("/api/products", json={**VALID, field: value}, headers=editor_headers)
    assert field in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


@pytest.mark.parametrize("missing", ["name", "price", "category"])
def test_required_fields(client, editor_headers, missing):
    body = {k: v for k, v in VALID.items() if k != missing}
    response = client.post("/api/products", json=body, headers=editor_headers)
    assert missing in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


def test_bounds_are_accepted(client, editor_headers):
    body = {"name": "n" * 200, "category": "c" * 50, "description": "d" * 5000, "price": "0"}
    assert client.post("/api/products", json=body, headers=editor_headers).status_code == 201


@pytest.mark.parametrize("field", ["id", "created_at", "owner"])
def test_unknown_or_read_only_fields_are_400(client, editor_headers, field):
    response = client.post("/api/products", json={**VALID, field: 1}, headers=editor_headers)
    assert field in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


def test_item_is_public_with_etag_and_304(client, add_products):
    [product_id] = add_products({"name": "Chair", "price": Decimal("45.50")})
    response = client.get(f"/api/products/{product_id}")
    assert response.status_code == 200
    assert response.get_json()["price"] == "45.50"
    assert response.headers["Cache-Control"] == "public, no-cache"
    etag = response.headers["ETag"]
    again = client.get(f"/api/products/{product_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    weak = client.get(f"/api/products/{product_id}", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    other = client.get(f"/api/products/{product_id}", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


def test_missing_and_invalid_item_ids(client):
    assert_problem(client.get("/api/products/999"), 404, "NOT_FOUND")
    assert_problem(client.get("/api/products/abc"), 400, "INVALID_ID")
    assert_problem(client.get("/api/products/0"), 400, "INVALID_ID")


def test_put_replaces_and_requires_every_field(client, editor_headers, add_products, app):
    [product_id] = add_products({"description": "old"})
    url = f"/api/products/{product_id}"
    partial = client.put(url, json={"name": "New"}, headers=editor_headers)
    errors = assert_problem(partial, 400, "VALIDATION_ERROR")["errors"]
    assert set(errors) == {"price", "category", "description"}
    full = {**VALID, "description": None}
    response = client.put(url, json=full, headers=editor_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["description"] is None and body["name"] == "Desk lamp"
    assert response.headers["ETag"] == client.get(url).headers["ETag"]
    with app.app_context():
        assert db.session.get(Product, product_id).description is None


def test_patch_changes_only_what_is_sent(client, editor_headers, add_products):
    [product_id] = add_products({"name": "Stool", "description": "three legs"})
    response = client.patch(
        f"/api/products/{product_id}", json={"price": "12"}, headers=editor_headers
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["description"], body["price"]) == ("Stool", "three legs", "12.00")


def test_if_match(client, editor_headers, add_products):
    [product_id] = add_products({})
    url = f"/api/products/{product_id}"
    etag = client.get(url).headers["ETag"]

    stale = client.patch(url, json={"name": "A"}, headers={**editor_headers, "If-Match": '"x"'})
    assert_problem(stale, 412, "PRECONDITION_FAILED")
    assert client.get(url).get_json()["name"] == "Product 1"

    fresh = client.patch(url, json={"name": "A"}, headers={**editor_headers, "If-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] != etag
    replay = client.patch(url, json={"name": "B"}, headers={**editor_headers, "If-Match": etag})
    assert_problem(replay, 412, "PRECONDITION_FAILED")

    star = client.patch(url, json={"name": "C"}, headers={**editor_headers, "If-Match": "*"})
    assert star.status_code == 200
    new_etag = star.headers["ETag"]
    put = client.put(
        url, json={**VALID, "description": "x"}, headers={**editor_headers, "If-Match": new_etag}
    )
    assert put.status_code == 200


def test_if_match_on_delete(client, admin_headers, add_products):
    [product_id] = add_products({})
    url = f"/api/products/{product_id}"
    stale = client.delete(url, headers={**admin_headers, "If-Match": '"x"'})
    assert_problem(stale, 412, "PRECONDITION_FAILED")
    etag = client.get(url).headers["ETag"]
    assert client.delete(url, headers={**admin_headers, "If-Match": etag}).status_code == 204


def test_delete_by_admin(client, admin_headers, add_products, app):
    [product_id] = add_products({})
    response = client.delete(f"/api/products/{product_id}", headers=admin_headers)
    assert response.status_code == 204
    assert response.data == b""
    with app.app_context():
        assert db.session.get(Product, product_id) is None
    again = client.delete(f"/api/products/{product_id}", headers=admin_headers)
    assert_problem(again, 404, "NOT_FOUND")


WRITES = [
    ("post", "/api/products", ("editor", "admin")),
    ("put", "/api/products/{id}", ("editor", "admin")),
    ("patch", "/api/products/{id}", ("editor", "admin")),
    ("delete", "/api/products/{id}", ("admin",)),
]


@pytest.mark.parametrize(("method", "path", "allowed"), WRITES)
def test_role_rules_for_writes(client, create_user, login, add_products, method, path, allowed):
    [product_id] = add_products({})
    url = path.format(id=product_id)
    call = getattr(client, method)
    kwargs = {} if method == "delete" else {"json": {**VALID, "description": None}}

    assert_problem(call(url, **kwargs), 401, "UNAUTHENTICATED")
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert_problem(call(url, headers=bad_token, **kwargs), 401, "UNAUTHENTICATED")
    for role in ("viewer", "editor", "admin"):
        headers = login(create_user(role).email)
        response = call(url, headers=headers, **kwargs)
        if role in allowed:
            assert response.status_code in (200, 201, 204), response.get_json()
        else:
            assert_problem(response, 403, "FORBIDDEN")


def test_writes_need_json(client, editor_headers):
    response = client.post("/api/products", data="name=x", headers=editor_headers)
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_unsupported_methods_are_405_with_allow(client):
    collection = client.delete("/api/products")
    assert_problem(collection, 405, "METHOD_NOT_ALLOWED")
    assert set(collection.headers["Allow"].split(", ")) >= {"GET", "POST"}
    item = client.post("/api/products/1")
    assert_problem(item, 405, "METHOD_NOT_ALLOWED")
    assert set(item.headers["Allow"].split(", ")) >= {"GET", "PUT", "PATCH", "DELETE"}


# The list: filters, caching, batch fetch.


def test_list_is_public_and_cacheable(client, add_products):
    add_products({}, {})
    response = client.get("/api/products")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert "Authorization" not in response.headers.get("Vary", "")
    etag = response.headers["ETag"]
    cached = client.get("/api/products", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.data == b""
    other_page = client.get("/api/products?limit=1", headers={"If-None-Match": etag})
    assert other_page.status_code == 200


def test_list_etag_changes_when_a_product_changes(client, editor_headers, add_products):
    [product_id] = add_products({})
    etag = client.get("/api/products").headers["ETag"]
    client.patch(f"/api/products/{product_id}", json={"price": "2"}, headers=editor_headers)
    response = client.get("/api/products", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_json()["data"][0]["price"] == "2.00"


def test_errors_on_public_list_are_not_cacheable(client):
    response = client.get("/api/products?limit=abc")
    assert_problem(response, 400, "VALIDATION_ERROR")
    assert response.headers["Cache-Control"] == "no-store"


def _names(response):
    assert response.status_code == 200, response.get_json()
    return [product["name"] for product in response.get_json()["data"]]


def test_filters(client, add_products):
    add_products(
        {"name": "Red Chair", "category": "chairs", "price": Decimal("10.00")},
        {"name": "Blue chair", "category": "chairs", "price": Decimal("20.00")},
        {"name": "Chairman desk", "category": "desks", "price": Decimal("30.00")},
        {"name": "Lamp", "category": "lighting", "price": Decimal("20.01")},
    )
    assert _names(client.get("/api/products?category=chairs")) == ["Red Chair", "Blue chair"]
    assert _names(client.get("/api/products?category=Chairs")) == []
    assert _names(client.get("/api/products?q=CHAIR")) == [
        "Red Chair",
        "Blue chair",
        "Chairman desk",
    ]
    assert _names(client.get("/api/products?min_price=20&max_price=20.01")) == [
        "Blue chair",
        "Lamp",
    ]
    assert _names(client.get("/api/products?min_price=20.01")) == ["Chairman desk", "Lamp"]
    assert _names(client.get("/api/products?max_price=10")) == ["Red Chair"]
    combined = client.get("/api/products?category=chairs&q=blue&max_price=25")
    assert _names(combined) == ["Blue chair"]
    assert _names(client.get("/api/products?q=")) == _names(client.get("/api/products"))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("%", ["100% cotton"]),
        ("_", ["snake_case mug"]),
        ("\\", ["back\\slash"]),
        ("0%", ["100% cotton"]),
        ("e_c", ["snake_case mug"]),
    ],
)
def test_search_matches_wildcards_literally(client, add_products, q, expected):
    add_products(
        {"name": "100% cotton"},
        {"name": "snake_case mug"},
        {"name": "back\\slash"},
        {"name": "plain"},
        {"name": "snakeXcase"},
    )
    assert _names(client.get("/api/products", query_string={"q": q})) == expected


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("min_price=abc", "min_price"),
        ("min_price=-1", "min_price"),
        ("max_price=1.234", "max_price"),
        ("max_price=NaN", "max_price"),
        ("min_price=1000000.01", "min_price"),
        ("min_price=10&max_price=5", "min_price"),
        ("category=", "category"),
        ("category=" + "c" * 51, "category"),
        ("q=" + "q" * 201, "q"),
        ("color=red", "color"),
        ("category=a&category=b", "category"),
        ("order_by=description", "order_by"),
        ("order_by=rating", "order_by"),
    ],
)
def test_bad_filters_are_400(client, query, param):
    body = assert_problem(client.get(f"/api/products?{query}"), 400, "VALIDATION_ERROR")
    assert param in body["errors"]


def test_batch_fetch_in_order_asked(client, add_products):
    ids = add_products({"name": "A"}, {"name": "B"}, {"name": "C"})
    response = client.get(f"/api/products?ids={ids[2]},{ids[0]},999,{ids[1]}")
    assert _names(response) == ["C", "A", "B"]
    assert response.get_json()["meta"] == {"missing_ids": [999]}
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert response.headers["ETag"]


def test_batch_fetch_duplicates_appear_once(client, add_products):
    ids = add_products({"name": "A"}, {"name": "B"})
    response = client.get(f"/api/products?ids={ids[1]},{ids[0]},{ids[1]},999,999")
    assert _names(response) == ["B", "A"]
    assert response.get_json()["meta"] == {"missing_ids": [999]}


def test_batch_fetch_huge_ids_are_missing(client):
    response = client.get("/api/products?ids=99999999999999")
    assert response.get_json() == {"data": [], "meta": {"missing_ids": [99999999999999]}}


def test_batch_of_100_is_fine_101_is_not(client, add_products):
    ids = add_products(*({} for _ in range(3)))
    hundred = ",".join(str(i) for i in [*ids, *range(1000, 1097)])
    response = client.get(f"/api/products?ids={hundred}")
    assert len(response.get_json()["data"]) == 3
    assert len(response.get_json()["meta"]["missing_ids"]) == 97
    too_many = ",".join(str(i) for i in range(1, 102))
    body = assert_problem(client.get(f"/api/products?ids={too_many}"), 400, "VALIDATION_ERROR")
    assert "ids" in body["errors"]


@pytest.mark.parametrize(
    "ids", ["", "abc", "1,abc", "1,,2", "1,", "0", "-1", "1.5", "1;2", "\u0661", "+1"]
)
def test_malformed_ids_are_400(client, ids):
    body = assert_problem(
        client.get("/api/products", query_string={"ids": ids}), 400, "VALIDATION_ERROR"
    )
    assert "ids" in body["errors"]


@pytest.mark.parametrize("other", ["page=1", "limit=5", "cursor=", "sort=desc", "category=x"])
def test_batch_does_not_mix_with_paging_or_filters(client, other):
    body = assert_problem(client.get(f"/api/products?ids=1&{other}"), 400, "VALIDATION_ERROR")
    assert other.split("=")[0] in body["errors"]


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("1.0000000000000001", None),
        ("0.1", "0.10"),
        ("1e2", None),
        ("12.5", "12.50"),
        ("100", "100.00"),
    ],
)
def test_json_number_prices_are_read_exactly(client, editor_headers, price, expected):
    raw = '{"name": "Exact", "category": "tools", "price": ' + price + "}"
    response = client.post(
        "/api/products", headers=editor_headers, data=raw, content_type="application/json"
    )
    if expected is None:
        assert "price" in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]
    else:
        assert response.status_code == 201 and response.get_json()["price"] == expected
