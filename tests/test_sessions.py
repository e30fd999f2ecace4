"""A user's sessions: listed newest first, ended one by one, last use kept cheaply."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from extensions import db
from models import AuthSession
from models.base import utcnow
from tests.helpers import PASSWORD, assert_problem, listening

SESSIONS = "/api/auth/sessions"
ME = "/api/auth/me"
SESSION_KEYS = ["id", "created_at", "last_used_at", "expires_at", "user_agent", "current"]


def log_in(client, user, user_agent=None):
    headers = {"User-Agent": user_agent} if user_agent is not None else {}
    response = client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 200
    return response.get_json()


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def listed(client, tokens):
    response = client.get(SESSIONS, headers=bearer(tokens))
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()["data"]


def test_sessions_are_listed_newest_first_with_the_current_one_marked(client, viewer):
    with time_machine.travel(utcnow(), tick=False) as traveller:
        phone = log_in(client, viewer, "Phone/1.0")
        traveller.shift(timedelta(minutes=5))
        laptop = log_in(client, viewer, "Laptop/2.0")
        sessions = listed(client, phone)
        assert [s["current"] for s in listed(client, laptop)] == [True, False]
    assert [s["user_agent"] for s in sessions] == ["Laptop/2.0", "Phone/1.0"]
    assert [s["current"] for s in sessions] == [False, True]
    assert [list(s) for s in sessions] == [SESSION_KEYS, SESSION_KEYS]
    newest = sessions[0]
    for key in ("created_at", "last_used_at", "expires_at"):
        assert newest[key].endswith("Z")
    assert newest["created_at"] == newest["last_used_at"] < newest["expires_at"]


def test_the_user_agent_is_kept_printable_and_trimmed(client, viewer):
    tokens = log_in(client, viewer, "  Browser\t" + "x" * 400)
    assert listed(client, tokens)[0]["user_agent"] == ("Browser" + "x" * 400)[:255]
    without = log_in(client, viewer, "")
    assert listed(client, without)[0]["user_agent"] is None


def test_only_the_callers_open_sessions_are_listed(client, viewer, create_user):
    other = create_user()
    log_in(client, other)
    ended = log_in(client, viewer)
    client.post("/api/auth/logout", headers=bearer(ended))
    mine = log_in(client, viewer)
    assert [s["current"] for s in listed(client, mine)] == [True]


def test_expired_sessions_are_not_listed(make_app, create_user):
    client = make_app(REFRESH_TOKEN_TTL=120, ACCESS_TOKEN_TTL=60).test_client()
    user = create_user()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        log_in(client, user)
        traveller.shift(timedelta(seconds=121))
        fresh = log_in(client, user)
        assert len(listed(client, fresh)) == 1


def test_ending_another_session_kills_its_tokens_and_keeps_this_one(client, viewer):
    phone = log_in(client, viewer, "Phone")
    laptop = log_in(client, viewer, "Laptop")
    phone_id = next(s["id"] for s in listed(client, laptop) if s["user_agent"] == "Phone")

    response = client.delete(f"{SESSIONS}/{phone_id}", headers=bearer(laptop))
    assert response.status_code == 204 and response.get_data() == b""
    assert_problem(client.get(ME, headers=bearer(phone)), 401, "UNAUTHENTICATED")
    refused = client.post("/api/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert_problem(refused, 401, "UNAUTHENTICATED")
    assert client.get(ME, headers=bearer(laptop)).status_code == 200
    assert [s["user_agent"] for s in listed(client, laptop)] == ["Laptop"]
    # Ended already: it is no longer one of the caller's sessions.
    again = client.delete(f"{SESSIONS}/{phone_id}", headers=bearer(laptop))
    assert_problem(again, 404, "NOT_FOUND")


def test_the_current_session_can_be_ended_too(client, viewer):
    tokens = log_in(client, viewer)
    current = listed(client, tokens)[0]["id"]
    assert client.delete(f"{SESSIONS}/{current}", headers=bearer(tokens)).status_code == 204
    assert_problem(client.get(SESSIONS, headers=bearer(tokens)), 401, "UNAUTHENTICATED")


def test_another_users_session_is_404_and_lives_on(client, viewer, create_user):
    mine = log_in(client, viewer)
    theirs = log_in(client, create_user())
    their_id = listed(client, theirs)[0]["id"]
    response = client.delete(f"{SESSIONS}/{their_id}", headers=bearer(mine))
    assert_problem(response, 404, "NOT_FOUND")
    assert client.get(ME, headers=bearer(theirs)).status_code == 200


def test_an_admin_cannot_end_someone_elses_session_here_either(client, admin, viewer):
    theirs = log_in(client, viewer)
    their_id = listed(client, theirs)[0]["id"]
    response = client.delete(f"{SESSIONS}/{their_id}", headers=bearer(log_in(client, admin)))
    assert_problem(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(("path", "code"), [("abc", "INVALID_ID"), ("0", "INVALID_ID")])
def test_a_bad_session_id_is_400(client, viewer_headers, path, code):
    assert_problem(client.delete(f"{SESSIONS}/{path}", headers=viewer_headers), 400, code)


def test_sessions_need_a_token(client):
    assert_problem(client.get(SESSIONS), 401, "UNAUTHENTICATED")
    assert_problem(client.delete(f"{SESSIONS}/1"), 401, "UNAUTHENTICATED")


@contextmanager
def sent_statements(app):
    """The verb of each SQL statement the app sends while the block runs (a list)."""
    verbs = []

    def record(conn, cursor, statement, *args):
        verbs.append(statement.lstrip().split()[0].upper())

    with listening(app, ("before_cursor_execute", record)):
        yield verbs


def stored_last_use(app):
    with app.app_context():
        return db.session.scalar(select(AuthSession.last_used_at))


def test_last_use_is_written_at_most_once_a_minute(app, client, viewer):
    with time_machine.travel(utcnow(), tick=False) as traveller:
        tokens = log_in(client, viewer)
        logged_in_at = stored_last_use(app)

        traveller.shift(timedelta(seconds=30))
        with sent_statements(app) as statements:
            for _ in range(5):
                assert client.get(ME, headers=bearer(tokens)).status_code == 200
        assert statements.count("UPDATE") == 0
        assert statements.count("SELECT") == 5  # one query per authenticated request
        assert stored_last_use(app) == logged_in_at

        traveller.shift(timedelta(seconds=31))
        with sent_statements(app) as statements:
            for _ in range(5):
                assert client.get(ME, headers=bearer(tokens)).status_code == 200
        assert statements.count("UPDATE") == 1
        touched_at = stored_last_use(app)
        assert touched_at == logged_in_at + timedelta(seconds=61)
        assert listed(client, tokens)[0]["last_used_at"] == touched_at.isoformat(
            timespec="milliseconds"
        ).replace("+00:00", "Z")


def test_a_refresh_counts_as_a_use(app, client, viewer):
    with time_machine.travel(utcnow(), tick=False) as traveller:
        tokens = log_in(client, viewer)
        traveller.shift(timedelta(seconds=10))
        refreshed = client.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert stored_last_use(app) == utcnow()


def test_sessions_are_documented_for_any_signed_in_caller(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    listing, ending = paths[SESSIONS]["get"], paths[SESSIONS + "/{session_id}"]["delete"]
    for operation in (listing, ending):
        assert operation["security"] == [{"bearerAuth": []}]
        assert "x-required-roles" not in operation
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SessionList"
    }
    assert {"204", "401", "404"} <= ending["responses"].keys()
