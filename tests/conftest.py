"""Fixtures: an app on a fresh database, users of each role and their tokens.

The database is SQLite in a temporary folder unless ``TEST_DATABASE_URL`` names
another (``.ci/run`` points it at PostgreSQL). The schema is built once per run by
the real migrations; each test then starts from empty tables.
"""

import os

import flask_migrate
import pytest
import redis
from sqlalchemy import text

from app import create_app
from config import SETTINGS
from extensions import db
from models import User
from tests.helpers import PASSWORD, empty_tables

# The suite must not depend on the developer's shell or .env file.
for _setting in SETTINGS:
    os.environ.pop(_setting.name, None)
os.environ["FLASK_SKIP_DOTENV"] = "1"

SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def services_required():
    """In CI the PostgreSQL/Redis run must exercise them, never skip."""
    return os.environ.get("TEST_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason):
    """Skip a test that needs a missing service, or fail it where services are required."""
    if services_required():
        pytest.fail(f"{reason} (TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture
def redis_url():
    """The Redis named by ``TEST_REDIS_URL``, emptied so counters start at zero."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        skip_or_fail("needs a Redis server named by TEST_REDIS_URL")
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at TEST_REDIS_URL is not reachable: {exc}")
    finally:
        client.close()
    return url


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
    # Some tests build apps on unreachable databases; clean up through one that is not.
    on_test_database = [a for a in built if a.config["SQLALCHEMY_DATABASE_URI"] == database_url]
    if on_test_database:
        with on_test_database[0].app_context():
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
