"""Unknown query parameters are 400 on every operation, before anything changes.

Each view decides what it accepts in its own parse step: ``parse_query(SCHEMA)``
when it takes parameters, ``parse_no_query()`` when it takes none. ``@doc(query=)``
only documents them, so the drift tests at the end check, for every operation in
the document, that what it documents is what it accepts.
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


def test_credentials_are_checked_before_the_query(client, viewer_headers):
    # The auth decorators run before the view's parse step: a caller without a
    # valid token or the right role learns nothing about the operation's
    # parameters, as with a body (docs/adding-a-resource.md).
    assert_problem(client.get("/api/auth/me?x=1"), 401, "UNAUTHENTICATED")
    assert_problem(client.get("/api/products/export?x=1", headers=viewer_headers), 403, "FORBIDDEN")
    assert_problem(client.get("/api/feedback?x=1", headers=viewer_headers), 403, "FORBIDDEN")


def test_a_replay_refuses_unknown_parameters_as_the_view_would(app, client, editor_headers):
    headers = {**editor_headers, "Idempotency-Key": "query-replay"}
    first = client.post("/api/products", json=PRODUCT, headers=headers)
    assert first.status_code == 201
    assert_unknown(client.post("/api/products?x=1", json=PRODUCT, headers=headers), "x")
    again = client.post("/api/products", json=PRODUCT, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(app, Product) == 1


# --- drift between the document and what each operation accepts -------------

UNKNOWN = "zz_not_a_parameter"
# Valid values for the parameters whose schema alone does not give one.
EXAMPLES = {"min_price": "1.00", "max_price": "1.00", "ids": "1", "cursor": ""}


def _filled(path):
    """The document's path with every {parameter} as 1."""
    parts = ["1" if part.startswith("{") else part for part in path.split("/")]
    return "/".join(parts)


def _documented(client):
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":  # the path's own (ids), not an operation
                continue
            query = {
                parameter["name"]: parameter["schema"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "query"
            }
            yield method, _filled(path), operation["operationId"], query


def _example(name, schema):
    if name in EXAMPLES:
        return EXAMPLES[name]
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return str(max(schema.get("minimum", 1), 1))
    return "a"


def _call(client, method, path, params, headers):
    return client.open(path, method=method.upper(), query_string=params, headers=headers)


def test_every_operation_refuses_what_it_does_not_document(client, admin_headers):
    """An unknown name, and every parameter another operation documents, is 400
    VALIDATION_ERROR naming it on each operation that does not document it: a
    view that parses nothing (parameters silently ignored) or parses parameters
    its @doc leaves out fails here. Sent as an admin, whom every operation
    admits, so the view's parse step is reached."""
    operations = list(_documented(client))
    every_parameter = {name: schema for *_, query in operations for name, schema in query.items()}
    checked = 0
    for method, path, operation_id, query in operations:
        for name in [UNKNOWN, *sorted(every_parameter.keys() - query.keys())]:
            params = {name: _example(name, every_parameter.get(name, {}))}
            response = _call(client, method, path, params, admin_headers)
            assert response.status_code == 400, (operation_id, name, response.status_code)
            body = response.get_json()
            assert body["code"] == "VALIDATION_ERROR", (operation_id, name)
            assert body["errors"].get(name) == ["Unknown field."], (operation_id, name, body)
            checked += 1
    assert checked > len(operations)


def test_every_documented_parameter_is_accepted(client, admin_headers):
    """Each parameter an operation documents, sent alone with a valid value, is
    answered 200: a parameter documented but refused (a view that calls
    parse_no_query, or a schema without it) fails here."""
    documented = [op for op in _documented(client) if op[3]]
    assert {operation_id for _, _, operation_id, _ in documented} >= {
        "products_list_products",
        "products_export_products",
        "admin_list_users",
        "feedback_list_feedback",
    }
    for method, path, operation_id, query in documented:
        for name, schema in query.items():
            response = _call(client, method, path, {name: _example(name, schema)}, admin_headers)
            assert response.status_code == 200, (operation_id, name, response.get_json())
