"""Two gunicorn instances behind one Redis and one PostgreSQL act as one service.

Runs where ``TEST_DATABASE_URL`` is PostgreSQL and ``TEST_REDIS_URL`` names a
Redis (``.ci/run``'s service step); skipped elsewhere, failed instead of skipped
when ``TEST_REQUIRE_SERVICES=1``. Only loopback addresses are used; every wait is
bounded and the processes are stopped by the fixture, also when a test fails.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import PASSWORD, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
READY_TIMEOUT = 30  # seconds for an instance to answer /healthz
REQUEST_TIMEOUT = 10
LOGIN_LIMIT = 4

pytestmark = pytest.mark.redis


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Instance:
    """One gunicorn master (with two workers) of the service on a loopback port."""

    def __init__(self, name, env, log_dir):
        self.port = _free_port()
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 -- closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 -- the venv's own gunicorn
            [str(BIN / "gunicorn"), "app:create_app()", "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "2"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(f"instance on port {self.port} did not start:\n{self.log_path.read_text()}")

    def request(self, method, path, body=None, token=None):
        """Return (status, headers, parsed JSON body or None)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        url = f"http://127.0.0.1:{self.port}{path}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
                status, response_headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, response_headers, raw = error.code, error.headers, error.read()
        return status, response_headers, json.loads(raw) if raw else None

    def login(self, email, password=PASSWORD):
        return self.request("POST", "/api/auth/login", {"email": email, "password": password})

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


@pytest.fixture
def instances(make_app, database_url, redis_url, tmp_path):
    """Two instances sharing the test database and Redis, with a fresh SECRET_KEY."""
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    make_app()  # its teardown empties the tables this test fills
    env = {
        **os.environ,
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
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    started = []
    try:
        for name in ("first", "second"):
            started.append(Instance(name, env, tmp_path))
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
