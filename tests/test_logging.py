"""One structured line per request, and never a secret in the logs."""

import http.client
import json
import logging

import psycopg
import pytest

from observability.request_log import JsonFormatter
from tests.failing_export_app import QUOTED_VALUE
from tests.helpers import PASSWORD, listening
from tests.servers import Gunicorn

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


# What PostgreSQL's own message quotes of the data (the value of a failed row).
DETAIL = f"duplicate key value violates unique constraint\nDETAIL: Key (email)=({QUOTED_VALUE})"


@pytest.fixture
def stdout_lines(capsys):
    """The JSON lines the app's own handler wrote to stdout (made during the test)."""

    def read():
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]

    return read


def test_a_database_error_in_the_pools_reset_is_logged_without_its_message(make_app, stdout_lines):
    """SQLAlchemy's pool logs a failed reset (a rollback while PostgreSQL restarts)
    with the driver's own error, which it raised as it is."""
    app = make_app()

    def reset_fails(*_args):
        raise psycopg.errors.UniqueViolation(DETAIL)

    # The session's engine resets what comes back to its pool (the autocommit
    # engine has nothing to reset): an item is read through the session.
    with listening(app, ("reset", reset_fails)):
        assert app.test_client().get("/api/products/1").status_code == 404
    lines = [line for line in stdout_lines() if line["logger"].startswith("sqlalchemy.pool")]
    assert lines and all(line["message"] == "Exception during reset or similar" for line in lines)
    for line in lines:
        assert QUOTED_VALUE not in json.dumps(line), json.dumps(line)
        assert line["traceback"].endswith(
            "psycopg.errors.UniqueViolation: UniqueViolation "
            "(message withheld: it may quote data, SQLSTATE 23505)"
        )


def test_a_database_error_passed_as_an_argument_is_withheld(make_app, stdout_lines):
    """The pool logs why it dropped a connection as ``reason: %s`` with the error."""
    make_app()
    logging.getLogger("sqlalchemy.pool.impl.QueuePool").warning(
        "Invalidate connection %r (reason: %s:%s)",
        "<connection>",
        "UniqueViolation",
        psycopg.errors.UniqueViolation(DETAIL),
    )
    [line] = [line for line in stdout_lines() if line["message"].startswith("Invalidate")]
    assert QUOTED_VALUE not in line["message"]
    assert "SQLSTATE 23505" in line["message"]


@pytest.mark.servers
def test_gunicorns_log_of_a_failed_export_withholds_the_database_message(
    database_url, editor, tmp_path
):
    """The database fails after the export's first rows left: gunicorn logs the
    failed response with its traceback, on its own handler, to stderr."""
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "SECRET_KEY": "gunicorn-log-test-key-0123456789abcdef",
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "false",
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
    }
    server = Gunicorn(
        settings,
        workers=1,
        log_path=tmp_path / "gunicorn.log",
        app="tests.failing_export_app:create_app()",
    )
    with server:
        server.wait_ready()
        login = {"email": editor.email, "password": PASSWORD}
        status, _, token = server.request_json("POST", "/api/auth/login", login)
        assert status == 200, token
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for _ in range(3):
            server.request_json("POST", "/api/products", _product(), headers)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request("GET", "/api/products/export", headers=headers)
            response = connection.getresponse()
            assert response.status == 200
            with pytest.raises(http.client.IncompleteRead):
                response.read()
        finally:
            connection.close()
        server.wait_until_answers()  # the worker logged the failure before serving again
    log = server.log()
    assert "Error handling request" in log, log[-3000:]
    assert QUOTED_VALUE not in log, log[-3000:]
    assert "OperationalError (message withheld: it may quote data" in log


def _product():
    return {"name": "Lamp", "price": "1.00", "category": "lighting"}
