"""Password reset by mail, against a real SMTP server on a loopback port."""

import json
import logging
import re
import threading
from datetime import timedelta

import pytest
import time_machine
from limits import parse_many
from sqlalchemy import func, select, update

from config import ConfigError, load_settings
from extensions import db
from models import AuthSession, PasswordResetToken, User
from models.base import utcnow
from observability.request_log import JsonFormatter
from services import mail_outbox, password_reset
from tests.helpers import PASSWORD, assert_problem
from tests.mail_server import reset_token_from, smtp_server
from tests.servers import free_port

RESET = "/api/auth/password-reset"
CONFIRM = "/api/auth/password-reset/confirm"
NEW_PASSWORD = "a completely new password"
MAIL_FROM = "Shop <no-reply@shop.example>"


@pytest.fixture
def mail_server():
    with smtp_server() as server:
        yield server


@pytest.fixture
def reset_app(make_app, mail_server):
    """An app mailing through the test's SMTP server; keyword arguments override."""

    def make(**overrides):
        return make_app(MAIL_URL=mail_server.url(), MAIL_FROM=MAIL_FROM, **overrides)

    return make


@pytest.fixture
def client(reset_app):
    return reset_app().test_client()


def ask_reset(client, email, **kwargs):
    """Request a reset, then send what the outbox holds (the sender's work, which
    the answer never waits for)."""
    response = client.post(RESET, json={"email": email}, buffered=True, **kwargs)
    with client.application.app_context():
        mail_outbox.send_due()
    return response


def mailed_token(client, mail_server, email):
    assert ask_reset(client, email).status_code == 202
    return reset_token_from(mail_server.inbox[-1].message)


def confirm(client, token, password=NEW_PASSWORD):
    return client.post(CONFIRM, json={"token": token, "password": password})


def log_in(client, email, password=PASSWORD):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def comparable(response):
    headers = {k: v for k, v in response.headers.items() if k != "X-Request-ID"}
    return response.status_code, response.get_data(), headers


def test_a_known_email_gets_one_mail_with_its_token(client, mail_server, viewer):
    response = ask_reset(client, f"  {viewer.email.upper()} ")
    assert response.status_code == 202
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    [received] = mail_server.inbox
    assert received.rcpt_tos == [viewer.email]
    assert received.message["To"] == viewer.email
    assert received.message["From"] == MAIL_FROM
    assert "password" in received.message["Subject"].lower()
    token = reset_token_from(received.message)
    assert len(token) >= 40
    assert confirm(client, token).status_code == 204


def test_the_mail_has_the_link_when_a_reset_url_is_set(reset_app, mail_server, viewer):
    reset_url = "https://app.example.com/reset?token={token}&from=mail-long-enough-to-be-wrapped"
    client = reset_app(PASSWORD_RESET_URL=reset_url).test_client()
    token = mailed_token(client, mail_server, viewer.email)
    link = reset_url.replace("{token}", token)
    assert link in mail_server.inbox[0].message.get_content().splitlines()
    assert link.encode() in mail_server.inbox[0].raw.splitlines()  # no soft line breaks


def test_without_a_reset_url_the_mail_has_no_link(client, mail_server, viewer):
    mailed_token(client, mail_server, viewer.email)
    assert "http" not in mail_server.inbox[0].message.get_content()


def test_unknown_and_inactive_emails_answer_alike_and_send_nothing(
    client, app, mail_server, viewer, create_user
):
    inactive = create_user(is_active=False)
    known = ask_reset(client, viewer.email)
    assert len(mail_server.inbox) == 1
    for email in ("nobody@example.com", inactive.email):
        answer = ask_reset(client, email)
        assert comparable(answer) == comparable(known)
    assert len(mail_server.inbox) == 1
    with app.app_context():
        owners = db.session.scalars(select(PasswordResetToken.user_id)).all()
    assert owners == [viewer.id]


