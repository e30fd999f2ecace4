"""Feedback: public sending with exact field rules; reading and deleting by role.

How a feedback is written (``features.idempotency.insert_one``): without an
``Idempotency-Key`` one INSERT alone, in autocommit on PostgreSQL, and no ORM
session; with a key, in the request's transaction with the key's stored response.
Either way the row answered 201 is in the database, and a database error under
the INSERT is 503 and leaves no row.
"""

import uuid

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

import blueprints.feedback
from extensions import db
from models import Feedback, IdempotencyKey, User
from tests.helpers import VALID_FEEDBACK as VALID
from tests.helpers import assert_problem, listening


def test_anyone_can_send_feedback(client, app):
    response = client.post("/api/feedback", json={**VALID, "rating": 5})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "name", "email", "message", "rating", "user_id", "created_at"}
    assert body["rating"] == 5 and body["user_id"] is None
    assert body["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/api/feedback/{body['id']}"
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert db.session.get(Feedback, body["id"]).message == VALID["message"]


def test_rating_is_optional(client):
    assert client.post("/api/feedback", json=VALID).get_json()["rating"] is None
    assert client.post("/api/feedback", json={**VALID, "rating": None}).status_code == 201


def test_email_is_trimmed_and_lowercased(client):
    response = client.post("/api/feedback", json={**VALID, "email": " Ann@Example.COM "})
    assert response.get_json()["email"] == "ann@example.com"


def test_signed_in_sender_is_kept(client, viewer, viewer_headers):
    response = client.post("/api/feedback", json=VALID, headers=viewer_headers)
    assert response.status_code == 201
    assert response.get_json()["user_id"] == viewer.id


def test_bad_token_is_401_not_anonymous(client):
    response = client.post("/api/feedback", json=VALID, headers={"Authorization": "Bearer nope"})
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_client_cannot_set_user_id(client, viewer, app):
    response = client.post("/api/feedback", json={**VALID, "user_id": viewer.id})
    assert "user_id" in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]
    with app.app_context():
        assert db.session.query(Feedback).count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Al"), ("name", "n" * 100), ("message", "m" * 10), ("message", "m" * 1000),
     ("rating", 1), ("rating", 5)],
)  # fmt: skip
def test_bounds_are_accepted(client, field, value):
    assert client.post("/api/feedback", json={**VALID, field: value}).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "A"),
        ("name", "  A  "),
        ("name", "n" * 101),
        ("email", "not-an-email"),
        ("email", ""),
        ("message", "m" * 9),
        ("message", "   short   "),
        ("message", "m" * 1001),
        ("rating", 0),
        ("rating", 6),
        ("rating", -1),
        ("rating", 4.5),
        ("rating", "5"),
        ("rating", True),
        ("name", None),
    ],
)
def test_bad_values_are_400(client, field, value):
    response = client.post("/api/feedback", json={**VALID, field: value})
    assert field in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


@pytest.mark.parametrize("missing", ["name", "email", "message"])
def test_required_fields(client, missing):
    body = {k: v for k, v in VALID.items() if k != missing}
    response = client.post("/api/feedback", json=body)
    assert missing in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


def test_malformed_body(client):
    assert_problem(client.post("/api/feedback", json=[VALID]), 400, "MALFORMED_REQUEST")
    assert_problem(client.post("/api/feedback", data="x"), 415, "UNSUPPORTED_MEDIA_TYPE")


FEEDBACK = (
    '{"name": "Fay", "email": "fay@example.com", "message": "A long enough message.", "rating": %s}'
)


@pytest.mark.parametrize("rating", ["4.0", "5.00", "3"])
def test_integral_json_numbers_are_integers(client, rating):
    response = client.post("/api/feedback", data=FEEDBACK % rating, content_type="application/json")
    assert response.status_code == 201 and response.get_json()["rating"] == int(float(rating))


@pytest.mark.parametrize(
    "rating", ["4.5", "1e999999999", "1E+2", '"5"', "true", "4.000000000000001"]
)
def test_non_integer_ratings_are_refused(client, rating):
    response = client.post("/api/feedback", data=FEEDBACK % rating, content_type="application/json")
    assert "rating" in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


