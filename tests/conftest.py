"""Fixtures: an app on a fresh database, users of each role and their tokens.

The database is SQLite in a temporary folder unless ``TEST_DATABASE_URL`` names
another (``.ci/run`` points it at PostgreSQL). The schema is built once per run by
the real migrations; each test then starts from empty tables.
"""

import os

import flask_migrate
import pytest
from sqlalchemy import text

from app import create_app
from extensions import db
from models import User
from tests.helpers import PASSWORD, empty_tables

SETTING_NAMES = [
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "ACCESS_TOKEN_TTL",
    "MAX_CONTENT_LENGTH",
    "ALLOW_REGISTRATION",
    "LOG_LEVEL",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_RECYCLE",
    "DB_POOL_TIMEOUT",
    "RATELIMIT_ENABLED",
    "RATELIMIT_STORAGE_URI",
    "RATELIMIT_DEFAULT",
    "RATELIMIT_LOGIN",
    "RATELIMIT_REGISTER",
    "RATELIMIT_FEEDBACK",
    "TRUSTED_PROXIES",
    "ALLOWED_ORIGINS",
]

# The suite must not depend on the developer's shell or .env file.
for _name in SETTING_NAMES:
    os.environ.pop(_name, None)
os.environ["FLASK_SKIP_DOTENV"] = "1"

SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def services_required():
    """In CI the PostgreSQL/Redis run must exercise them, never skip."""
    return os.environ.get("TEST_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL") or "sqlite:///" + str(
        tmp_path_factory.mktemp("db") / "test.db"
    )
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        flask_migrate.upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def make_app(database_url):
    """Build an app on the test database; keyword arguments override settings."""
    built = []

    def make(**overrides):
        settings = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "RATELIMIT_ENABLED": False,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",  # fast for tests; same algorithm
            "TESTING": True,
            **overrides,
        }
        app = create_app(settings)
        built.append(app)
        return app

    yield make
    if built:
        with built[0].app_context():
            empty_tables()
    for app in built:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def create_user(app):
    """Insert a user directly; returns it (detached, attributes loaded)."""
    counter = iter(range(1, 10_000))

    def create(role="viewer", *, email=None, name=None, password=PASSWORD, is_active=True):
        number = next(counter)
        with app.app_context():
            user = User(
                name=name or f"{role.title()} {number}",
                email=email or f"{role}{number}@example.com",
                role=role,
                is_active=is_active,
            )
            user.set_password(password)
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return create


@pytest.fixture
def login(client):
    """Log in and return the ``Authorization`` header for the token."""

    def do_login(email, password=PASSWORD):
        response = client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    return do_login


@pytest.fixture
def admin(create_user):
    return create_user("admin")


@pytest.fixture
def editor(create_user):
    return create_user("editor")


@pytest.fixture
def viewer(create_user):
    return create_user("viewer")


@pytest.fixture
def admin_headers(admin, login):
    return login(admin.email)


@pytest.fixture
def editor_headers(editor, login):
    return login(editor.email)


@pytest.fixture
def viewer_headers(viewer, login):
    return login(viewer.email)