def test_confirm_sets_the_password_and_ends_every_session(client, mail_server, viewer):
    sessions = [log_in(client, viewer.email).get_json() for _ in range(2)]
    token = mailed_token(client, mail_server, viewer.email)
    response = confirm(client, token)
    assert response.status_code == 204 and response.get_data() == b""
    for tokens in sessions:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert_problem(client.get("/api/auth/me", headers=headers), 401, "UNAUTHENTICATED")
        refused = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert_problem(refused, 401, "UNAUTHENTICATED")
    assert_problem(log_in(client, viewer.email), 401, "UNAUTHENTICATED")
    assert log_in(client, viewer.email, NEW_PASSWORD).status_code == 200


def test_a_token_works_once(client, mail_server, viewer):
    token = mailed_token(client, mail_server, viewer.email)
    assert confirm(client, token).status_code == 204
    assert_problem(confirm(client, token, "yet another password"), 400, "INVALID_TOKEN")
    assert log_in(client, viewer.email, NEW_PASSWORD).status_code == 200


def test_racing_confirmations_with_one_token_let_exactly_one_through(
    reset_app, mail_server, viewer
):
    app = reset_app()
    token = mailed_token(app.test_client(), mail_server, viewer.email)
    racers = 4
    start = threading.Barrier(racers)
    statuses = []

    def race(number):
        client = app.test_client()
        start.wait(timeout=30)
        statuses.append(confirm(client, token, f"racer number {number}").status_code)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [204] + [400] * (racers - 1)


def test_a_password_change_makes_earlier_tokens_stale(client, mail_server, viewer):
    token = mailed_token(client, mail_server, viewer.email)
    headers = {"Authorization": f"Bearer {log_in(client, viewer.email).get_json()['access_token']}"}
    changed = client.patch(
        f"/api/users/{viewer.id}",
        headers=headers,
        json={"password": "changed by the user", "current_password": PASSWORD},
    )
    assert changed.status_code == 200
    assert_problem(confirm(client, token), 400, "INVALID_TOKEN")
    assert log_in(client, viewer.email, "changed by the user").status_code == 200


@pytest.mark.parametrize("by", ["the user", "an admin", "the database"])
def test_an_email_change_makes_earlier_tokens_stale(
    client, app, mail_server, viewer, admin_headers, by
):
    token = mailed_token(client, mail_server, viewer.email)
    url = f"/api/users/{viewer.id}"
    if by == "the user":
        access = log_in(client, viewer.email).get_json()["access_token"]
        body = {"email": "moved@example.com", "current_password": PASSWORD}
        changed = client.patch(url, headers={"Authorization": f"Bearer {access}"}, json=body)
        assert changed.status_code == 200
    elif by == "an admin":
        changed = client.patch(url, headers=admin_headers, json={"email": "moved@example.com"})
        assert changed.status_code == 200
    else:
        with app.app_context():
            db.session.execute(
                update(User).where(User.id == viewer.id).values(email="moved@example.com")
            )
            db.session.commit()
    assert_problem(confirm(client, token), 400, "INVALID_TOKEN")
    assert log_in(client, "moved@example.com").status_code == 200  # the password is as it was


def test_a_deactivation_kills_earlier_tokens_even_once_reactivated(
    client, mail_server, viewer, admin_headers
):
    token = mailed_token(client, mail_server, viewer.email)
    url = f"/api/users/{viewer.id}"
    for active in (False, True):
        response = client.patch(url, headers=admin_headers, json={"is_active": active})
        assert response.status_code == 200
    assert_problem(confirm(client, token), 400, "INVALID_TOKEN")
    assert log_in(client, viewer.email).status_code == 200
    # A token asked for once the user is active again works.
    assert confirm(client, mailed_token(client, mail_server, viewer.email)).status_code == 204


def test_changes_to_neither_password_nor_email_keep_tokens(
    client, mail_server, viewer, admin_headers
):
    token = mailed_token(client, mail_server, viewer.email)
    body = {"name": "Renamed", "email": viewer.email.upper(), "role": "editor"}
    response = client.put(f"/api/users/{viewer.id}", headers=admin_headers, json=body)
    assert response.status_code == 200
    assert confirm(client, token).status_code == 204


