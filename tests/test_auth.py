"""Registration, login, logout, tokens and their revocation."""

import dataclasses
from datetime import timedelta

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from auth.access import Caller
from extensions import db
from models import AuthSession, User
from models.base import utcnow
from schemas.user import UserSchema
from tests.helpers import PASSWORD, assert_problem, listening

REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
USER_KEYS = {"id", "name", "email", "role", "is_active", "created_at", "updated_at"}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_register_creates_a_viewer(client, app):
    response = client.post(
        REGISTER, json={"name": "  Ann  ", "email": " Ann@Example.COM ", "password": PASSWORD}
    )
    assert response.status_code == 201
    user = response.get_json()
    assert set(user) == USER_KEYS
    assert user["name"] == "Ann"
    assert user["email"] == "ann@example.com"
    assert user["role"] == "viewer" and user["is_active"] is True
    assert user["created_at"].endswith("Z")
    assert response.headers["Location"].endswith(f"/api/users/{user['id']}")
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        stored = db.session.get(User, user["id"])
        assert stored.password_hash.startswith("scrypt:")
        assert PASSWORD not in stored.password_hash


def test_register_cannot_choose_its_role(client):
    response = client.post(
        REGISTER,
        json={"name": "Mal", "email": "m@example.com", "password": PASSWORD, "role": "admin"},
    )
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {"role": ["Unknown field."]}


def test_register_duplicate_email_is_409_case_insensitively(client, viewer):
    response = client.post(
        REGISTER, json={"name": "Twin", "email": viewer.email.upper(), "password": PASSWORD}
    )
    assert_problem(response, 409, "CONFLICT")


def test_register_closed_is_403(make_app):
    client = make_app(ALLOW_REGISTRATION=False).test_client()
    response = client.post(
        REGISTER, json={"name": "A", "email": "a@example.com", "password": PASSWORD}
    )
    assert_problem(response, 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("password", "x" * 7, False),
        ("password", "x" * 8, True),
        ("password", "x" * 128, True),
        ("password", "x" * 129, False),
        ("name", "   ", False),
        ("name", "n" * 100, True),
        ("name", "n" * 101, False),
        ("email", "not-an-email", False),
        ("email", "a@b", False),
        ("email", "x" * 250 + "@example.com", False),
        ("name", 12345, False),
        ("email", None, False),
    ],
)
def test_register_field_bounds(client, field, value, ok):
    body = {"name": "Ann", "email": "ann@example.com", "password": PASSWORD, field: value}
    response = client.post(REGISTER, json=body)
    if ok:
        assert response.status_code == 201
    else:
        problem = assert_problem(response, 400, "VALIDATION_ERROR")
        assert list(problem["errors"]) == [field]


def test_register_missing_fields_are_named(client):
    problem = assert_problem(client.post(REGISTER, json={}), 400, "VALIDATION_ERROR")
    assert set(problem["errors"]) == {"name", "email", "password"}


def test_a_name_of_white_space_python_trims_is_refused(client):
    response = client.post(
        REGISTER,
        json={"name": "\x1d \u3000\x85", "email": "ann@example.com", "password": PASSWORD},
    )
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert list(body["errors"]) == ["name"]


