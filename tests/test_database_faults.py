"""The database failing under a request: never an HTML page, a lost write or a leak.

- The session teardown (the rollback that ends every request) may fail while the
  database shuts down: the client still gets its JSON answer and the log its line.
- A write's answer is built from what was written: no SQL runs after its COMMIT,
  so a database that goes away right then cannot turn a saved write into a 503.
- A database error never puts SQL parameters or the values a database message
  quotes into the logs: no password hash, body value or token.
"""

import json
import logging

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from extensions import db
from models import User
from tests.conftest import skip_or_fail
from tests.helpers import PASSWORD, assert_problem, listening


def _shutting_down(*args, **kwargs):
    raise OperationalError(
        "ROLLBACK", {}, Exception("terminating connection due to administrator command")
    )


@pytest.fixture
def json_log(capsys):
    """The JSON lines the service wrote to stdout (the app must be built after this)."""

    def read():
        lines = []
        for line in capsys.readouterr().out.splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    return read


def test_a_failing_teardown_still_sends_the_json_503_and_logs_it(json_log, make_app, monkeypatch):
    # No server cache: the item's query through the session, not the catalog version
    # read, meets the error, so the request has a session for the failing teardown to
    # close. (A numbered list page reads without a session: plumbing/pagination.py.)
    app = make_app(LOG_LEVEL="INFO", CACHE_URL="none")
    client = app.test_client()
    with app.app_context():
        engine = db.engine

    def shutting_down(*args):
        raise engine.dialect.loaded_dbapi.OperationalError("the database system is shutting down")

    event.listen(engine, "before_cursor_execute", shutting_down)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(Session, "close", _shutting_down)
            response = client.get("/api/products/1", headers={"X-Request-ID": "shutdown-1"})
    finally:
        event.remove(engine, "before_cursor_execute", shutting_down)
    assert_problem(response, 503, "SERVICE_UNAVAILABLE")
    lines = json_log()
    request_lines = [line for line in lines if line["logger"] == "api.request"]
    assert [(line["status"], line["request_id"]) for line in request_lines] == [(503, "shutdown-1")]
    teardown = [line for line in lines if line["logger"] == "api.database"]
    assert [(line["level"], line["request_id"]) for line in teardown] == [("WARNING", "shutdown-1")]
    assert "terminating connection" not in json.dumps(lines)  # the class is named, no more
    # The broken session was forgotten: the next request gets a fresh one.
    assert client.get("/api/products").status_code == 200


def test_a_failing_teardown_after_a_success_keeps_the_success(make_app, monkeypatch):
    client = make_app().test_client()
    with monkeypatch.context() as patch:
        patch.setattr(Session, "close", _shutting_down)
        response = client.get("/api/products")
    assert response.status_code == 200
    assert response.get_json()["data"] == []


def test_backend_terminated_mid_request_on_postgresql(make_app, database_url, json_log):
    """A real dead connection: the request's own backend is terminated after its
    query, so the teardown's ROLLBACK meets a closed connection."""
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    app = make_app(LOG_LEVEL="INFO")
    killer = create_engine(database_url, isolation_level="AUTOCOMMIT")

    @app.get("/api/killed-mid-request")
    def killed():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with killer.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"pid": pid}

    @app.get("/api/killed-then-queried")
    def killed_then_queried():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with killer.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        db.session.execute(text("SELECT 1"))
        return {}

    client = app.test_client()
    try:
        response = client.get("/api/killed-mid-request")
        assert response.status_code == 200 and response.mimetype == "application/json"
        response = client.get("/api/killed-then-queried")
        assert_problem(response, 503, "SERVICE_UNAVAILABLE")
        # The pool hands out a live connection afterwards.
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/products").status_code == 200
    finally:
        killer.dispose()
    statuses = [line["status"] for line in json_log() if line["logger"] == "api.request"]
    assert statuses == [200, 503, 200, 200]


def test_a_restarted_postgresql_costs_no_request_an_error(app, database_url, viewer_headers):
    """The pool pings no connection before handing it out (a round trip per
    checkout). When PostgreSQL closes the pooled connections (a restart), the
    request's first read, the token lookup, meets a dead one and runs again on a
    new connection; the pool replaces every other connection it held, and the
    other engine's pool is disposed of (models/engine.py), so the session's query
    that follows gets a live one too."""
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    client = app.test_client()
    assert client.get("/api/products", headers=viewer_headers).status_code == 200
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    killer = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as connection:
            killed = connection.execute(text(f"SELECT count(pg_terminate_backend(pid)) {others}"))
            assert killed.scalar() >= 1
            # pg_terminate_backend only signals: wait until the backends are gone
            # (pg_stat_activity is a snapshot kept for the transaction: clear it each time).
            connection.execute(
                text(
                    f"DO $$ BEGIN WHILE EXISTS (SELECT 1 {others}) LOOP"
                    " PERFORM pg_sleep(0.01); PERFORM pg_stat_clear_snapshot(); END LOOP; END $$"
                )
            )
    finally:
        killer.dispose()
    # A token lookup, then an item read through the ORM session: both on live connections.
    response = client.get("/api/products/999999", headers=viewer_headers)
    assert_problem(response, 404, "NOT_FOUND")
    assert client.get("/api/products", headers=viewer_headers).status_code == 200
    assert client.get("/api/products?q=x", headers=viewer_headers).status_code == 200


# No round-trip after the COMMIT.


@pytest.fixture
def statements(app):
    """The SQL the app's engines run, with a "COMMIT" marker at each commit."""
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    def commit(conn):
        seen.append("COMMIT")

    with listening(app, ("before_cursor_execute", record), ("commit", commit)):
        yield seen


