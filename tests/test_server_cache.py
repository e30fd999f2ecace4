"""The server-side cache of public reads: hits, 304s from it, and read-your-writes.

A write whose catalog version bump is undone by hand (``rename_behind_the_cache``)
is how these tests tell a cached answer from a computed one: the database bumps
the version on every write to products, whoever makes it.
Read-your-writes is checked in-process, across several gunicorn workers with
one in-process cache each, and across two instances sharing one Redis.
"""

from decimal import Decimal

import pytest
import redis
from sqlalchemy import delete, insert, select, text, update

from config import ConfigError
from extensions import db
from features import server_cache
from models import Product
from models.catalog import CatalogVersion
from tests.conftest import SECRET_KEY, skip_or_fail
from tests.helpers import PASSWORD
from tests.servers import Gunicorn

LAMP = {"name": "Desk lamp", "price": "19.99", "category": "lighting"}


def create(client, headers, **fields):
    response = client.post("/api/products", json={**LAMP, **fields}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rename_behind_the_cache(app, product_id, name):
    """Change a product and then put the catalog version back as it was, as if
    the write had not bumped it: the cache cannot tell, so it serves old answers."""
    versions, products = CatalogVersion.__table__, Product.__table__
    with app.app_context(), db.engine.begin() as connection:
        token = connection.execute(select(versions.c.token)).scalar_one()
        connection.execute(update(products).where(products.c.id == product_id).values(name=name))
        connection.execute(update(versions).values(token=token))


READS = (
    "/api/products/{id}",
    "/api/products?limit=5",
    "/api/products?limit=5&cursor=",
    "/api/products?ids={id}",
)


def names_seen(client, product_id):
    """The product's name in each public read that shows it."""
    seen = []
    for path in READS:
        response = client.get(path.format(id=product_id))
        assert response.status_code == 200
        body = response.get_json()
        items = body.get("data", [body])
        seen.append(next(item["name"] for item in items if item["id"] == product_id))
    return seen


def test_reads_are_served_from_the_cache_until_a_write(app, client, editor_headers):
    product = create(client, editor_headers)
    assert names_seen(client, product["id"]) == ["Desk lamp"] * 4

    rename_behind_the_cache(app, product["id"], "Changed behind the API")
    # Every read is answered from the cache: none shows the change.
    assert names_seen(client, product["id"]) == ["Desk lamp"] * 4

    # An operator who wrote around the API makes the cache let go of the catalog.
    result = app.test_cli_runner().invoke(args=["bump-catalog-version"])
    assert result.exit_code == 0, result.output
    assert names_seen(client, product["id"]) == ["Changed behind the API"] * 4


def _write_with_core(connection, product_id):
    products = Product.__table__
    connection.execute(
        update(products).where(products.c.id == product_id).values(name="Written with Core")
    )
    return "Written with Core"


def _write_with_sql(connection, product_id):
    connection.execute(
        text("UPDATE products SET name = 'Written with SQL' WHERE id = :id"), {"id": product_id}
    )
    return "Written with SQL"


@pytest.mark.parametrize("write", [_write_with_core, _write_with_sql])
def test_a_write_outside_the_orm_is_seen_by_every_read(app, client, editor_headers, write):
    # The database bumps the catalog version itself: a Core statement or raw SQL
    # on a connection of its own (no ORM session) makes the cache miss too.
    product = create(client, editor_headers)
    assert names_seen(client, product["id"]) == ["Desk lamp"] * 4
    with app.app_context(), db.engine.begin() as connection:
        name = write(connection, product["id"])
    assert names_seen(client, product["id"]) == [name] * 4


def test_rows_added_and_removed_outside_the_orm_show_at_once(app, client, editor_headers):
    first = create(client, editor_headers)
    assert client.get("/api/products?limit=5").get_json()["meta"]["total"] == 1
    products = Product.__table__
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            insert(products).values(name="Added with Core", price=Decimal(5), category="lighting")
        )
    page = client.get("/api/products?limit=5").get_json()
    assert [item["name"] for item in page["data"]] == ["Desk lamp", "Added with Core"]

    with app.app_context(), db.engine.begin() as connection:
        connection.execute(delete(products).where(products.c.id == first["id"]))
    assert client.get(f"/api/products/{first['id']}").status_code == 404
    page = client.get("/api/products?limit=5").get_json()
    assert [item["name"] for item in page["data"]] == ["Added with Core"]

    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM products"))
    assert client.get("/api/products?limit=5").get_json()["data"] == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_every_read_shows_a_write_as_soon_as_it_is_answered(client, editor_headers, method):
    product = create(client, editor_headers)
    assert names_seen(client, product["id"]) == ["Desk lamp"] * 4
    body = {**LAMP, "description": None, "name": "Floor lamp"}
    if method == "PATCH":
        body = {"name": "Floor lamp"}
    response = client.open(
        f"/api/products/{product['id']}", method=method, json=body, headers=editor_headers
    )
    assert response.status_code == 200
    assert names_seen(client, product["id"]) == ["Floor lamp"] * 4