@pytest.fixture
def sent(add_feedback):
    return add_feedback({"rating": 5}, {"rating": None}, {"rating": 3}, {"rating": 5})


def test_reading_needs_editor_or_admin(client, sent, create_user, login):
    for url in ("/api/feedback", f"/api/feedback/{sent[0]}"):
        assert_problem(client.get(url), 401, "UNAUTHENTICATED")
        viewer = login(create_user("viewer").email)
        assert_problem(client.get(url, headers=viewer), 403, "FORBIDDEN")
        for role in ("editor", "admin"):
            response = client.get(url, headers=login(create_user(role).email))
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "no-store"


def test_list_filters_by_rating(client, sent, editor_headers):
    body = client.get("/api/feedback?rating=5", headers=editor_headers).get_json()
    assert [item["id"] for item in body["data"]] == [sent[0], sent[3]]
    assert body["meta"]["total"] == 2


@pytest.mark.parametrize("paging", ["", "&cursor=", "&order_by=rating", "&sort=desc"])
def test_each_rating_filter_finds_exactly_the_feedback_of_that_rating(
    client, sent, editor_headers, paging
):
    ratings = dict(zip(sent, [5, None, 3, 5], strict=True))
    for rating in range(1, 6):
        url = f"/api/feedback?rating={rating}&limit=1{paging}"
        found = []
        while url:  # every page, through each page's next link
            body = client.get(url, headers=editor_headers).get_json()
            found += [item["id"] for item in body["data"]]
            url = body["links"]["next"]
        assert sorted(found) == [i for i, r in ratings.items() if r == rating]


@pytest.mark.parametrize("rating", ["0", "6", "abc", "4.5", "", "-1"])
def test_bad_rating_filter(client, editor_headers, rating):
    response = client.get(f"/api/feedback?rating={rating}", headers=editor_headers)
    assert "rating" in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


def test_order_by_rating_puts_unrated_first(client, sent, editor_headers):
    body = client.get("/api/feedback?order_by=rating", headers=editor_headers).get_json()
    assert [item["rating"] for item in body["data"]] == [None, 3, 5, 5]


def test_item_and_delete(client, sent, admin_headers, editor_headers, app):
    url = f"/api/feedback/{sent[1]}"
    assert client.get(url, headers=editor_headers).get_json()["rating"] is None
    assert_problem(client.delete(url), 401, "UNAUTHENTICATED")
    assert_problem(client.delete(url, headers=editor_headers), 403, "FORBIDDEN")
    assert client.delete(url, headers=admin_headers).status_code == 204
    assert_problem(client.get(url, headers=admin_headers), 404, "NOT_FOUND")
    assert_problem(client.delete(url, headers=admin_headers), 404, "NOT_FOUND")
    assert_problem(client.get("/api/feedback/x", headers=admin_headers), 400, "INVALID_ID")
    with app.app_context():
        assert db.session.query(Feedback).count() == 3


def test_deleting_the_sender_keeps_the_feedback(client, viewer, viewer_headers, app):
    feedback_id = client.post("/api/feedback", json=VALID, headers=viewer_headers).get_json()["id"]
    with app.app_context():
        db.session.delete(db.session.get(User, viewer.id))
        db.session.commit()
        assert db.session.get(Feedback, feedback_id).user_id is None


def test_unsupported_methods_are_405(client):
    for response in (client.put("/api/feedback"), client.patch("/api/feedback/1")):
        assert_problem(response, 405, "METHOD_NOT_ALLOWED")
        assert "GET" in response.headers["Allow"]


# How a feedback is written.


@pytest.fixture
def database_work(app):
    """What one request does with the database: each statement (its first words
    and whether its connection was in autocommit), pool checkouts, commits, and
    the ORM session's transactions, on every engine of the app."""
    work = {"statements": [], "checkouts": 0, "commits": 0, "session_transactions": 0}

    def statement(conn, cursor, sql, parameters, context, executemany):
        postgresql = conn.dialect.name == "postgresql"
        autocommit = conn.connection.dbapi_connection.autocommit if postgresql else None
        work["statements"].append((" ".join(sql.split()[:3]), autocommit))

    def checkout(*args):
        work["checkouts"] += 1

    def commit(conn):
        work["commits"] += 1

    def session_begin(session, transaction, connection):
        work["session_transactions"] += 1

    event.listen(Session, "after_begin", session_begin)
    try:
        with listening(
            app,
            ("before_cursor_execute", statement),
            ("checkout", checkout),  # an engine's pool events, listened on the engine
            ("commit", commit),
        ):
            yield work
    finally:
        event.remove(Session, "after_begin", session_begin)