def test_sql_looking_strings_are_stored_as_text(client, app):
    name = "Robert'); DROP TABLE users;--"
    response = client.post(
        REGISTER, json={"name": name, "email": "bobby@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.get_json()["name"] == name
    with app.app_context():
        assert db.session.scalar(select(User.name).where(User.email == "bobby@example.com")) == name


def test_login_returns_exactly_the_token_fields(client, viewer):
    response = client.post(
        LOGIN, json={"email": f"  {viewer.email.upper()} ", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_expires_in"] == 1209600
    assert response.headers["Cache-Control"] == "no-store"


def test_login_expires_in_follows_the_setting(make_app, create_user):
    client = make_app(ACCESS_TOKEN_TTL=120).test_client()
    user = create_user()
    response = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert response.get_json()["expires_in"] == 120


def test_wrong_password_and_unknown_email_answer_alike(client, viewer):
    wrong = client.post(LOGIN, json={"email": viewer.email, "password": "not the password"})
    unknown = client.post(
        LOGIN, json={"email": "nobody@example.com", "password": "not the password"}
    )
    first, second = (
        assert_problem(wrong, 401, "UNAUTHENTICATED"),
        assert_problem(unknown, 401, "UNAUTHENTICATED"),
    )
    first.pop("request_id"), second.pop("request_id")
    assert first == second
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"] == "Bearer"


def test_inactive_user_cannot_log_in(client, create_user):
    user = create_user(is_active=False)
    response = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert_problem(response, 401, "UNAUTHENTICATED")


def test_me_needs_a_token(client):
    response = client.get("/api/auth/me")
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_me_returns_the_caller(client, viewer, viewer_headers):
    response = client.get("/api/auth/me", headers=viewer_headers)
    assert response.status_code == 200
    assert response.get_json()["email"] == viewer.email
    assert "password" not in response.get_data(as_text=True)


def test_logout_revokes_the_token_at_once(client, viewer, viewer_headers, login):
    other_session = login(viewer.email)
    assert client.post("/api/auth/logout", headers=viewer_headers).status_code == 204
    assert_problem(client.get("/api/auth/me", headers=viewer_headers), 401, "UNAUTHENTICATED")
    assert_problem(client.post("/api/auth/logout", headers=viewer_headers), 401, "UNAUTHENTICATED")
    assert client.get("/api/auth/me", headers=other_session).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer not-a-token",
        "Bearer a.b.c",
        "Bearer " + "x" * 5000,
    ],
)
def test_malformed_tokens_are_401(client, header):
    assert_problem(
        client.get("/api/auth/me", headers={"Authorization": header}), 401, "UNAUTHENTICATED"
    )


def test_tampered_token_is_401(client, viewer_headers):
    token = viewer_headers["Authorization"].split()[1]
    payload, timestamp, signature = token.split(".")
    # Change the first character: the last one of base64 may only carry padding bits.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (f"{payload}.{timestamp}.{flipped}", f"{payload}x.{timestamp}.{signature}"):
        assert_problem(client.get("/api/auth/me", headers=bearer(bad)), 401, "UNAUTHENTICATED")


def test_token_signed_with_another_key_is_401(client, app, viewer, viewer_headers):
    with app.app_context():
        token_id = db.session.scalar(select(AuthSession.token_id))
    forged = URLSafeTimedSerializer(
        "another-secret-key-of-enough-length-000000", salt="access-token"
    ).dumps(token_id)
    assert_problem(client.get("/api/auth/me", headers=bearer(forged)), 401, "UNAUTHENTICATED")


def test_token_expires_after_its_ttl(make_app, create_user):
    client = make_app(ACCESS_TOKEN_TTL=60).test_client()
    user = create_user()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        token = client.post(LOGIN, json={"email": user.email, "password": PASSWORD}).get_json()[
            "access_token"
        ]
        traveller.shift(timedelta(seconds=59))
        assert client.get("/api/auth/me", headers=bearer(token)).status_code == 200
        traveller.shift(timedelta(seconds=2))
        assert_problem(client.get("/api/auth/me", headers=bearer(token)), 401, "UNAUTHENTICATED")


def test_expired_session_row_is_refused_even_with_a_fresh_signature(client, app, viewer_headers):
    with app.app_context():
        session = db.session.scalar(select(AuthSession))
        session.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert_problem(client.get("/api/auth/me", headers=viewer_headers), 401, "UNAUTHENTICATED")


def test_password_change_revokes_every_session(client, viewer, viewer_headers, login):
    second = login(viewer.email)
    response = client.patch(
        f"/api/users/{viewer.id}",
        headers=viewer_headers,
        json={"password": "a brand new password", "current_password": PASSWORD},
    )
    assert response.status_code == 200
    for headers in (viewer_headers, second):
        assert_problem(client.get("/api/auth/me", headers=headers), 401, "UNAUTHENTICATED")
    assert login(viewer.email, "a brand new password")


def test_deactivation_revokes_every_session(client, viewer, viewer_headers, admin_headers):
    response = client.patch(
        f"/api/users/{viewer.id}", headers=admin_headers, json={"is_active": False}
    )
    assert response.status_code == 200 and response.get_json()["is_active"] is False
    assert_problem(client.get("/api/auth/me", headers=viewer_headers), 401, "UNAUTHENTICATED")
    reactivated = client.patch(
        f"/api/users/{viewer.id}", headers=admin_headers, json={"is_active": True}
    )
    assert reactivated.status_code == 200
    assert_problem(client.get("/api/auth/me", headers=viewer_headers), 401, "UNAUTHENTICATED")


def test_role_change_counts_on_the_next_request(client, viewer, viewer_headers, admin_headers):
    assert_problem(client.post("/api/users", headers=viewer_headers, json={}), 403, "FORBIDDEN")
    client.patch(f"/api/users/{viewer.id}", headers=admin_headers, json={"role": "admin"})
    response = client.post(
        "/api/users",
        headers=viewer_headers,
        json={"name": "New", "email": "new@example.com", "password": PASSWORD},
    )
    assert response.status_code == 201


def test_deleted_user_token_is_401(client, viewer, viewer_headers, admin_headers):
    assert client.delete(f"/api/users/{viewer.id}", headers=admin_headers).status_code == 204
    assert_problem(client.get("/api/auth/me", headers=viewer_headers), 401, "UNAUTHENTICATED")


def test_an_authenticated_request_costs_one_query(app, client, viewer, viewer_headers):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with listening(app, ("before_cursor_execute", count)):
        assert client.get("/api/auth/me", headers=viewer_headers).status_code == 200
        assert client.get(f"/api/users/{viewer.id}", headers=viewer_headers).status_code == 200
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


def test_the_caller_snapshot_has_every_field_a_user_is_shown_with():
    """``/auth/me`` and reading oneself dump the ``Caller`` the token lookup read:
    a field added to ``UserSchema`` must be read by that lookup too."""
    assert {field.name for field in dataclasses.fields(Caller)} == set(UserSchema().fields)


def test_tokens_keep_itsdangerous_format_both_ways(client, app, viewer, viewer_headers):
    """auth/tokens.py's cheaper serializer makes and reads the very tokens
    itsdangerous's own makes and reads: tokens issued before it keep working."""
    stock = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="access-token")
    with app.app_context():
        token_id = db.session.scalar(select(AuthSession.token_id))
    issued = viewer_headers["Authorization"].split()[1]
    assert stock.loads(issued, max_age=60)["sid"] == token_id
    for token in (stock.dumps({"sid": token_id, "nonce": "n"}), stock.dumps(token_id)):
        assert client.get("/api/auth/me", headers=bearer(token)).get_json()["id"] == viewer.id


def test_a_token_already_accepted_is_refused_once_expired(make_app, create_user):
    """A token is remembered once its signature checked out; its age still
    counts on every request, also backwards (a clock set back)."""
    client = make_app(ACCESS_TOKEN_TTL=60).test_client()
    user = create_user()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        token = client.post(LOGIN, json={"email": user.email, "password": PASSWORD}).get_json()[
            "access_token"
        ]
        me = bearer(token)
        assert client.get("/api/auth/me", headers=me).status_code == 200
        traveller.shift(timedelta(seconds=-5))
        assert_problem(client.get("/api/auth/me", headers=me), 401, "UNAUTHENTICATED")
        traveller.shift(timedelta(seconds=5 + 60))
        assert client.get("/api/auth/me", headers=me).status_code == 200
        traveller.shift(timedelta(seconds=1))
        assert_problem(client.get("/api/auth/me", headers=me), 401, "UNAUTHENTICATED")


def test_a_signed_token_of_another_shape_is_refused_every_time(client, app):
    shaped = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="access-token").dumps([1, 2])
    for _ in range(2):
        assert_problem(client.get("/api/auth/me", headers=bearer(shaped)), 401, "UNAUTHENTICATED")


def test_remembered_tokens_are_bounded(app):
    from auth.tokens import TokenSerializer

    serializer = TokenSerializer(app.config["SECRET_KEY"], "access-token")
    for number in range(TokenSerializer.REMEMBERED + 1):
        serializer.remember(f"token-{number}", "id", 0)
    assert len(serializer.verified) <= TokenSerializer.REMEMBERED