def test_created_and_deleted_products_show_at_once(client, editor_headers, admin_headers):
    first = create(client, editor_headers)
    page = client.get("/api/products?limit=5").get_json()
    assert page["meta"]["total"] == 1

    second = create(client, editor_headers, name="Second lamp")
    page = client.get("/api/products?limit=5").get_json()
    assert page["meta"]["total"] == 2
    assert [item["id"] for item in page["data"]] == [first["id"], second["id"]]
    batch = client.get(f"/api/products?ids={first['id']},{second['id']}").get_json()
    assert batch["meta"]["missing_ids"] == []

    assert client.delete(f"/api/products/{first['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"/api/products/{first['id']}").status_code == 404
    page = client.get("/api/products?limit=5").get_json()
    assert page["meta"]["total"] == 1
    batch = client.get(f"/api/products?ids={first['id']},{second['id']}").get_json()
    assert batch["meta"]["missing_ids"] == [first["id"]]


def test_etag_and_304_are_answered_from_the_cache(app, client, editor_headers):
    product = create(client, editor_headers)
    path = f"/api/products/{product['id']}"
    first = client.get(path)
    etag = first.headers["ETag"]
    list_etag = client.get("/api/products?limit=5").headers["ETag"]

    rename_behind_the_cache(app, product["id"], "Changed behind the API")
    cached = client.get(path, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.headers["ETag"] == etag
    assert cached.headers["Cache-Control"] == "public, no-cache"
    assert cached.get_data() == b""
    hit = client.get(path)
    assert hit.status_code == 200
    assert hit.get_data() == first.get_data()
    assert hit.headers["ETag"] == etag
    assert hit.headers["Content-Type"] == "application/json"
    listed = client.get("/api/products?limit=5", headers={"If-None-Match": list_etag})
    assert listed.status_code == 304
    assert listed.headers["Cache-Control"] == "public, max-age=30"

    # After a write through the API the old ETag no longer matches anywhere.
    response = client.patch(path, json={"name": "New name"}, headers=editor_headers)
    assert response.status_code == 200
    fresh = client.get(path, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.get_json()["name"] == "New name"
    assert fresh.headers["ETag"] == response.headers["ETag"] != etag
    relisted = client.get("/api/products?limit=5", headers={"If-None-Match": list_etag})
    assert relisted.status_code == 200


def test_cached_answers_keep_the_per_request_headers(client, editor_headers):
    create(client, editor_headers)
    client.get("/api/products?limit=1")
    hit = client.get("/api/products?limit=1", headers={"X-Request-ID": "cached-1"})
    assert hit.headers["X-Request-ID"] == "cached-1"
    assert hit.headers["X-Content-Type-Options"] == "nosniff"
    assert "Link" in hit.headers and 'rel="first"' in hit.headers["Link"]


def test_errors_are_not_cached(client, editor_headers):
    assert client.get("/api/products/999").status_code == 404
    product = create(client, editor_headers)
    assert product["id"] != 999
    assert client.get("/api/products?limit=0").status_code == 400
    assert client.get("/api/products?limit=0").status_code == 400


def test_links_follow_the_host_asked_for(client, editor_headers):
    create(client, editor_headers)
    one = client.get("/api/products?limit=1", base_url="http://one.example")
    two = client.get("/api/products?limit=1", base_url="http://two.example")
    assert one.get_json()["links"]["self"].startswith("http://one.example/")
    assert two.get_json()["links"]["self"].startswith("http://two.example/")


def test_config_is_cached_with_its_etag(client):
    first = client.get("/api/config")
    assert first.status_code == 200
    again = client.get("/api/config", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/api/config").get_json() == first.get_json()


def test_cache_url_none_computes_every_read(make_app, editor_headers):
    app = make_app(CACHE_URL="none")
    client = app.test_client()
    product = create(client, editor_headers)
    etag = client.get(f"/api/products/{product['id']}").headers["ETag"]
    rename_behind_the_cache(app, product["id"], "Changed behind the API")
    assert names_seen(client, product["id"]) == ["Changed behind the API"] * 4
    response = client.get(f"/api/products/{product['id']}", headers={"If-None-Match": etag})
    assert response.status_code == 200  # the ETag of what the database holds now
    current = response.headers["ETag"]
    assert (
        client.get(f"/api/products/{product['id']}", headers={"If-None-Match": current}).status_code
        == 304
    )


@pytest.mark.parametrize("value", ["memcached://localhost", "redis", "off"])
def test_a_bad_cache_url_stops_the_start(make_app, value):
    with pytest.raises(ConfigError) as raised:
        make_app(CACHE_URL=value)
    assert raised.value.name == "CACHE_URL"


def test_an_unreachable_cache_store_never_fails_a_read(make_app, editor_headers):
    app = make_app(CACHE_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    product = create(client, editor_headers)
    for _ in range(2):
        assert names_seen(client, product["id"]) == ["Desk lamp"] * 4
    rename_behind_the_cache(app, product["id"], "Changed behind the API")
    assert names_seen(client, product["id"]) == ["Changed behind the API"] * 4


def test_each_retry_of_an_unreachable_store_logs_one_warning(
    make_app, add_products, caplog, monkeypatch
):
    """The docs: a failed store logs one warning and is left alone for a while;
    with no pause at all, each request is a retry and logs one warning."""
    monkeypatch.setattr(server_cache, "RETRY_AFTER_FAILURE", 0.0)
    client = make_app(CACHE_URL="redis://127.0.0.1:1/0").test_client()
    (product_id,) = add_products({})
    caplog.set_level("WARNING", logger="api.server_cache")
    for _ in range(3):
        assert client.get(f"/api/products/{product_id}").status_code == 200
    warnings = [r for r in caplog.records if r.name == "api.server_cache"]
    assert len(warnings) == 3, [r.getMessage() for r in warnings]


def test_a_redis_store_serves_every_app_on_it(make_app, redis_url, editor_headers):
    first = make_app(CACHE_URL=redis_url)
    second = make_app(CACHE_URL=redis_url)
    product = create(first.test_client(), editor_headers)
    assert names_seen(first.test_client(), product["id"]) == ["Desk lamp"] * 4
    assert redis.Redis.from_url(redis_url).keys("api-cache:*")
    rename_behind_the_cache(first, product["id"], "Changed behind the API")
    # The second app never computed these reads: they come from the shared store.
    assert names_seen(second.test_client(), product["id"]) == ["Desk lamp"] * 4
    response = second.test_client().patch(
        f"/api/products/{product['id']}", json={"name": "Floor lamp"}, headers=editor_headers
    )
    assert response.status_code == 200
    assert names_seen(first.test_client(), product["id"]) == ["Floor lamp"] * 4


# --- several processes --------------------------------------------------------


@pytest.fixture
def start_servers(make_app, database_url, tmp_path):
    """Start gunicorn servers on the test database; each call takes settings."""
    make_app()  # its teardown empties the tables the servers fill
    started = []

    def start(workers="3", **overrides):
        settings = {
            "FLASK_SKIP_DOTENV": "1",
            "APP_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": "false",
            **overrides,
        }
        log_path = tmp_path / f"server-{len(started)}.log"
        server = Gunicorn(settings, workers=workers, log_path=log_path)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


def _editor_token(server, editor):
    status, _, body = server.request_json(
        "POST", "/api/auth/login", {"email": editor.email, "password": PASSWORD}
    )
    assert status == 200, body
    return {"Authorization": f"Bearer {body['access_token']}"}


def _names_over_http(server, product_id, repeat):
    """The product's name in every public read, each read ``repeat`` times (so
    every worker answers some: sync workers take connections as they come)."""
    names = set()
    for _ in range(repeat):
        for path in READS:
            status, _, body = server.request_json("GET", path.format(id=product_id))
            assert status == 200, body
            items = body.get("data", [body])
            names.update(item["name"] for item in items if item["id"] == product_id)
    return names


def _write_then_read_everywhere(writer, readers, headers, rounds=3, repeat=6):
    status, _, product = writer.request_json("POST", "/api/products", LAMP, headers)
    assert status == 201, product
    for server in readers:
        assert _names_over_http(server, product["id"], repeat) == {"Desk lamp"}
    for number in range(rounds):
        name = f"Lamp {number}"
        status, _, body = writer.request_json(
            "PATCH", f"/api/products/{product['id']}", {"name": name}, headers
        )
        assert status == 200, body
        for server in readers:
            # Every worker had the old answers cached; none may serve them now.
            assert _names_over_http(server, product["id"], repeat) == {name}


@pytest.mark.servers
def test_several_workers_with_their_own_caches_read_each_write(start_servers, editor):
    server = start_servers(workers="3", CACHE_URL="simple://")
    _write_then_read_everywhere(server, [server], _editor_token(server, editor))


@pytest.mark.servers
def test_two_instances_on_one_redis_read_each_others_writes(
    start_servers, database_url, redis_url, editor
):
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    first = start_servers(workers="2", CACHE_URL=redis_url)
    second = start_servers(workers="2", CACHE_URL=redis_url)
    headers = _editor_token(first, editor)
    _write_then_read_everywhere(first, [first, second], headers)
    _write_then_read_everywhere(second, [first, second], headers)
    assert redis.Redis.from_url(redis_url).keys("api-cache:*")
