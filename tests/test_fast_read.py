"""FastRead (models/fast_read.py): SQLAlchemy's values and errors, without an ORM session."""

import sqlite3
from datetime import UTC

import pytest
from sqlalchemy import bindparam, column, create_engine, event, select, table, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from extensions import db
from models import User
from models.fast_read import FastRead, autocommit_engine
from tests.helpers import assert_problem, engines, listening, skip_or_fail

USERS = User.__table__
USER_BY_EMAIL = select(
    USERS.c.id, USERS.c.email, USERS.c.is_active, USERS.c.created_at, USERS.c.updated_at
).where(USERS.c.email == bindparam("email"))


def test_a_row_comes_back_as_sqlalchemy_returns_it(app, create_user):
    user = create_user("editor", email="fast.read@example.com")
    with app.app_context():
        expected = tuple(db.session.execute(USER_BY_EMAIL, {"email": user.email}).one())
        row = FastRead(USER_BY_EMAIL).first(autocommit_engine(), email=user.email)
    assert row == expected
    assert row[2] is True  # a boolean, also where SQLite stores 1
    assert row[3].tzinfo == UTC  # an aware datetime, as UTCDateTime returns it


def test_no_row_is_none(app):
    with app.app_context():
        row = FastRead(USER_BY_EMAIL).first(autocommit_engine(), email="nobody@example.com")
    assert row is None


def test_statement_listeners_see_the_read(app, create_user):
    """Listeners on the engine's statements (traces, a test counting queries)
    see the read as they see any other query."""
    user = create_user(email="seen@example.com")
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    with listening(app, ("before_cursor_execute", record)), app.app_context():
        row = FastRead(USER_BY_EMAIL).first(autocommit_engine(), email=user.email)
    assert row[0] == user.id
    assert len(seen) == 1 and "FROM users" in seen[0]


def test_a_database_error_is_sqlalchemys_without_parameters(app):
    broken = FastRead(
        select(column("x")).select_from(table("no_such_table")).where(text("x = :secret"))
    )
    with app.app_context(), pytest.raises(DBAPIError) as raised:
        broken.first(db.engine, secret="parameter-secret-1234")
    assert "no_such_table" in str(raised.value)
    assert "parameter-secret-1234" not in str(raised.value)


def test_a_lost_connection_is_replaced_and_the_read_runs_on_a_new_one(tmp_path):
    """The pool pings no connection before handing it out: a connection the
    driver reports lost (a restarted database) is discarded, never handed out
    again, and the read, safe to repeat, runs once more on a new connection."""
    engine = create_engine(
        f"sqlite:///{tmp_path}/lost.db", poolclass=QueuePool, pool_size=1, max_overflow=0
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (7)"))
    read = FastRead(select(column("x")).select_from(table("t")))
    pooled = engine.raw_connection()
    driver_connection = pooled.dbapi_connection
    pooled.close()  # back in the pool, healthy
    driver_connection.close()  # then the database goes away under the pool
    used = []
    event.listen(engine, "before_cursor_execute", lambda conn, *args: used.append(conn.connection))

    assert read.first(engine) == (7,)
    assert [proxied.dbapi_connection for proxied in used][-1] is not driver_connection
    assert read.first(engine) == (7,)
    engine.dispose()


def test_a_read_that_fails_for_another_reason_is_not_repeated(app):
    tried = []

    def record(conn, cursor, statement, *args):
        tried.append(1)

    broken = FastRead(select(column("x")).select_from(table("no_such_table")))
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            with pytest.raises(DBAPIError) as raised:
                broken.first(db.engine)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    assert not raised.value.connection_invalidated
    assert tried == [1]


def test_no_connection_to_be_had_is_sqlalchemys_error(tmp_path):
    """The pool raises the driver's own error when it cannot connect (a database
    that is shutting down): it becomes SQLAlchemy's, which the service answers 503."""

    def refuse():
        raise sqlite3.OperationalError("the database system is shutting down")

    engine = create_engine("sqlite://", creator=refuse)
    with pytest.raises(OperationalError):
        FastRead(select(column("x")).select_from(table("t"))).first(engine)
    engine.dispose()


def test_a_request_meets_a_database_it_cannot_connect_to_with_503(make_app, viewer_headers):
    app = make_app()

    def refuse(dialect, record, cargs, cparams):  # as a database shutting down does
        raise dialect.loaded_dbapi.OperationalError("the database system is shutting down")

    for engine in engines(app):
        engine.dispose()  # no pooled connection left: the next read must connect
    with listening(app, ("do_connect", refuse)):
        response = app.test_client().get("/api/auth/me", headers=viewer_headers)
    assert_problem(response, 503, "SERVICE_UNAVAILABLE")


def test_an_authenticated_read_opens_no_orm_session(app, client, viewer, viewer_headers):
    """The speed of FastRead: the token lookup (and a view that needs nothing
    more) begins no ORM session transaction; bench/README.md has what one costs."""
    begun = []

    def record(session, transaction, connection):
        begun.append(session)

    event.listen(Session, "after_begin", record)
    try:
        assert client.get("/api/auth/me", headers=viewer_headers).status_code == 200
        assert client.get(f"/api/users/{viewer.id}", headers=viewer_headers).status_code == 200
    finally:
        event.remove(Session, "after_begin", record)
    assert begun == []


def test_on_postgresql_a_read_sends_no_begin_and_no_rollback(app, database_url, create_user):
    """The speed of autocommit: psycopg sends a BEGIN before a statement outside
    autocommit and the pool a ROLLBACK when the connection comes back; the read
    needs neither (two of its three round trips; bench/README.md)."""
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    user = create_user(email="autocommit@example.com")
    autocommit = []

    def record(conn, cursor, statement, *args):
        autocommit.append(conn.connection.dbapi_connection.autocommit)

    with listening(app, ("before_cursor_execute", record)), app.app_context():
        row = FastRead(USER_BY_EMAIL).first(autocommit_engine(), email=user.email)
        # The session's own queries still run in a transaction.
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    assert row[0] == user.id
    assert autocommit == [True, False]
