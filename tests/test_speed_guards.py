"""Each speed trick of bench/README.md, guarded: a test that fails when it is undone.

Not timings (those are measured in bench/ only): each test checks the work a
trick saves is not done, by counting the calls that undoing it would bring back.
"""

import gc
import inspect
import logging
import runpy
import threading
from pathlib import Path
from types import SimpleNamespace

import limits.util
import pytest
from flask.sessions import SecureCookieSessionInterface
from marshmallow import Schema
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.wrappers import Response

from tests.helpers import VALID_FEEDBACK, insert_products, listening

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def counted(monkeypatch):
    """``counted(owner, name)``: wrap ``owner.name`` and return the list of its calls."""

    def count(owner, name):
        calls = []
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            calls.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)
        return calls

    return count


def test_a_limited_request_starts_no_thread(make_app, counted):
    # limits' own memory:// storage arms a threading.Timer on an increment
    # whenever the last one has fired: about a thread per request under load.
    client = make_app(RATELIMIT_ENABLED=True).test_client()
    client.get("/api/products")
    started = counted(threading.Thread, "start")
    for _ in range(5):
        response = client.get("/api/products")
        assert response.headers["RateLimit-Limit"]
    assert started == []


def test_rate_limits_are_parsed_at_start_never_per_request(make_app, counted):
    """config.py parses each RATELIMIT_* setting once; requests, failed attempts
    included, count with the parsed items."""
    client = make_app(RATELIMIT_ENABLED=True).test_client()
    parsed = counted(limits.util, "granularity_from_string")
    for _ in range(3):
        assert client.get("/api/products").status_code == 200
    wrong = {"email": "nobody@example.com", "password": "not the password"}
    assert client.post("/api/auth/login", json=wrong).status_code == 401
    assert parsed == []


def test_the_sync_check_of_each_hook_is_made_once(app, client, counted):
    client.get("/api/products")
    checked = counted(inspect, "iscoroutinefunction")
    assert client.get("/api/products").status_code == 200
    assert checked == []


def test_an_async_view_still_goes_flasks_way(app):
    async def view():
        return {}

    # Flask runs it on an event loop through asgiref (its "async" extra), which
    # the service does not install: Flask's own error says so.
    with pytest.raises(RuntimeError, match="async"):
        app.ensure_sync(view)


def test_no_cookie_session_is_opened(client, counted):
    opened = counted(SecureCookieSessionInterface, "open_session")
    assert client.get("/api/products").status_code == 200
    assert opened == []


def test_no_conditional_check_without_conditional_headers(app, client, counted):
    with app.app_context():
        (product_id,) = insert_products({})
    checked = counted(Response, "make_conditional")
    first = client.get(f"/api/products/{product_id}")
    assert first.status_code == 200
    assert "Date" not in first.headers
    assert checked == []
    etag = first.headers["ETag"]
    assert client.get(f"/api/products/{product_id}", headers={"If-None-Match": etag}).status_code
    assert len(checked) == 1


def test_feedback_is_written_without_the_unit_of_work(client):
    flushes = []

    def record(session, context, instances):
        flushes.append(session)

    event.listen(Session, "before_flush", record)
    try:
        assert client.post("/api/feedback", json=VALID_FEEDBACK).status_code == 201
    finally:
        event.remove(Session, "before_flush", record)
    assert flushes == []


def test_each_worker_sets_the_loaded_app_aside_from_the_collector(monkeypatch):
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.delenv("GUNICORN_PID", raising=False)
    gc.unfreeze()
    try:
        # A worker as gunicorn hands it over: its settings and its error log.
        log = SimpleNamespace(error_log=logging.getLogger("speed-guards.gunicorn.error"))
        hooks["post_worker_init"](
            SimpleNamespace(cfg=SimpleNamespace(pidfile=None), wsgi=None, log=log)
        )
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_an_uncached_full_first_page_is_one_statement(make_app):
    """Page 1 of a long list, its total known for this catalog version: its rows
    and the version token in one statement on one connection (plumbing.pagination)."""
    app = make_app(CACHE_URL="none")
    client = app.test_client()
    with app.app_context():
        insert_products(*({} for _ in range(25)))
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    assert client.get("/api/products?limit=20").status_code == 200  # counts the total
    with listening(app, ("before_cursor_execute", record)):
        response = client.get("/api/products?limit=20")
    assert response.status_code == 200 and response.get_json()["meta"]["total"] == 25
    assert len(statements) == 1, statements


@pytest.mark.parametrize(
    "url",
    ["/api/products?limit=5", "/api/products?limit=5&cursor=", "/api/products?ids=3,1,99"],
    ids=["numbered page", "cursor page", "batch"],
)
def test_list_pages_and_the_batch_skip_the_session_and_marshmallows_dump(make_app, counted, url):
    """Plain rows on an autocommit connection, dumped by schemas.row_dump.RowDump:
    no ORM query and no marshmallow ``Schema.dump`` (tests/test_row_dump.py checks
    the bodies are the same)."""
    app = make_app(CACHE_URL="none")
    client = app.test_client()
    with app.app_context():
        insert_products(*({} for _ in range(8)))
    orm_queries = counted(Session, "execute")
    dumps = counted(Schema, "dump")

    response = client.get(url)

    assert response.status_code == 200 and response.get_json()["data"]
    assert orm_queries == [] and dumps == []


@pytest.mark.parametrize("url", ["/api/auth/me", "/api/users/{id}"], ids=["me", "own user"])
def test_the_caller_is_shown_without_marshmallows_dump(
    client, viewer, viewer_headers, counted, url
):
    """The caller as its token lookup read it, dumped by schemas.row_dump.RowDump
    (tests/test_row_dump.py checks the bodies are the same)."""
    dumps = counted(Schema, "dump")

    response = client.get(url.format(id=viewer.id), headers=viewer_headers)

    assert response.status_code == 200 and response.get_json()["id"] == viewer.id
    assert dumps == []


def test_no_query_string_is_parsed_when_none_is_sent(app, client, viewer_headers, monkeypatch):
    """``parse_no_query`` tests the raw query string before werkzeug parses it
    into ``request.args`` (a ``parameter_storage_class``)."""
    parsed = []

    class Counted(ImmutableMultiDict):
        def __init__(self, *args, **kwargs):
            parsed.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(app.request_class, "parameter_storage_class", Counted)

    assert client.get("/api/auth/me", headers=viewer_headers).status_code == 200
    assert parsed == []
    assert client.get("/api/auth/me?x=1", headers=viewer_headers).status_code == 400
    assert len(parsed) == 1
