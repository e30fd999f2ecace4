"""Constants, factories and assertions shared by the tests (import them from here).

- ``PASSWORD``, ``SECRET_KEY``: what the fixtures' users and apps are made with.
- ``VALID_PRODUCT``, ``VALID_FEEDBACK``: a body each create endpoint accepts.
- ``insert_products(*specs)``, ``insert_feedback(*specs)``: the one way to put rows
  in the database directly (in an app context); the ``add_products`` and
  ``add_feedback`` fixtures call them for a test's app.
- ``password_hash(password)``: a stored hash of it, computed once.
- ``listening(app, (name, listener), ...)``: SQLAlchemy event listeners on every
  engine of the app for a ``with`` block; ``engines(app)`` lists them.
- ``assert_problem``, ``empty_tables``, ``services_required``, ``skip_or_fail``.
"""

import os
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import event, text

from extensions import db
from models import Feedback, Product
from models.user import hash_password

PASSWORD = "correct horse battery"
SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"

VALID_PRODUCT = {"name": "Desk lamp", "price": "19.99", "category": "lighting"}
VALID_FEEDBACK = {"name": "Ann", "email": "ann@example.com", "message": "Great catalog, thanks!"}

# Rows inserted by the factories are created a minute apart from here, in order.
START = datetime(2026, 1, 1, tzinfo=UTC)


def services_required():
    """In CI the PostgreSQL/Redis run must exercise them, never skip."""
    return os.environ.get("TEST_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason):
    """Skip a test that needs a missing service, or fail it where services are required."""
    if services_required():
        pytest.fail(f"{reason} (TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


_password_hashes = {}


def password_hash(password=PASSWORD):
    """``hash_password(password)`` for the app in context, computed once per hash
    method and password: hashing is slow on purpose, and the tests make thousands
    of users."""
    key = (current_app.config["PASSWORD_HASH_METHOD"], password)
    if key not in _password_hashes:
        _password_hashes[key] = hash_password(password)
    return _password_hashes[key]


def empty_tables():
    """Delete every row and restart the ids at 1 (in an app context)."""
    tables = db.metadata.sorted_tables
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(table.name for table in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):
            db.session.execute(table.delete())
        db.session.execute(text("DELETE FROM sqlite_sequence"))
    db.session.commit()


def _insert(model, defaults, specs):
    rows = [model(**{**defaults(number), **spec}) for number, spec in enumerate(specs, start=1)]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def insert_products(*specs):
    """Insert one product per spec (a dict of column values over the defaults
    below) in an app context; return their ids."""
    return _insert(
        Product,
        lambda number: {
            "name": f"Product {number}",
            "price": Decimal("1.00"),
            "category": "misc",
            "created_at": START + timedelta(minutes=number),
        },
        specs,
    )


def insert_feedback(*specs):
    """Insert one feedback per spec (a dict of column values over the defaults
    below) in an app context; return their ids."""
    return _insert(
        Feedback,
        lambda number: {
            "name": f"Sender {number}",
            "email": f"sender{number}@example.com",
            "message": "A message long enough for feedback.",
            "rating": None,
            "created_at": START + timedelta(minutes=number),
        },
        specs,
    )


def assert_problem(response, status, code):
    """Assert an RFC 9457 problem response with the given status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def engines(app):
    """Every engine of ``app``: the session's and, on a server database, the
    autocommit engine that runs the statements standing alone (models/engine.py).
    A test that watches or breaks the app's SQL must listen on all of them."""
    with app.app_context():
        return list(db.engines.values())


@contextmanager
def listening(app, *listeners):
    """Each ``(event name, listener)`` on every engine of ``app`` (``engines``)
    while the block runs."""
    targets = engines(app)
    for engine in targets:
        for name, listener in listeners:
            event.listen(engine, name, listener)
    try:
        yield
    finally:
        for engine in targets:
            for name, listener in listeners:
                event.remove(engine, name, listener)