def test_a_reset_makes_the_other_outstanding_tokens_stale(client, mail_server, viewer):
    first = mailed_token(client, mail_server, viewer.email)
    second = mailed_token(client, mail_server, viewer.email)
    assert first != second
    assert confirm(client, second).status_code == 204
    assert_problem(confirm(client, first, "one more password"), 400, "INVALID_TOKEN")


def test_a_token_expires_after_its_ttl(reset_app, mail_server, viewer):
    client = reset_app(PASSWORD_RESET_TTL=60).test_client()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        late = mailed_token(client, mail_server, viewer.email)
        in_time = mailed_token(client, mail_server, viewer.email)
        traveller.shift(timedelta(seconds=61))
        assert_problem(confirm(client, late), 400, "INVALID_TOKEN")
    with time_machine.travel(utcnow(), tick=False) as traveller:
        fresh = mailed_token(client, mail_server, viewer.email)
        traveller.shift(timedelta(seconds=59))
        assert confirm(client, fresh).status_code == 204
    assert in_time != fresh


def test_a_deactivated_users_token_is_refused(client, mail_server, viewer, admin_headers):
    token = mailed_token(client, mail_server, viewer.email)
    client.patch(f"/api/users/{viewer.id}", headers=admin_headers, json={"is_active": False})
    assert_problem(confirm(client, token), 400, "INVALID_TOKEN")


@pytest.mark.parametrize("token", ["", "garbage", "x" * 5000, "Token: abc"])
def test_a_malformed_token_is_invalid(client, token):
    assert_problem(confirm(client, token), 400, "INVALID_TOKEN")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"token": "t", "password": "short"}, ["password"]),
        ({"token": "t", "password": "x" * 129}, ["password"]),
        ({"password": NEW_PASSWORD}, ["token"]),
        ({"token": "t", "password": NEW_PASSWORD, "email": "a@b.co"}, ["email"]),
    ],
)
def test_the_confirm_body_is_validated(client, body, fields):
    problem = assert_problem(client.post(CONFIRM, json=body), 400, "VALIDATION_ERROR")
    assert list(problem["errors"]) == fields


@pytest.mark.parametrize("email", ["not-an-email", "", None])
def test_the_request_needs_an_email(client, mail_server, email):
    problem = assert_problem(ask_reset(client, email), 400, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["email"]
    assert mail_server.inbox == []


def test_only_a_digest_of_the_token_is_stored(client, app, mail_server, viewer):
    token = mailed_token(client, mail_server, viewer.email)
    with app.app_context():
        row = db.session.execute(select(PasswordResetToken.__table__)).mappings().one()
    assert token not in " ".join(str(value) for value in row.values())
    assert len(row["digest"]) == 64


def test_requests_are_rate_limited_per_client_address(reset_app, mail_server, viewer):
    client = reset_app(RATELIMIT_ENABLED=True, RATELIMIT_PASSWORD_RESET="2 per hour").test_client()
    first = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(2):
        assert ask_reset(client, viewer.email, environ_base=first).status_code == 202
    limited = ask_reset(client, viewer.email, environ_base=first)
    assert_problem(limited, 429, "RATE_LIMITED")
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600
    assert limited.headers["RateLimit-Limit"] == "2"
    assert len(mail_server.inbox) == 2
    other = ask_reset(client, viewer.email, environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert other.status_code == 202
    assert len(mail_server.inbox) == 3


def test_a_failing_mail_server_never_fails_the_request_and_is_logged_without_the_token(
    make_app, viewer, caplog, monkeypatch
):
    issued = []
    real_issue_token = password_reset.issue_token

    def recording_issue_token(user):
        issued.append(real_issue_token(user))
        return issued[-1]

    monkeypatch.setattr(password_reset, "issue_token", recording_issue_token)
    client = make_app(MAIL_URL=f"smtp://127.0.0.1:{free_port()}").test_client()
    caplog.set_level(logging.INFO)
    assert ask_reset(client, viewer.email).status_code == 202
    [failure] = [r for r in caplog.records if r.name == "api.mail"]
    assert failure.levelname == "WARNING"
    assert failure.getMessage() == "mail not sent; will retry"
    assert failure.kind == "password_reset"
    assert failure.attempt == 1
    assert failure.retry_in_seconds == mail_outbox.BACKOFF_FIRST
    assert "ConnectionRefusedError" in failure.error
    [token] = issued
    formatter = JsonFormatter()
    assert token not in "\n".join(formatter.format(record) for record in caplog.records)


def test_no_token_of_any_kind_reaches_the_log(make_app, viewer, caplog, capsys):
    """Every token the accounts flows hand out, and every one sent back, stays out of
    the JSON log; the console mailer writes the mail to stderr, not to the log."""
    caplog.set_level(logging.DEBUG)
    client = make_app().test_client()  # MAIL_URL=console://
    first = log_in(client, viewer.email).get_json()
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    second = second.get_json()
    client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})  # reuse
    third = log_in(client, viewer.email).get_json()
    headers = {"Authorization": f"Bearer {third['access_token']}"}
    client.get("/api/auth/sessions", headers=headers)
    assert ask_reset(client, viewer.email).status_code == 202
    mail = capsys.readouterr().err
    [reset_token] = re.findall(r"^Token: (\S+)$", mail, flags=re.MULTILINE)
    confirm(client, reset_token)
    confirm(client, reset_token)  # used
    client.get("/api/auth/me", headers=headers)  # revoked by the reset

    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    text = json.dumps(lines)
    assert any(line.get("path") == CONFIRM for line in lines)
    secrets = [reset_token, NEW_PASSWORD, PASSWORD]
    for tokens in (first, second, third):
        secrets += [tokens["access_token"], tokens["refresh_token"]]
    for secret in secrets:
        assert secret not in text
        for part in secret.split("."):  # nor any piece of a signed token
            assert len(part) < 20 or part not in text


