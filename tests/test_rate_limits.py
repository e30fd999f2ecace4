"""Rate limits as a client sees them: RateLimit-* headers, 429 problems, per-key counters."""

import logging

import pytest
import redis

from features.rate_limits import feedback_limit
from tests.helpers import PASSWORD, VALID_FEEDBACK, assert_problem

ADDRESS_A = {"REMOTE_ADDR": "203.0.113.1"}
ADDRESS_B = {"REMOTE_ADDR": "203.0.113.2"}


@pytest.fixture
def limited_app(make_app):
    """An app with rate limiting on; keyword arguments override settings."""

    def make(**overrides):
        return make_app(RATELIMIT_ENABLED=True, **overrides)

    return make


def bad_login(client, email="nobody@example.com", **kwargs):
    return client.post("/api/auth/login", json={"email": email, "password": "wrong-pass"}, **kwargs)


def good_login(client, email, **kwargs):
    return client.post("/api/auth/login", json={"email": email, "password": PASSWORD}, **kwargs)


def bearer(response):
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def assert_limit_headers(response, limit, remaining, window_seconds):
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert len(response.headers.getlist(name)) == 1, name
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == str(remaining)
    # Seconds until the window resets, not an epoch timestamp.
    assert 0 <= int(response.headers["RateLimit-Reset"]) <= window_seconds


def assert_rate_limited(response, limit, window_seconds):
    body = assert_problem(response, 429, "RATE_LIMITED")
    assert "Retry-After" in body["detail"]
    assert_limit_headers(response, limit, 0, window_seconds)
    assert 1 <= int(response.headers["Retry-After"]) <= window_seconds
    assert len(response.headers.getlist("Retry-After")) == 1
    return body


def test_login_limit_counts_failed_logins_then_refuses_even_the_right_password(
    limited_app, create_user
):
    app = limited_app(RATELIMIT_LOGIN="3 per minute")
    user = create_user()
    client = app.test_client()

    for remaining in (2, 1, 0):
        response = bad_login(client, user.email)
        assert response.status_code == 401
        assert_limit_headers(response, 3, remaining, 60)

    assert_rate_limited(good_login(client, user.email), 3, 60)


def test_login_limit_is_per_client_address(limited_app, create_user):
    app = limited_app(RATELIMIT_LOGIN="2 per minute")
    user = create_user()
    client = app.test_client()
    for _ in range(2):
        bad_login(client, environ_base=ADDRESS_A)

    assert bad_login(client, environ_base=ADDRESS_A).status_code == 429
    response = good_login(client, user.email, environ_base=ADDRESS_B)
    assert response.status_code == 200
    assert_limit_headers(response, 2, 1, 60)


def test_login_limit_is_per_address_even_with_a_token(limited_app, create_user):
    """A valid token does not buy a second login budget from the same address."""
    app = limited_app(RATELIMIT_LOGIN="2 per minute")
    user = create_user()
    client = app.test_client()
    headers = bearer(good_login(client, user.email))

    bad_login(client, headers=headers)
    assert bad_login(client, headers=headers).status_code == 429


def test_register_limit(limited_app):
    client = limited_app(RATELIMIT_REGISTER="2 per hour").test_client()

    def register(number):
        return client.post(
            "/api/auth/register",
            json={"name": "New", "email": f"new{number}@example.com", "password": PASSWORD},
        )

    first = register(1)
    assert first.status_code == 201
    assert_limit_headers(first, 2, 1, 3600)
    assert register(2).status_code == 201
    assert_rate_limited(register(3), 2, 3600)


def test_feedback_limit(limited_app):
    app = limited_app(RATELIMIT_FEEDBACK="2 per minute")

    # POST /api/feedback lives in another module; this stand-in carries the same decorator.
    @feedback_limit
    def send_feedback():
        return {}, 201

    app.add_url_rule("/api/feedback-stand-in", view_func=send_feedback, methods=["POST"])
    client = app.test_client()

    assert client.post("/api/feedback-stand-in").status_code == 201
    assert client.post("/api/feedback-stand-in").status_code == 201
    assert_rate_limited(client.post("/api/feedback-stand-in"), 2, 60)


