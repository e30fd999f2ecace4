"""TRUSTED_HOSTS: a forged Host never reaches a link, a Link header or a Location."""

import json
import logging

import pytest

from config import ConfigError, load_settings
from tests.helpers import assert_problem


@pytest.fixture
def products(app, editor_headers, client):
    for number in range(3):
        response = client.post(
            "/api/products",
            headers=editor_headers,
            json={"name": f"P{number}", "price": "1.00", "category": "c"},
        )
        assert response.status_code == 201


@pytest.fixture
def guarded(make_app):
    return make_app(TRUSTED_HOSTS="api.example.com, localhost:5000").test_client()


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:443", "api.example.com.evil.example", "localhost.evil"]
)
def test_a_host_not_on_the_list_is_400_invalid_host(guarded, host):
    response = guarded.get("/api/products", headers={"Host": host})
    body = assert_problem(response, 400, "INVALID_HOST")
    assert host not in json.dumps(body)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/products/1", "/api/nowhere", "//api//products", "/healthz"])
def test_every_route_checks_the_host_first(guarded, path):
    response = guarded.get("/", environ_overrides={"PATH_INFO": path}, headers={"Host": "evil"})
    assert_problem(response, 400, "INVALID_HOST")
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "host", ["api.example.com", "api.example.com:8443", "localhost", "localhost:8000"]
)
def test_a_listed_host_is_answered_whatever_the_port(guarded, host):
    response = guarded.get("/api/products", headers={"Host": host})
    assert response.status_code == 200
    assert response.get_json()["links"]["self"].startswith(f"http://{host}/")


@pytest.mark.parametrize("host", ["API.Example.com", "LOCALHOST:5000"])
def test_a_listed_host_in_capitals_is_the_same_host(guarded, host):
    response = guarded.get("/api/products", headers={"Host": host})
    assert response.status_code == 200
    assert response.get_json()["links"]["self"].startswith(f"http://{host.lower()}/")


def test_a_forwarded_host_in_capitals_is_the_same_host(make_app):
    client = make_app(TRUSTED_HOSTS="api.example.com", TRUSTED_PROXIES=1).test_client()
    response = client.get(
        "/api/products", headers={"Host": "10.0.0.5", "X-Forwarded-Host": "Api.Example.COM"}
    )
    assert response.status_code == 200
    assert response.get_json()["links"]["self"].startswith("http://api.example.com/")


def test_links_and_link_header_use_only_the_trusted_host(make_app, products):
    client = make_app(TRUSTED_HOSTS="api.example.com").test_client()
    response = client.get("/api/products?limit=1", headers={"Host": "api.example.com"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert "api.example.com" in response.headers["Link"]
    forged = client.get("/api/products?limit=1", headers={"Host": "evil.example"})
    assert_problem(forged, 400, "INVALID_HOST")
    assert "Link" not in forged.headers and "evil" not in forged.get_data(as_text=True)


def test_forwarded_host_through_a_trusted_proxy_is_checked_too(make_app):
    client = make_app(TRUSTED_HOSTS="api.example.com", TRUSTED_PROXIES=1).test_client()
    forged = client.get(
        "/api/products", headers={"Host": "api.example.com", "X-Forwarded-Host": "evil.example"}
    )
    assert_problem(forged, 400, "INVALID_HOST")
    ok = client.get(
        "/api/products", headers={"Host": "10.0.0.5", "X-Forwarded-Host": "api.example.com"}
    )
    assert ok.status_code == 200


def test_without_the_setting_any_host_is_answered_but_redirects_never_name_it(client, products):
    response = client.get("/api/products", headers={"Host": "anything.example"})
    assert response.status_code == 200
    redirect = client.get(
        "/", environ_overrides={"PATH_INFO": "//api//products"}, headers={"Host": "evil.example"}
    )
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == "/api/products"


def test_the_document_lists_invalid_host_only_when_hosts_are_checked(make_app, client):
    def codes(document):
        return {
            code
            for item in document["paths"].values()
            for operation in item.values()
            if isinstance(operation, dict) and "responses" in operation
            for response in operation["responses"].values()
            for part in response.get("content", {})
            .get("application/problem+json", {})
            .get("schema", {})
            .get("allOf", [])
            for code in part.get("properties", {}).get("code", {}).get("enum", [])
        }

    assert "INVALID_HOST" not in codes(client.get("/api/openapi.json").get_json())
    guarded = make_app(TRUSTED_HOSTS="localhost").test_client()
    document = guarded.get("/api/openapi.json").get_json()
    every_operation = [
        operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    ]
    for operation in every_operation:
        assert "INVALID_HOST" in operation["responses"]["400"]["description"]
    assert "INVALID_HOST" in codes(document)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", None),
        ("api.example.com", ["api.example.com"]),
        (" API.Example.com:8443 , localhost ", ["api.example.com", "localhost"]),
        (".example.com", [".example.com"]),
    ],
)
def test_the_setting_is_read_as_host_names(tmp_path, raw, parsed):
    settings = load_settings({"TRUSTED_HOSTS": raw}, str(tmp_path))
    assert settings["TRUSTED_HOSTS"] == parsed


@pytest.mark.parametrize(
    "raw", ["*", "https://api.example.com", "api.example.com/x", "a b", "x:port"]
)
def test_a_bad_value_stops_the_start_naming_the_setting(tmp_path, raw):
    with pytest.raises(ConfigError) as error:
        load_settings({"TRUSTED_HOSTS": raw}, str(tmp_path))
    assert error.value.name == "TRUSTED_HOSTS"


def test_production_without_trusted_hosts_warns_at_start(make_app, caplog):
    caplog.set_level(logging.WARNING)
    make_app(APP_ENV="production")
    warnings = [r for r in caplog.records if "TRUSTED_HOSTS" in r.getMessage()]
    assert [r.levelname for r in warnings] == ["WARNING"]
    caplog.clear()
    make_app(APP_ENV="production", TRUSTED_HOSTS="api.example.com")
    make_app()  # development: no warning either
    assert not [r for r in caplog.records if "TRUSTED_HOSTS" in r.getMessage()]