def stored_feedback(app):
    """Every feedback in the database, as the API shows it."""
    with app.app_context():
        rows = db.session.scalars(select(Feedback).order_by(Feedback.id)).all()
        return [blueprints.feedback.FEEDBACK.dump(row) for row in rows]


def stored_keys(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(IdempotencyKey))


def test_without_a_key_a_feedback_is_one_insert_alone(app, client, database_url, database_work):
    response = client.post("/api/feedback", json={**VALID, "rating": 4})

    assert response.status_code == 201
    # psycopg in autocommit: no BEGIN before the INSERT, no COMMIT after it.
    alone = True if database_url.startswith("postgresql") else None
    assert database_work["statements"] == [("INSERT INTO feedback", alone)]
    assert database_work["checkouts"] == 1 and database_work["commits"] == 1
    assert database_work["session_transactions"] == 0  # the ORM session was never opened
    assert stored_feedback(app) == [response.get_json()]


def test_a_signed_in_senders_feedback_is_stored_with_its_user(app, client, viewer, viewer_headers):
    response = client.post("/api/feedback", json=VALID, headers=viewer_headers)
    assert response.status_code == 201
    assert stored_feedback(app) == [response.get_json()]
    assert stored_feedback(app)[0]["user_id"] == viewer.id


def test_with_a_key_the_feedback_commits_with_its_stored_response(app, client, database_work):
    headers = {"Idempotency-Key": str(uuid.uuid4())}

    first = client.post("/api/feedback", json=VALID, headers=headers)

    assert first.status_code == 201
    inserts = [sql for sql, _ in database_work["statements"] if sql.startswith("INSERT")]
    assert inserts == ["INSERT INTO idempotency_keys", "INSERT INTO feedback"]
    assert database_work["commits"] == 1  # the claim, the row and the stored response together
    assert stored_feedback(app) == [first.get_json()]
    with app.app_context():
        stored = db.session.scalar(select(IdempotencyKey))
        assert stored.state == "done" and stored.location == first.headers["Location"]

    again = client.post("/api/feedback", json=VALID, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    other = client.post("/api/feedback", json={**VALID, "rating": 2}, headers=headers)
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert stored_feedback(app) == [first.get_json()]
    assert stored_keys(app) == 1


@pytest.mark.parametrize("with_key", [False, True], ids=["without-a-key", "with-a-key"])
def test_a_database_error_under_the_insert_is_503_and_leaves_no_row(app, client, with_key):
    headers = {"Idempotency-Key": str(uuid.uuid4())} if with_key else {}
    with app.app_context():
        dbapi = db.engine.dialect.loaded_dbapi

    def lost(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO feedback"):
            raise dbapi.OperationalError("server closed the connection")

    with listening(app, ("before_cursor_execute", lost)):
        failed = client.post("/api/feedback", json=VALID, headers=headers)

    assert_problem(failed, 503, "SERVICE_UNAVAILABLE")
    assert stored_feedback(app) == []
    assert stored_keys(app) == 0
    retry = client.post("/api/feedback", json=VALID, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert stored_feedback(app) == [retry.get_json()]


def test_with_a_key_an_error_after_the_insert_leaves_no_row(app, client, monkeypatch):
    """The row is in the request's transaction: a 500 before the commit takes it back."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}

    def broken(*args, **kwargs):
        raise RuntimeError("lost before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(blueprints.feedback, "url_for", broken)
        failed = client.post("/api/feedback", json=VALID, headers=headers)
    assert_problem(failed, 500, "INTERNAL_ERROR")

    assert stored_feedback(app) == [] and stored_keys(app) == 0
    assert client.post("/api/feedback", json=VALID, headers=headers).status_code == 201
    assert len(stored_feedback(app)) == 1
