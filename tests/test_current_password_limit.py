"""Wrong current passwords are limited per user at RATELIMIT_LOGIN.

A stolen access token must not guess its owner's password faster than login
allows: each wrong ``current_password`` counts, per user, and past the limit every
password change of that user is 429 (the right password too) until the window
resets. Other requests, and other users, are not affected.
"""

import itertools

import pytest
import redis

from tests.helpers import PASSWORD, assert_problem

NEW = "a brand new password"
ADDRESSES = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture
def limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
    return app.test_client()


def sign_in(client, email, password=PASSWORD):
    """A fresh token, from a fresh address so the login limit never interferes."""
    response = client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": next(ADDRESSES)},
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def change(client, user, headers, current, new=NEW):
    return client.patch(
        f"/api/users/{user.id}",
        headers=headers,
        json={"password": new, "current_password": current},
    )


def assert_headers(response, remaining):
    assert response.headers["RateLimit-Limit"] == "3"
    assert response.headers["RateLimit-Remaining"] == str(remaining)
    assert 0 <= int(response.headers["RateLimit-Reset"]) <= 60


def test_wrong_current_passwords_are_limited_then_even_the_right_one_is_429(limited, viewer):
    headers = sign_in(limited, viewer.email)
    for remaining in (2, 1, 0):
        response = change(limited, viewer, headers, "wrong guess")
        body = assert_problem(response, 400, "VALIDATION_ERROR")
        assert body["errors"] == {"current_password": ["Incorrect password."]}
        assert_headers(response, remaining)

    refused = change(limited, viewer, headers, PASSWORD)
    body = assert_problem(refused, 429, "RATE_LIMITED")
    assert "Retry-After" in body["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert_headers(refused, 0)
    # The password did not change: the old one still logs in.
    sign_in(limited, viewer.email)


def test_only_failures_count(limited, viewer):
    headers = sign_in(limited, viewer.email)
    assert change(limited, viewer, headers, "wrong guess").status_code == 400
    accepted = change(limited, viewer, headers, PASSWORD)
    assert accepted.status_code == 200
    assert_headers(accepted, 2)  # the success was checked, not counted
    headers = sign_in(limited, viewer.email, NEW)
    missing = limited.patch(f"/api/users/{viewer.id}", headers=headers, json={"password": PASSWORD})
    assert_problem(missing, 400, "VALIDATION_ERROR")  # no guess made, nothing counted
    assert_headers(change(limited, viewer, headers, "wrong again"), 1)


def test_the_limit_is_per_user_and_blocks_nothing_else(limited, viewer, create_user):
    other = create_user()
    headers = sign_in(limited, viewer.email)
    for _ in range(3):
        change(limited, viewer, headers, "wrong guess")
    assert change(limited, viewer, headers, PASSWORD).status_code == 429
    # Another token of the same user is the same user.
    assert change(limited, viewer, sign_in(limited, viewer.email), PASSWORD).status_code == 429

    # Everything else still works for this user, and the other user is untouched.
    renamed = limited.patch(f"/api/users/{viewer.id}", headers=headers, json={"name": "Renamed"})
    assert renamed.status_code == 200
    other_headers = sign_in(limited, other.email)
    assert change(limited, other, other_headers, PASSWORD).status_code == 200


def test_an_admin_setting_another_users_password_needs_no_current_password(limited, viewer, admin):
    headers = sign_in(limited, admin.email)
    for _ in range(3):
        change(limited, admin, headers, "wrong guess")
    response = limited.patch(f"/api/users/{viewer.id}", headers=headers, json={"password": NEW})
    assert response.status_code == 200


def test_disabled_rate_limiting_counts_nothing(make_app, viewer, login):
    client = make_app(RATELIMIT_LOGIN="1 per minute").test_client()  # limits off in tests
    headers = login(viewer.email)
    for _ in range(3):
        response = change(client, viewer, headers, "wrong guess")
        assert response.status_code == 400
        assert "RateLimit-Limit" not in response.headers


@pytest.mark.redis
def test_failures_are_counted_in_the_shared_storage(make_app, viewer, redis_url):
    client = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute", RATELIMIT_STORAGE_URI=redis_url
    ).test_client()
    headers = sign_in(client, viewer.email)
    change(client, viewer, headers, "wrong guess")
    # A second instance on the same Redis sees the first one's failure.
    second = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute", RATELIMIT_STORAGE_URI=redis_url
    ).test_client()
    assert_problem(change(second, viewer, headers, "wrong guess"), 400, "VALIDATION_ERROR")
    assert change(second, viewer, headers, PASSWORD).status_code == 429
    store = redis.Redis.from_url(redis_url)
    try:
        assert any(b"current_password" in key for key in store.keys("LIMITS:*"))
    finally:
        store.close()
