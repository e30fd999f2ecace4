"""CORS as a browser sees it: allowed origins echoed everywhere, others get nothing."""

import pytest

from config import ConfigError
from plumbing.cors import ALLOWED_HEADERS, EXPOSED_HEADERS
from tests.helpers import PASSWORD

ALLOWED = "https://app.example.com"
OTHER_ALLOWED = "http://localhost:5173"
STRANGER = "https://evil.example.net"


@pytest.fixture
def cors_app(make_app):
    return make_app(ALLOWED_ORIGINS=f"{ALLOWED}, {OTHER_ALLOWED}")


@pytest.fixture
def cors_client(cors_app):
    return cors_app.test_client()


def cors_headers(response):
    return {name for name, _ in response.headers if name.lower().startswith("access-control-")}


def assert_allowed(response, origin=ALLOWED):
    assert response.headers.getlist("Access-Control-Allow-Origin") == [origin]
    assert "Origin" in response.vary
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == set(EXPOSED_HEADERS)
    assert "Access-Control-Allow-Credentials" not in response.headers


def assert_no_cors(response):
    assert cors_headers(response) == set()


def preflight(client, path, origin, method="POST", request_headers=None):
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if request_headers:
        headers["Access-Control-Request-Headers"] = request_headers
    return client.options(path, headers=headers)


def token_for(client, user):
    response = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.mark.parametrize("origin", [ALLOWED, OTHER_ALLOWED])
def test_allowed_origin_is_echoed_on_a_public_route(cors_client, origin):
    assert_allowed(cors_client.get("/healthz", headers={"Origin": origin}), origin)


def test_allowed_origin_is_echoed_on_an_authenticated_route(cors_client, viewer):
    headers = {**token_for(cors_client, viewer), "Origin": ALLOWED}
    response = cors_client.get("/api/auth/me", headers=headers)

    assert response.status_code == 200
    assert_allowed(response)


def test_other_origins_get_no_cors_headers(cors_client, viewer):
    headers = {**token_for(cors_client, viewer), "Origin": STRANGER}

    assert_no_cors(cors_client.get("/healthz", headers={"Origin": STRANGER}))
    response = cors_client.get("/api/auth/me", headers=headers)
    assert response.status_code == 200
    assert_no_cors(response)
    # The answer still depends on Origin, so caches must keep them apart.
    assert "Origin" in response.vary


def test_origin_match_is_exact(cors_client):
    for near_miss in (f"{ALLOWED}.evil.net", "http://app.example.com", f"{ALLOWED}:8443"):
        assert_no_cors(cors_client.get("/healthz", headers={"Origin": near_miss}))


def test_no_origin_header_means_no_cors_headers(cors_client):
    response = cors_client.get("/healthz")
    assert_no_cors(response)


@pytest.mark.parametrize(
    ("path", "method"),
    [("/api/auth/login", "POST"), ("/api/auth/me", "GET"), ("/api/users/1", "PATCH")],
)
def test_preflight_from_an_allowed_origin(cors_client, path, method):
    # No token: a browser never sends credentials on a preflight.
    response = preflight(cors_client, path, ALLOWED, method, "authorization, content-type")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_allowed(response)
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
    allowed = [h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")]
    assert allowed == ALLOWED_HEADERS
    assert response.headers["Access-Control-Max-Age"] == "86400"


def test_preflight_lists_every_allowed_header_even_when_none_are_requested(cors_client):
    response = preflight(cors_client, "/api/auth/login", ALLOWED)

    assert response.status_code == 204
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {
        "Authorization",
        "Content-Type",
        "Idempotency-Key",
        "If-Match",
        "If-None-Match",
        "X-Request-ID",
    }


def test_preflight_from_another_origin_gets_no_cors_headers(cors_client):
    response = preflight(cors_client, "/api/auth/login", STRANGER, "POST", "content-type")

    assert response.status_code == 204
    assert_no_cors(response)


def test_options_without_cors_is_204_with_allow(cors_client):
    response = cors_client.options("/api/auth/login")

    assert response.status_code == 204
    assert set(response.allow) == {"POST", "OPTIONS"}


def test_error_responses_carry_cors_headers(cors_app):
    @cors_app.get("/api/boom")
    def boom():
        raise RuntimeError("boom")

    client = cors_app.test_client()
    origin = {"Origin": ALLOWED}
    responses = {
        404: client.get("/api/nope", headers=origin),
        405: client.delete("/healthz", headers=origin),
        401: client.get("/api/auth/me", headers=origin),
        500: client.get("/api/boom", headers=origin),
    }
    for status, response in responses.items():
        assert response.status_code == status
        assert response.mimetype == "application/problem+json"
        assert_allowed(response)


def test_rate_limited_response_carries_cors_headers(make_app):
    app = make_app(
        ALLOWED_ORIGINS=ALLOWED, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1 per minute"
    )
    client = app.test_client()
    client.get("/api/auth/me", headers={"Origin": ALLOWED})

    response = client.get("/api/auth/me", headers={"Origin": ALLOWED})
    assert response.status_code == 429
    assert_allowed(response)
    assert {"Retry-After", "RateLimit-Reset"} <= {
        h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")
    }


def test_without_allowed_origins_no_cors_headers_are_sent(make_app):
    client = make_app().test_client()

    assert_no_cors(client.get("/healthz", headers={"Origin": ALLOWED}))
    response = preflight(client, "/api/auth/login", ALLOWED)
    assert response.status_code == 204
    assert_no_cors(response)


@pytest.mark.parametrize("value", ["*", f"{ALLOWED}, *"])
def test_wildcard_origin_is_refused_at_start(make_app, value):
    with pytest.raises(ConfigError) as refused:
        make_app(ALLOWED_ORIGINS=value)

    assert refused.value.name == "ALLOWED_ORIGINS"
    assert "'*' is refused" in str(refused.value)
