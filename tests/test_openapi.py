"""The OpenAPI document: valid OpenAPI 3.1, complete, and served like public data."""

import re

import pytest
from openapi_spec_validator import validate

from tests.helpers import assert_problem

# Routes that are not API operations: the docs page's static assets.
UNDOCUMENTED_ENDPOINTS = {"swagger_ui.show", "static"}
DOCUMENTED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_and_method_is_documented(app, document):
    served = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDOCUMENTED_ENDPOINTS
        for method in rule.methods & DOCUMENTED_METHODS
    }
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert served == documented


def test_operations_carry_summary_security_and_roles(document):
    create = document["paths"]["/api/users"]["post"]
    assert create["summary"] == "Create a user with any role (admin)."
    assert create["security"] == [{"bearerAuth": []}]
    assert create["x-required-roles"] == ["admin"]
    assert {"401", "403", "409", "415", "429"} <= create["responses"].keys()
    assert "Location" in create["responses"]["201"]["headers"]
    assert "security" not in document["paths"]["/api/auth/login"]["post"]
    assert "WWW-Authenticate" in create["responses"]["401"]["headers"]
    assert "Retry-After" in create["responses"]["429"]["headers"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_put_and_patch_bodies_differ_in_what_is_required(document):
    schemas = document["components"]["schemas"]
    assert set(schemas["UserUpdate"]["required"]) == {"name", "email"}
    assert "required" not in schemas["UserUpdatePatch"]
    item = document["paths"]["/api/users/{user_id}"]
    assert item["patch"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UserUpdatePatch"
    }


def test_trimmed_lengths_are_documented_as_a_pattern(document):
    pattern = re.compile(
        document["components"]["schemas"]["Register"]["properties"]["name"]["pattern"]
    )
    assert pattern.search("  Ann  ")
    assert pattern.search(" " + "a" * 100 + " ")
    assert not pattern.search("   ")
    assert not pattern.search("\x1d\u3000\x85")  # white space to str.strip(), not to ECMA \s
    assert not pattern.search("a" * 101)


def test_document_is_public_and_revalidated_with_its_etag(client):
    first = client.get("/api/openapi.json")
    assert first.headers["Cache-Control"] == "public, no-cache"
    etag = first.headers["ETag"]
    again = client.get("/api/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_docs_page_is_served_with_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assert "/api/docs/swagger-ui-bundle.js" in html
    assert "//" not in "".join(re.findall(r'(?:src|href|Url)"?[=:] ?"([^"]*)"', html))
    assert "http://" not in html and "https://" not in html
    asset = client.get("/api/docs/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert asset.mimetype == "text/javascript"


@pytest.mark.parametrize(
    "path", ["/api/docs/../../app.py", "/api/docs/..%2F..%2Fapp.py", "/api/docs/%2e%2e/config.py"]
)
def test_docs_assets_cannot_escape_the_package(client, path):
    assert_problem(client.get(path), 404, "NOT_FOUND")


def _field_pattern(document, schema, field):
    return re.compile(document["components"]["schemas"][schema]["properties"][field]["pattern"])


def test_optional_trimmed_text_may_be_empty(document, client, editor_headers):
    pattern = _field_pattern(document, "Product", "description")
    assert pattern.search("") and pattern.search("   ")
    assert not pattern.search("a" * 5001)
    created = client.post(
        "/api/products",
        json={"name": "Lamp", "price": "1", "category": "c", "description": "   "},
        headers=editor_headers,
    )
    assert created.status_code == 201
    assert created.get_json()["description"] == ""


@pytest.mark.parametrize(
    ("price", "valid"),
    [
        ("12.50", True),
        (" 5 ", True),
        ("1.230", True),
        ("-0", True),
        ("1000000.00", True),
        ("0", True),
        ("1000000.01", False),
        ("-1", False),
        ("1.234", False),
        ("1,50", False),
        ("1e3", False),
        ("NaN", False),
        (".5", False),
    ],
)
def test_price_rule_is_the_service_rule(document, client, editor_headers, price, valid):
    pattern = _field_pattern(document, "Product", "price")
    assert bool(pattern.search(price)) is valid
    body = {"name": "Lamp", "price": price, "category": "c"}
    answer = client.post("/api/products", json=body, headers=editor_headers)
    assert answer.status_code == (201 if valid else 400)


@pytest.mark.parametrize(
    ("ids", "valid"),
    [
        ("1", True),
        ("3, 1 ,2", True),
        ("007", True),
        ("9" * 18, True),
        (",".join(["1"] * 100), True),
        ("0", False),
        ("00", False),
        ("9" * 19, False),
        ("1,,2", False),
        ("", False),
        ("-1", False),
        (",".join(["1"] * 101), False),
    ],
)
def test_id_list_rule_is_the_service_rule(document, client, ids, valid):
    parameter = next(
        p for p in document["paths"]["/api/products"]["get"]["parameters"] if p["name"] == "ids"
    )
    assert bool(re.search(parameter["schema"]["pattern"], ids)) is valid
    assert client.get("/api/products", query_string={"ids": ids}).status_code == (
        200 if valid else 400
    )
