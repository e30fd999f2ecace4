"""Unknown query parameters are 400 on every operation, before anything changes.

Operations with a query schema check their own parameters; the rest take none,
and ``validation.reject_undeclared_query`` refuses any they are sent.
"""

import pytest

from extensions import db
from models import Feedback, Product, User
from tests.helpers import VALID_FEEDBACK, VALID_PRODUCT, assert_problem

PRODUCT = {**VALID_PRODUCT, "description": None}


@pytest.fixture
def product_id(add_products):
    [product_id] = add_products({})
    return product_id


def assert_unknown(response, *names):
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {name: ["Unknown field."] for name in names}


def count(app, model):
    with app.app_context():
        return db.session.query(model).count()


def test_read_of_a_user_names_the_unknown_parameter(client, viewer, viewer_headers):
    assert_unknown(client.get(f"/api/users/{viewer.id}?foo=1", headers=viewer_headers), "foo")


def test_every_unknown_parameter_is_named(client, viewer_headers):
    assert_unknown(client.get("/api/auth/me?x=1&y=&x=2", headers=viewer_headers), "x", "y")


@pytest.mark.parametrize(
    "path", ["/healthz?x=1", "/readyz?x=1", "/api/config?x=1", "/api/openapi.json?x=1"]
)
def test_public_operations_without_parameters_refuse_them(client, path):
    assert_unknown(client.get(path), "x")


def test_head_is_refused_like_get(client):
    response = client.head("/api/config?x=1")
    assert response.status_code == 400


def test_lists_name_unknown_parameters_through_their_schema(client):
    assert_unknown(client.get("/api/products?foo=1"), "foo")


def test_create_with_an_unknown_parameter_creates_nothing(app, client, editor_headers):
    response = client.post("/api/products?x=1", json=PRODUCT, headers=editor_headers)
    assert_unknown(response, "x")
    assert count(app, Product) == 0
    assert_unknown(client.post("/api/feedback?x=1", json=VALID_FEEDBACK), "x")
    assert count(app, Feedback) == 0


def test_update_with_an_unknown_parameter_changes_nothing(client, editor_headers, product_id):
    before = client.get(f"/api/products/{product_id}")
    for method in ("put", "patch"):
        response = getattr(client, method)(
            f"/api/products/{product_id}?dry_run=1",
            json={**PRODUCT, "name": "Changed"},
            headers=editor_headers,
        )
        assert_unknown(response, "dry_run")
    after = client.get(f"/api/products/{product_id}")
    assert after.get_json() == before.get_json()
    assert after.headers["ETag"] == before.headers["ETag"]


def test_delete_with_an_unknown_parameter_deletes_nothing(
    app, client, admin, admin_headers, product_id
):
    assert_unknown(
        client.delete(f"/api/products/{product_id}?force=1", headers=admin_headers), "force"
    )
    assert client.get(f"/api/products/{product_id}").status_code == 200
    users = count(app, User)
    assert_unknown(client.delete(f"/api/users/{admin.id}?x=1", headers=admin_headers), "x")
    assert count(app, User) == users


def test_logout_with_an_unknown_parameter_keeps_the_token(client, viewer_headers):
    assert_unknown(client.post("/api/auth/logout?x=1", headers=viewer_headers), "x")
    assert client.get("/api/auth/me", headers=viewer_headers).status_code == 200


def test_routing_errors_come_first(client, admin_headers):
    assert_problem(client.get("/api/nothing-here?x=1"), 404, "NOT_FOUND")
    assert_problem(
        client.patch("/api/auth/me?x=1", headers=admin_headers), 405, "METHOD_NOT_ALLOWED"
    )
    assert_problem(client.get("/api/users/abc?x=1", headers=admin_headers), 400, "INVALID_ID")


def test_options_and_cors_preflight_still_pass(make_app):
    client = make_app(ALLOWED_ORIGINS="https://app.example.com").test_client()
    assert client.options("/api/users/1?x=1").status_code == 204
    preflight = client.options(
        "/api/products/1?x=1",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "If-Match, Content-Type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_docs_assets_accept_cache_busting_parameters(client):
    assert client.get("/api/docs/swagger-ui.css?v=5").status_code == 200


def test_the_document_lists_the_400_on_operations_without_parameters(client):
    document = client.get("/api/openapi.json").get_json()
    health = document["paths"]["/healthz"]["get"]
    assert "parameters" not in health
    assert "VALIDATION_ERROR" in health["responses"]["400"]["description"]
    assert "Query parameters an operation does not list are 400" in document["info"]["description"]
