"""Two gunicorn instances behind one Redis and one PostgreSQL act as one service.

Runs where ``TEST_DATABASE_URL`` is PostgreSQL and ``TEST_REDIS_URL`` names a
Redis (``.ci/run``'s service step); skipped elsewhere, failed instead of skipped
when ``TEST_REQUIRE_SERVICES=1``. Only loopback addresses are used; every wait is
bounded and the processes are stopped by the fixture, also when a test fails.
"""

import os
import secrets
import subprocess
import sys

import pytest

from tests.helpers import PASSWORD, skip_or_fail
from tests.servers import ROOT, Gunicorn

LOGIN_LIMIT = 4

pytestmark = [pytest.mark.redis, pytest.mark.servers]


class Instance(Gunicorn):
    """One gunicorn master of the service on a loopback port, and its requests."""

    def request(self, method, path, body=None, token=None):
        """Return (status, headers, parsed JSON body or None)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.request_json(method, path, body, headers)

    def login(self, email, password=PASSWORD):
        return self.request("POST", "/api/auth/login", {"email": email, "password": password})


@pytest.fixture
def instances(make_app, database_url, redis_url, tmp_path):
    """Two instances (two workers each) sharing the test database and Redis, with a
    fresh SECRET_KEY."""
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    make_app()  # its teardown empties the tables this test fills
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_LOGIN": f"{LOGIN_LIMIT} per minute",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, **settings},
        check=True,
        capture_output=True,
        timeout=120,
    )
    started = []
    try:
        for name in ("first", "second"):
            started.append(Instance(settings, workers=2, log_path=tmp_path / f"{name}.log"))
        for instance in started:
            instance.wait_ready()
        yield started
    finally:
        for instance in started:
            instance.stop()


def test_two_instances_share_users_sessions_and_limits(instances):
    first, second = instances

    # (d) A user registered on one instance exists for the other: it can log in there.
    email = "shared@example.com"
    status, headers, created = first.request(
        "POST", "/api/auth/register", {"name": "Shared", "email": email, "password": PASSWORD}
    )
    assert status == 201, created
    status, _, login = second.login(email)  # login 1 of LOGIN_LIMIT
    assert status == 200, login
    token = login["access_token"]

    # (b) A token issued by one instance is accepted by the other.
    status, _, user = first.request("GET", headers["Location"], token=token)
    assert status == 200
    assert user["id"] == created["id"] and user["email"] == email

    # (c) Logging out on one instance revokes the token on the other at once.
    assert first.request("POST", "/api/auth/logout", token=token)[0] == 204
    status, _, problem = second.request("GET", "/api/auth/me", token=token)
    assert status == 401 and problem["code"] == "UNAUTHENTICATED"

    # (a) The login limit counts across both instances together: alternating
    # between them, the budget runs out as if they were one.
    remaining = []
    for instance in (first, second, first):  # logins 2 to LOGIN_LIMIT
        status, headers, _ = instance.login(email)
        assert status == 200
        assert headers["RateLimit-Limit"] == str(LOGIN_LIMIT)
        remaining.append(int(headers["RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    for instance in (second, first):
        status, headers, problem = instance.login(email)
        assert status == 429
        assert problem["code"] == "RATE_LIMITED"
        assert 1 <= int(headers["Retry-After"]) <= 60
