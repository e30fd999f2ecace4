"""Assertions, constants and database helpers shared by the tests."""

from sqlalchemy import text

from extensions import db

PASSWORD = "correct horse battery"


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
