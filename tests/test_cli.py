"""The management commands create-user and purge-sessions (seed-demo: test_seed_demo.py)."""

import pytest
from sqlalchemy import select

from extensions import db
from models import User
from tests.helpers import PASSWORD


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_create_user_reads_the_password_from_stdin(app, login):
    result = invoke(
        app,
        "create-user",
        "--email",
        " Root@Example.com",
        "--name",
        "Root",
        "--role",
        "admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "root@example.com"))
        assert user.role == "admin" and user.check_password(PASSWORD)
    assert login("root@example.com")


@pytest.mark.parametrize(
    ("options", "password", "named"),
    [
        (["--email", "nope"], PASSWORD, "email"),
        (["--email", "\u0430dmin@example.com"], PASSWORD, "email"),  # a Cyrillic "a"
        (["--email", "a@example.com"], "short", "password"),
        (["--email", "a@example.com", "--role", "king"], PASSWORD, "role"),
        (["--email", "a@example.com", "--name", "   "], PASSWORD, "name"),
    ],
)
def test_create_user_rejects_bad_input_clearly(app, options, password, named):
    result = invoke(app, "create-user", "--name", "X", *options, "--password-stdin", input=password)
    assert result.exit_code != 0 and named in result.output
    with app.app_context():
        assert db.session.scalar(select(User)) is None


def test_create_user_refuses_an_existing_email(app, viewer):
    result = invoke(
        app,
        "create-user",
        "--email",
        viewer.email,
        "--name",
        "X",
        "--password-stdin",
        input=PASSWORD,
    )
    assert result.exit_code == 1 and "already exists" in result.output


def test_purge_sessions_keeps_live_ones(app, client, viewer, viewer_headers, login):
    stale = login(viewer.email)
    client.post("/api/auth/logout", headers=stale)
    result = invoke(app, "purge-sessions")
    assert result.exit_code == 0 and "Deleted 1 sessions" in result.output
    assert client.get("/api/auth/me", headers=viewer_headers).status_code == 200