def test_default_limit_counts_per_user(limited_app, create_user):
    app = limited_app(RATELIMIT_DEFAULT="2 per minute")
    ann, bob = create_user(), create_user()
    client = app.test_client()
    ann_headers = bearer(good_login(client, ann.email))
    bob_headers = bearer(good_login(client, bob.email))

    response = client.get("/api/auth/me", headers=ann_headers)
    assert response.status_code == 200
    assert_limit_headers(response, 2, 1, 60)
    client.get("/api/auth/me", headers=ann_headers)
    assert_rate_limited(client.get("/api/auth/me", headers=ann_headers), 2, 60)

    # Same address, another user: a budget of its own.
    response = client.get("/api/auth/me", headers=bob_headers)
    assert response.status_code == 200
    assert_limit_headers(response, 2, 1, 60)


def test_default_limit_counts_anonymous_callers_per_address(limited_app):
    client = limited_app(RATELIMIT_DEFAULT="1 per minute").test_client()

    # Any /api route counts, a 401 included.
    assert client.get("/api/auth/me", environ_base=ADDRESS_A).status_code == 401
    assert_rate_limited(client.get("/api/auth/me", environ_base=ADDRESS_A), 1, 60)
    assert client.get("/api/auth/me", environ_base=ADDRESS_B).status_code == 401


def test_an_invalid_token_is_counted_by_address(limited_app):
    client = limited_app(RATELIMIT_DEFAULT="1 per minute").test_client()
    forged = {"Authorization": "Bearer forged"}

    assert client.get("/api/auth/me", headers=forged).status_code == 401
    assert client.get("/api/auth/me").status_code == 429


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(limited_app):
    client = limited_app(RATELIMIT_LOGIN="1 per minute").test_client()

    def spoofing(client_address):
        forwarded = {"X-Forwarded-For": client_address}
        return bad_login(client, environ_base=ADDRESS_A, headers=forwarded)

    assert spoofing("198.51.100.1").status_code == 401
    assert spoofing("198.51.100.2").status_code == 429


def test_forwarded_for_from_one_trusted_proxy_is_the_client_address(limited_app):
    client = limited_app(RATELIMIT_LOGIN="1 per minute", TRUSTED_PROXIES=1).test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.5"}

    def via_proxy(client_address):
        return bad_login(client, environ_base=proxy, headers={"X-Forwarded-For": client_address})

    assert via_proxy("198.51.100.1").status_code == 401
    assert via_proxy("198.51.100.2").status_code == 401
    assert via_proxy("198.51.100.1").status_code == 429
    # Only the hop the proxy added counts: a client-sent first entry is not trusted.
    assert via_proxy("192.0.2.99, 198.51.100.1").status_code == 429


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_never_limited(limited_app, path):
    client = limited_app(RATELIMIT_DEFAULT="1 per minute").test_client()

    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers


def test_preflights_are_never_limited(limited_app):
    client = limited_app(RATELIMIT_LOGIN="1 per minute").test_client()
    bad_login(client)
    assert bad_login(client).status_code == 429

    response = client.options("/api/auth/login", headers={"Access-Control-Request-Method": "POST"})
    assert response.status_code == 204


def test_disabled_rate_limiting_never_limits(make_app):
    client = make_app(RATELIMIT_ENABLED=False, RATELIMIT_LOGIN="1 per minute").test_client()

    for _ in range(3):
        response = bad_login(client)
        assert response.status_code == 401
        assert "RateLimit-Limit" not in response.headers


def test_unreachable_storage_fails_open_with_a_warning(limited_app, create_user, caplog):
    app = limited_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1")
    user = create_user()
    client = app.test_client()

    with caplog.at_level(logging.WARNING):
        headers = bearer(good_login(client, user.email))
        assert client.get("/api/auth/me", headers=headers).status_code == 200
        assert client.get("/healthz").status_code == 200

    assert any("storage unreachable" in record.getMessage() for record in caplog.records)


@pytest.mark.redis
def test_counters_live_in_redis(limited_app, redis_url):
    app = limited_app(RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_LOGIN="2 per minute")
    client = app.test_client()

    first = bad_login(client)
    assert first.status_code == 401
    assert_limit_headers(first, 2, 1, 60)
    bad_login(client)
    assert_rate_limited(bad_login(client), 2, 60)

    store = redis.Redis.from_url(redis_url)
    try:
        assert any(b"auth.login" in key for key in store.keys("LIMITS:*"))
    finally:
        store.close()


def test_feedback_route_has_its_own_limit(make_app):
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_FEEDBACK="2 per minute").test_client()
    statuses = [client.post("/api/feedback", json=VALID_FEEDBACK).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