def _after_last_commit(seen):
    assert "COMMIT" in seen, seen
    return seen[len(seen) - seen[::-1].index("COMMIT") :]


WRITES = {
    "create a product": ("POST", "/api/products", {"name": "N", "price": "2", "category": "c"}),
    "replace a product": (
        "PUT",
        "/api/products/{product}",
        {"name": "M", "price": "3", "category": "d", "description": None},
    ),
    "send feedback": (
        "POST",
        "/api/feedback",
        {"name": "Ann", "email": "ann@example.com", "message": "Hello there, service."},
    ),
    "create a user": (
        "POST",
        "/api/users",
        {"name": "Bo", "email": "bo@example.com", "password": PASSWORD, "role": "editor"},
    ),
    "update a user": (
        "PATCH",
        "/api/users/{viewer}",
        {"name": "Vi", "password": "a new password", "is_active": False},
    ),
    "register": (
        "POST",
        "/api/auth/register",
        {"name": "Cy", "email": "cy@example.com", "password": PASSWORD},
    ),
}


@pytest.mark.parametrize("write", WRITES)
def test_a_write_is_answered_without_sql_after_its_commit(
    client, admin_headers, viewer, statements, write
):
    product = client.post(
        "/api/products", headers=admin_headers, json={"name": "P", "price": "1", "category": "c"}
    ).get_json()
    method, path, body = WRITES[write]
    path = path.format(product=product["id"], viewer=viewer.id)
    statements.clear()
    response = client.open(path, method=method, json=body, headers=admin_headers)
    assert response.status_code in (200, 201), response.get_json()
    assert _after_last_commit(statements) == []
    answer = response.get_json()
    for name, value in body.items():
        if name not in ("password", "price"):
            assert answer[name] == value
    assert answer["created_at"] and answer["id"]


# Nothing secret in the logs when the database fails.


def _values(parameters):
    """Every text value a statement carried (a dict, a tuple or a list of them)."""
    if isinstance(parameters, dict):
        parameters = list(parameters.values())
    values = []
    for value in parameters:
        if isinstance(value, (list, tuple, dict)):
            values += _values(value)
        elif isinstance(value, str) and len(value) >= 4:
            values.append(value)
    return values


def test_a_database_error_logs_neither_parameters_nor_quoted_values(json_log, make_app, caplog):
    app = make_app(LOG_LEVEL="INFO")
    client = app.test_client()
    caplog.set_level(logging.INFO)
    secret = "my very secret password"
    client.post(
        "/api/auth/register", json={"name": "Sam", "email": "sam@example.com", "password": secret}
    )
    token = client.post(
        "/api/auth/login", json={"email": "sam@example.com", "password": secret}
    ).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        old_hash = db.session.scalar(text("SELECT password_hash FROM users"))

    carried = []
    with app.app_context():
        dbapi = db.engine.dialect.loaded_dbapi

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT INTO FEEDBACK", "UPDATE USERS")):
            carried.append(parameters)
            raise dbapi.DataError(f"value too long for type: {parameters!r}")

    with listening(app, ("before_cursor_execute", refuse)):
        feedback = client.post(
            "/api/feedback",
            headers=auth,
            json={"name": "Sam", "email": "sam@example.com", "message": "a body value 4242 here"},
        )
        update = client.patch(
            "/api/users/1",
            headers=auth,
            json={
                "name": "Samuel Body",
                "password": "a brand new password",
                "current_password": secret,
            },
        )
    assert_problem(feedback, 500, "INTERNAL_ERROR")
    assert_problem(update, 500, "INTERNAL_ERROR")

    lines = json_log()
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 2 and all("DataError" in line["traceback"] for line in errors)
    assert all("[SQL: " in line["traceback"] for line in errors)
    logged = json.dumps(lines) + json.dumps([r.getMessage() for r in caplog.records])
    leaked = [
        value
        for value in [*_values(carried), secret, "a brand new password", token, old_hash]
        if value in logged
    ]
    assert carried and leaked == []
    assert "a body value 4242 here" not in logged and "Samuel Body" not in logged


def test_a_constraint_error_does_not_log_the_value_it_names(json_log, make_app):
    """PostgreSQL's unique violation says ``DETAIL: Key (...)=(the value)``."""
    app = make_app(LOG_LEVEL="INFO")

    @app.post("/api/duplicate")
    def duplicate():
        for _ in range(2):
            user = User(name="Dup", email="someone.private@example.com", role="viewer")
            user.password_hash = "x"
            db.session.add(user)
            db.session.flush()
        return {}

    assert_problem(app.test_client().post("/api/duplicate"), 500, "INTERNAL_ERROR")
    lines = json_log()
    assert any("IntegrityError" in line.get("traceback", "") for line in lines)
    assert "someone.private" not in json.dumps(lines)


def test_the_engine_never_renders_parameters(app):
    """``hide_parameters`` on the engine itself: the error a statement raises does
    not carry its values, whatever formats it later."""
    with app.app_context():
        engine = db.engine
        assert engine.hide_parameters is True

        def refuse(conn, cursor, statement, parameters, context, executemany):
            raise engine.dialect.loaded_dbapi.DataError("refused")

        event.listen(engine, "before_cursor_execute", refuse)
        try:
            with pytest.raises(DBAPIError) as error:
                db.session.execute(
                    text("SELECT :secret"), {"secret": "scrypt:32768:8:1$not-a-real-hash"}
                )
        finally:
            event.remove(engine, "before_cursor_execute", refuse)
            db.session.rollback()
    assert "not-a-real-hash" not in str(error.value)
    assert "hide_parameters" in str(error.value)
