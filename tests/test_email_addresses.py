"""Email addresses are ASCII: refused wherever one is stored, unknown wherever one
is looked up (contract section 1)."""

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Feedback, User
from services import mail_outbox
from tests.helpers import PASSWORD, VALID_FEEDBACK, assert_problem, password_hash
from tests.mail_server import smtp_server

# Written as escapes: each looks like (or lower-cases to) an ASCII address.
NOT_ASCII = {
    "fullwidth": "\uff43\uff41\uff53\uff45@x.com",  # "case" in fullwidth letters
    "cyrillic": "\u0430dmin@x.com",  # a Cyrillic "a"
    "kelvin": "\u212aate@x.com",  # the Kelvin sign lower-cases to an ASCII "k"
    "idn_domain": "ann@ex\u00e4mple.com",
    "quoted": '"admin"@x.com',
}
BAD = pytest.mark.parametrize("address", NOT_ASCII.values(), ids=NOT_ASCII.keys())
MESSAGE = "Not a valid email address: only ASCII characters, and no quoted local part."


def assert_refused_naming_email(response):
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {"email": [MESSAGE]}


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@BAD
def test_register_refuses_it(client, app, address):
    response = client.post(
        "/api/auth/register", json={"name": "Ann", "email": address, "password": PASSWORD}
    )
    assert_refused_naming_email(response)
    assert count(app, User) == 0


def test_the_kelvin_sign_is_not_taken_for_a_k(client, app, create_user):
    """Lower-cased first, it would be stored as ``kate@x.com``: refused instead."""
    create_user(email="someone@x.com")
    response = client.post(
        "/api/auth/register",
        json={"name": "Kate", "email": NOT_ASCII["kelvin"], "password": PASSWORD},
    )
    assert_refused_naming_email(response)
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == ["someone@x.com"]


@BAD
def test_an_admin_cannot_create_a_user_with_it(client, app, admin_headers, address):
    response = client.post(
        "/api/users",
        headers=admin_headers,
        json={"name": "Ann", "email": address, "password": PASSWORD},
    )
    assert_refused_naming_email(response)
    assert count(app, User) == 1  # the admin


@BAD
@pytest.mark.parametrize("method", ["put", "patch"])
def test_no_update_stores_it(client, app, viewer, viewer_headers, admin_headers, method, address):
    url = f"/api/users/{viewer.id}"
    own = {"name": "Ann", "email": address, "current_password": PASSWORD}
    assert_refused_naming_email(getattr(client, method)(url, headers=viewer_headers, json=own))
    by_admin = {"name": "Ann", "email": address}
    assert_refused_naming_email(getattr(client, method)(url, headers=admin_headers, json=by_admin))
    with app.app_context():
        assert db.session.get(User, viewer.id).email == viewer.email


@BAD
def test_feedback_refuses_it(client, app, address):
    response = client.post("/api/feedback", json={**VALID_FEEDBACK, "email": address})
    assert_refused_naming_email(response)
    assert count(app, Feedback) == 0


def test_an_ascii_address_is_trimmed_and_lower_cased_as_before(client):
    response = client.post(
        "/api/auth/register",
        json={"name": "Ann", "email": " Ann.O'Neil+Shop@Example.COM ", "password": PASSWORD},
    )
    assert response.status_code == 201
    assert response.get_json()["email"] == "ann.o'neil+shop@example.com"


def legacy_user(app, email):
    """A row written before the rule, holding an address no account may have."""
    with app.app_context():
        db.session.add(
            User(name="Old", email=email, role="viewer", password_hash=password_hash(PASSWORD))
        )
        db.session.commit()


def log_in(client, address):
    return client.post("/api/auth/login", json={"email": address, "password": PASSWORD})


def ask_reset(client, address):
    response = client.post("/api/auth/password-reset", json={"email": address})
    with client.application.app_context():
        mail_outbox.send_due()
    return response


@pytest.fixture
def mail_client(make_app):
    with smtp_server() as mail_server:
        yield make_app(MAIL_URL=mail_server.url()).test_client(), mail_server


@BAD
def test_login_with_it_is_an_unknown_email_even_if_a_row_holds_it(client, app, address):
    unknown = log_in(client, "nobody@x.com").get_json()
    legacy_user(app, address)
    body = assert_problem(log_in(client, address), 401, "UNAUTHENTICATED")
    assert (body["title"], body["detail"]) == (unknown["title"], unknown["detail"])


def test_login_with_a_kelvin_sign_is_not_the_k_account(client, create_user):
    create_user(email="kate@x.com")
    assert_problem(log_in(client, NOT_ASCII["kelvin"]), 401, "UNAUTHENTICATED")
    assert log_in(client, "kate@x.com").status_code == 200


@BAD
def test_password_reset_for_it_answers_202_and_sends_nothing(mail_client, app, address):
    client, mail_server = mail_client
    legacy_user(app, address)
    assert ask_reset(client, address).status_code == 202
    assert mail_server.inbox == []


def test_password_reset_with_a_kelvin_sign_mails_not_the_k_account(mail_client, create_user):
    client, mail_server = mail_client
    create_user(email="kate@x.com")
    assert ask_reset(client, NOT_ASCII["kelvin"]).status_code == 202
    assert mail_server.inbox == []
    assert ask_reset(client, "kate@x.com").status_code == 202
    assert len(mail_server.inbox) == 1


def test_the_document_states_the_rule_where_an_address_is_stored(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for name in ("Register", "UserCreate", "Feedback"):
        email = schemas[name]["properties"]["email"]
        assert email["format"] == "email"  # RFC 5321: ASCII ("idn-email" is the other)
        assert "ASCII only, without a quoted local part" in email["description"]
    login = schemas["Login"]["properties"]["email"]
    assert "pattern" not in login
    assert "belongs to no account" in login["description"]
