"""Changing an email: your own needs your current password (wrong ones count
toward the per-user limit), an admin's change of another user's does not, and
every change is told to the old address (contract section 3)."""

import itertools
import logging

import pytest
from sqlalchemy import func, select

from extensions import db
from models import User
from models.mail_outbox import OutboxMail
from services import mail_outbox
from tests.helpers import PASSWORD, assert_problem
from tests.mail_server import smtp_server
from tests.servers import free_port

ADDRESSES = (f"198.51.100.{n}" for n in itertools.count(1))
NEW = "new.address@example.org"


@pytest.fixture
def mail_server():
    with smtp_server() as server:
        yield server


@pytest.fixture
def app(make_app, mail_server):
    return make_app(
        MAIL_URL=mail_server.url(), RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute"
    )


@pytest.fixture
def client(app):
    return app.test_client()


def sign_in(client, email, password=PASSWORD):
    """A token, from a fresh address so the login limit never interferes."""
    response = client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": next(ADDRESSES)},
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def update(client, user, headers, body, method="PATCH"):
    """An update, then what the outbox holds sent (the sender's work, which the
    answer never waits for)."""
    response = client.open(f"/api/users/{user.id}", method=method, headers=headers, json=body)
    with client.application.app_context():
        mail_outbox.send_due()
    return response


def stored_email(app, user):
    with app.app_context():
        return db.session.get(User, user.id).email


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_own_email_change_without_current_password_is_refused(
    client, app, mail_server, viewer, method
):
    headers = sign_in(client, viewer.email)
    response = update(client, viewer, headers, {"name": "Same", "email": NEW}, method)
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {
        "current_password": ["Required to change your own password or email."]
    }
    assert stored_email(app, viewer) == viewer.email
    assert mail_server.inbox == []


def test_own_email_change_with_a_wrong_current_password_is_refused(
    client, app, mail_server, viewer
):
    headers = sign_in(client, viewer.email)
    response = update(client, viewer, headers, {"email": NEW, "current_password": "not it"})
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {"current_password": ["Incorrect password."]}
    assert stored_email(app, viewer) == viewer.email
    assert mail_server.inbox == []


def test_sending_the_current_email_again_needs_nothing(client, app, mail_server, viewer):
    headers = sign_in(client, viewer.email)
    again = f"  {viewer.email.upper()} "
    response = update(client, viewer, headers, {"name": "Renamed", "email": again}, "PUT")
    assert response.status_code == 200
    assert response.get_json()["email"] == viewer.email
    assert mail_server.inbox == []


def test_wrong_passwords_for_email_and_password_changes_share_one_limit(client, app, viewer):
    """RATELIMIT_LOGIN is 3 per minute here: two wrong guesses on an email change
    and one on a password change use it up; then even the right one is 429."""
    headers = sign_in(client, viewer.email)
    for body in (
        {"email": NEW, "current_password": "guess 1"},
        {"email": NEW, "current_password": "guess 2"},
        {"password": "a brand new password", "current_password": "guess 3"},
    ):
        assert_problem(update(client, viewer, headers, body), 400, "VALIDATION_ERROR")
    for body in (
        {"email": NEW, "current_password": PASSWORD},
        {"password": "a brand new password", "current_password": PASSWORD},
    ):
        assert_problem(update(client, viewer, headers, body), 429, "RATE_LIMITED")
    assert stored_email(app, viewer) == viewer.email


def assert_one_notice(mail_server, old, new, masked):
    [received] = mail_server.inbox
    assert received.rcpt_tos == [old]
    assert received.message["To"] == old
    text = received.message.get_content()
    assert masked in text
    assert new not in text and new not in received.raw.decode()
    assert "Token:" not in text and "http" not in text


def test_own_email_change_is_told_to_the_old_address(client, app, mail_server, viewer):
    headers = sign_in(client, viewer.email)
    response = update(client, viewer, headers, {"email": NEW, "current_password": PASSWORD})
    assert response.status_code == 200
    assert response.get_json()["email"] == NEW
    assert stored_email(app, viewer) == NEW
    assert_one_notice(mail_server, viewer.email, NEW, "n***@example.org")
    # The session goes on: an email change is not a password change.
    assert client.get("/api/auth/me", headers=headers).get_json()["email"] == NEW


def test_an_admin_changes_another_users_email_without_a_password(
    client, app, mail_server, admin, viewer
):
    headers = sign_in(client, admin.email)
    response = update(client, viewer, headers, {"email": "Zed@Example.NET"})
    assert response.status_code == 200
    assert stored_email(app, viewer) == "zed@example.net"
    assert_one_notice(mail_server, viewer.email, "zed@example.net", "z***@example.net")


def test_an_admin_changing_their_own_email_needs_their_password(client, app, admin):
    headers = sign_in(client, admin.email)
    response = update(client, admin, headers, {"email": NEW})
    assert "current_password" in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]
    assert stored_email(app, admin) == admin.email


def test_a_refused_change_sends_no_notice(client, app, mail_server, viewer, create_user):
    taken = create_user(email="taken@example.com")
    headers = sign_in(client, viewer.email)
    body = {"email": taken.email, "current_password": PASSWORD}
    assert_problem(update(client, viewer, headers, body), 409, "CONFLICT")
    assert mail_server.inbox == []


def test_a_failing_mail_server_does_not_fail_the_change(make_app, viewer, caplog):
    """The notice waits in the outbox for a retry; the log names no address."""
    caplog.set_level(logging.INFO)
    app = make_app(MAIL_URL=f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    client = app.test_client()
    headers = sign_in(client, viewer.email)
    response = update(client, viewer, headers, {"email": NEW, "current_password": PASSWORD})
    assert response.status_code == 200
    assert stored_email(app, viewer) == NEW
    [warning] = [r for r in caplog.records if r.name == "api.mail"]
    assert warning.getMessage() == "mail not sent; will retry"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 1
    logged = str([vars(r) for r in caplog.records])
    assert NEW not in logged and viewer.email not in logged and PASSWORD not in logged
