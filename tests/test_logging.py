"""One structured line per request, and never a secret in the logs."""

import json
import logging

import pytest

from observability.request_log import JsonFormatter
from tests.helpers import PASSWORD

FIELDS = {"request_id", "method", "path", "status", "duration_ms", "user_id", "remote_addr"}


@pytest.fixture
def log_lines(caplog):
    caplog.set_level(logging.INFO)
    formatter = JsonFormatter()
    return lambda: [json.loads(formatter.format(record)) for record in caplog.records]


def test_one_json_line_per_request(client, viewer, viewer_headers, log_lines):
    client.get("/api/auth/me", headers={**viewer_headers, "X-Request-ID": "req-42"})
    lines = [line for line in log_lines() if line["logger"] == "api.request"]
    assert len(lines) == 1
    line = lines[0]
    assert set(line) >= FIELDS
    assert line["request_id"] == "req-42"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/auth/me", 200)
    assert line["user_id"] == viewer.id
    assert line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float)


def test_no_password_or_token_reaches_the_logs(make_app, log_lines):
    app = make_app()

    @app.get("/api/explode")
    def explode():
        raise RuntimeError("boom")

    client = app.test_client()
    secret = "very secret password 123"
    client.post(
        "/api/auth/register", json={"name": "Sam", "email": "sam@example.com", "password": secret}
    )
    token = client.post(
        "/api/auth/login", json={"email": "sam@example.com", "password": secret}
    ).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/auth/login", json={"email": "sam@example.com", "password": "wrong " + secret})
    client.patch(
        "/api/users/1", headers=auth, json={"password": PASSWORD, "current_password": secret}
    )
    client.get("/api/explode", headers={"Authorization": f"Bearer {token}"})
    client.get("/api/auth/me", headers={"Authorization": "Bearer garbage-token-value"})

    text = json.dumps(log_lines())
    assert "api.request" in text
    for leaked in (secret, PASSWORD, token, "garbage-token-value", "Bearer"):
        assert leaked not in text


def test_500_is_logged_with_traceback_and_request_id(make_app, log_lines):
    app = make_app()

    @app.get("/api/explode")
    def explode():
        raise ValueError("kaput")

    app.test_client().get("/api/explode", headers={"X-Request-ID": "crash-1"})
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "crash-1"
    assert "ValueError: kaput" in errors[0]["traceback"]