def test_purge_deletes_used_and_expired_reset_tokens(reset_app, app, mail_server, viewer):
    client = reset_app(PASSWORD_RESET_TTL=60).test_client()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        mailed_token(client, mail_server, viewer.email)  # left to expire
        log_in(client, viewer.email)  # a session the reset will end
        traveller.shift(timedelta(seconds=30))
        assert confirm(client, mailed_token(client, mail_server, viewer.email)).status_code == 204
        live = mailed_token(client, mail_server, viewer.email)
        traveller.shift(timedelta(seconds=31))  # the first has expired, the others not
        result = app.test_cli_runner().invoke(args=["purge-expired"])
        assert result.exit_code == 0
        assert "Deleted 1 sessions and" in result.output
        assert "Deleted 2 password reset tokens." in result.output
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(PasswordResetToken)) == 1
            assert db.session.scalar(select(func.count()).select_from(AuthSession)) == 0
        assert confirm(client, live, "the password after that").status_code == 204


def test_reset_settings(tmp_path):
    settings = load_settings({}, str(tmp_path))
    assert settings["PASSWORD_RESET_TTL"] == 3600
    assert settings["PASSWORD_RESET_URL"] == ""
    assert settings["RATELIMIT_PASSWORD_RESET"] == tuple(parse_many("5 per hour"))
    for name, value in [
        ("PASSWORD_RESET_URL", "https://app.example.com/reset"),
        ("PASSWORD_RESET_URL", "ftp://app.example.com/{token}"),
        ("PASSWORD_RESET_TTL", "0"),
        ("RATELIMIT_PASSWORD_RESET", "5 per fortnight"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_settings({name: value}, str(tmp_path))
        assert caught.value.name == name


def test_password_reset_is_documented_as_public(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    asking, confirming = paths[RESET]["post"], paths[CONFIRM]["post"]
    for operation in (asking, confirming):
        assert "security" not in operation
    assert "content" not in asking["responses"]["202"]
    assert "429" in asking["responses"]
    assert "204" in confirming["responses"]
    problem = confirming["responses"]["400"]["content"]["application/problem+json"]["schema"]
    assert "INVALID_TOKEN" in problem["allOf"][1]["properties"]["code"]["enum"]
