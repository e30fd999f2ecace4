"""Feedback: public sending with exact field rules; reading and deleting by role."""

import pytest

from extensions import db
from models import Feedback, User
from tests.helpers import VALID_FEEDBACK as VALID
from tests.helpers import assert_problem


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
