"""Fixtures: an app on a fresh database, users of each role and their tokens.

The database is SQLite in a temporary folder unless ``TEST_DATABASE_URL`` names
another (``.ci/run`` points it at PostgreSQL). The schema is built once per run by
the real migrations; each test then starts from empty tables (and the ``app``
fixture's app is reused while no test changed it). Under pytest-xdist
(``python3 dev.py test`` runs ``-n auto --dist loadgroup``: each file on one worker,
in order) each worker has a database of its own, the tests that use Redis take
turns, and a ``faults`` test is skipped (it runs alone in ``.ci/run``).

On PostgreSQL the suite never touches the database ``TEST_DATABASE_URL`` names:
it creates databases of its own beside it, named after it with a random part and
the worker (``flask_api_test_3f9c2a_gw0``) and marked with a comment, and drops
exactly those at the end. The Redis database of ``TEST_REDIS_URL`` must be empty
or hold the suite's marker key; the suite refuses to flush any other.

Constants and factories live in ``tests/helpers.py``; ``tests/README.md`` says
which file tests what.
"""

import contextlib
import copy
import os
import secrets
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no xdist lock (the services tests run in CI, on Linux)
    fcntl = None

import flask_migrate
import pytest
import redis
from sqlalchemy.engine import make_url

from app import create_app
from config import SETTINGS
from deploy.marked_databases import create_marked, drop_marked
from extensions import db
from models import User
from tests.helpers import (
    PASSWORD,
    SECRET_KEY,
    empty_tables,
    insert_feedback,
    insert_products,
    password_hash,
    services_required,
    skip_or_fail,
)

# The suite must not depend on the developer's shell or .env file.
for _setting in SETTINGS:
    os.environ.pop(_setting.name, None)
os.environ["FLASK_SKIP_DOTENV"] = "1"
# No app of the suite, nor a server it starts, runs a mail sender thread: a test
# sends the outbox's mail when it says so (mail_outbox.send_due()), and the tests
# of the sender thread ask for it (MAIL_SENDER=thread).
os.environ["MAIL_SENDER"] = "command"


RUN_ALONE = (
    "restarts PostgreSQL and Redis under the other xdist workers' tests: "
    "run it alone, as .ci/run does (python3 dev.py test -n 0 -m faults)"
)


ONLY_WHEN_ASKED = {
    "features": "the all-features half of the conformance matrix: "
    "python3 dev.py test -m features (.ci/run's own stages)",
    "doctest": "runs the guides' examples: python3 dev.py test -m doctest (.ci/run's own stage)",
    "stack": "the whole stack, minutes long: python3 dev.py test -m stack (.ci/run's own stage)",
    "servers": "starts gunicorn, nginx, PgBouncer, Chromium or dev.py serve: "
    "python3 dev.py test -m servers (.ci/run's own stages)",
}


# Files whose tests are independent and the run's longest: with
# --dist loadgroup (dev.py) every other file is one xdist group, run whole on one
# worker, in order, and these are spread over the workers test by test.
SPREAD_OVER_WORKERS = {"tests/test_api_conformance.py", "tests/test_guides.py"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """A ``faults`` test restarts the servers every xdist worker uses: it runs only
    alone. A ``doctest`` test (a guide's examples against a development server), a
    ``stack`` test, a ``servers`` test (one that starts real server processes) and a
    ``features`` test (the all-features half of the conformance matrix) run only
    when ``-m`` names their marker (each is a stage of ``.ci/run``), so the default
    run stays fast and the suite's other runs do not repeat them. Each file but
    ``SPREAD_OVER_WORKERS`` is an ``xdist_group`` of its own."""
    asked_for = config.getoption("markexpr") or ""
    for item in items:
        if os.environ.get("PYTEST_XDIST_WORKER") and item.get_closest_marker("faults"):
            item.add_marker(pytest.mark.skip(reason=RUN_ALONE))
        for marker, reason in ONLY_WHEN_ASKED.items():
            if item.get_closest_marker(marker) and marker not in asked_for:
                item.add_marker(pytest.mark.skip(reason=reason))
        path = item.nodeid.split("::", 1)[0]
        if path not in SPREAD_OVER_WORKERS:
            item.add_marker(pytest.mark.xdist_group(path))


@contextlib.contextmanager
def _one_worker_at_a_time(tmp_path_factory, name):
    """Hold a lock the run's xdist workers share (nothing to hold without xdist)."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or fcntl is None:
        yield
        return
    # Each worker's temporary folder is popen-gwN inside the run's own folder.
    with open(tmp_path_factory.getbasetemp().parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# What the suite leaves on a server to say "mine": a comment on each database it
# creates and a key in the Redis database it empties. It drops, empties or
# flushes nothing that does not carry it.
TEST_MARKER = "flask-api test suite: created by tests/conftest.py, dropped when its run ends"
REDIS_MARKER_KEY = "flask-api-test-suite"


def mark_redis(client):
    """Mark the Redis database as the suite's, or refuse one that holds other data.

    An empty database, or one holding the suite's marker key (left by this run or
    an earlier one), is the suite's; any other is someone's data. Every use of
    the database marks it first, so whatever the suite writes there is always
    beside its marker.
    """
    if client.dbsize() and not client.exists(REDIS_MARKER_KEY):
        pytest.fail(
            "TEST_REDIS_URL names a Redis database that holds keys the test suite did not "
            f"write (no {REDIS_MARKER_KEY!r} key): the suite empties its database, so "
            "name an empty one (e.g. redis://127.0.0.1:6379/15 if it is unused)",
            pytrace=False,
        )
    client.set(REDIS_MARKER_KEY, TEST_MARKER)


def claim_redis(client):
    """Mark the Redis database as the suite's (``mark_redis``), then empty it."""
    mark_redis(client)
    client.flushdb()
    client.set(REDIS_MARKER_KEY, TEST_MARKER)


@pytest.fixture
def redis_url(tmp_path_factory):
    """The Redis named by ``TEST_REDIS_URL``, emptied so counters start at zero.

    Every worker uses that one Redis and each test empties it: under xdist the
    tests using it take turns (a lock held from here to the test's teardown). It
    must be empty or the suite's own (``claim_redis``)."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        skip_or_fail("needs a Redis server named by TEST_REDIS_URL")
    with _one_worker_at_a_time(tmp_path_factory, "redis"):
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            claim_redis(client)
        except redis.RedisError as exc:
            skip_or_fail(f"Redis at TEST_REDIS_URL is not reachable: {exc}")
        finally:
            client.close()
        yield url


def _create_test_database(url, worker):
    """A new PostgreSQL database of the suite's own beside ``url``, marked as such.

    Its name is ``TEST_DATABASE_URL``'s name, a random part and the xdist worker
    (``flask_api_test_3f9c2a_gw0``): the database that URL names is never used, so
    a run can never empty one that holds someone's data.
    """
    name = f"{make_url(url).database}_{secrets.token_hex(3)}_{worker or 'main'}"
    return create_marked(url, name, TEST_MARKER)


def drop_test_database(url):
    """Drop a database this suite created; refuse any other (no marker comment)."""
    if not drop_marked(url, TEST_MARKER):
        raise RuntimeError(
            f"not dropping {make_url(url).database}: the test suite did not create it"
        )


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The test database, migrated once per run (per worker under xdist).

    With a PostgreSQL ``TEST_DATABASE_URL`` each worker creates a database of its
    own beside the one named (see ``_create_test_database``) and drops it when the
    run ends; SQLite lives in the run's temporary folder."""
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    created = None
    if url and make_url(url).get_backend_name() == "postgresql":
        url = created = _create_test_database(url, worker)
    elif url and worker:
        path = Path(make_url(url).database or "")
        if path.name not in ("", ":memory:"):
            url = make_url(url).set(database=str(path.with_stem(f"{path.stem}_{worker}")))
            url = url.render_as_string(hide_password=False)
    if not url:  # tmp_path_factory already gives each worker a folder of its own
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        flask_migrate.upgrade()
        for engine in db.engines.values():  # the session's and the autocommit engine
            engine.dispose()
    yield url
    if created:
        drop_test_database(created)


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

    make.built = built  # the ``app`` fixture adds the app it hands out again
    yield make
    # Some tests build apps on unreachable databases; clean up through one that is not.
    on_test_database = [a for a in built if a.config["SQLALCHEMY_DATABASE_URI"] == database_url]
    if on_test_database:
        with on_test_database[0].app_context():
            empty_tables()
    for app in built:
        with app.app_context():
            for engine in db.engines.values():  # the session's and the autocommit engine
                engine.dispose()


def _shape(app):
    """What a test could change on an app: routes, hooks, error handlers, settings."""
    return (
        [(rule.rule, rule.endpoint, sorted(rule.methods)) for rule in app.url_map.iter_rules()],
        dict(app.url_map.converters),
        dict(app.view_functions),
        {key: list(value) for key, value in app.before_request_funcs.items()},
        {key: list(value) for key, value in app.after_request_funcs.items()},
        {key: list(value) for key, value in app.teardown_request_funcs.items()},
        {  # Flask's lookups add empty entries to its defaultdicts: only handlers count
            (blueprint, code, exception): handler
            for blueprint, codes in app.error_handler_spec.items()
            for code, handlers in codes.items()
            for exception, handler in handlers.items()
        },
        copy.deepcopy(dict(app.config)),
    )


@pytest.fixture(scope="session")
def _default_app():
    return {}


# The sets of settings a test can run its ``app`` with:
# ``@pytest.mark.parametrize("app", FEATURE_SETS, indirect=True)``. The
# all-features half is marked ``features``: it repeats every example of the
# defaults half against a second app, which doubled the default run's longest
# files, so it runs in .ci/run's own stages (``-m features``), on SQLite and on
# PostgreSQL and Redis, where that app's Redis storage is really used.
DEFAULTS, ALL_FEATURES = "defaults", "all features on"
FEATURE_SETS = (DEFAULTS, pytest.param(ALL_FEATURES, marks=pytest.mark.features, id=ALL_FEATURES))


@pytest.fixture
def app(request, make_app, _default_app):
    """``make_app()``: an app with the default test settings; with the fixture
    param ``ALL_FEATURES``, ``all_features_app``.

    Building an app costs more than most tests, so each worker keeps the one it
    built and hands it to the next test again, as long as no test changed it
    (routes, hooks, error handlers, settings: else it builds a new one). Its
    tables are emptied after every test like any app's. A test that adds routes
    or needs an app of its own calls ``make_app()``: Flask refuses new routes
    on an app that has served a request.
    """
    if getattr(request, "param", DEFAULTS) == ALL_FEATURES:
        return request.getfixturevalue("all_features_app")
    kept = _default_app.get("app")
    if kept is not None and _shape(kept) == _default_app["shape"]:
        make_app.built.append(kept)
        return kept
    kept = make_app()
    _default_app.update(app=kept, shape=_shape(kept))
    return kept


@pytest.fixture(scope="session")
def _feature_servers():
    """What an app with every feature on sends to: a stand-in OTLP collector and
    Sentry (``post_sink``) and an SMTP server, one each per worker."""
    from tests.mail_server import smtp_server  # it imports this module
    from tests.servers import post_sink

    with post_sink() as collector, post_sink() as sentry, smtp_server() as mail:
        yield {"collector": collector, "sentry": sentry, "mail": mail}


def all_features_settings(servers):
    """Production settings with every optional feature on at once.

    Redis (``TEST_REDIS_URL``) holds the rate limits and the cache when it is
    given, and must be under ``TEST_REQUIRE_SERVICES=1``; else ``memory://`` and
    the in-process cache. Redis is shared without the ``redis_url`` lock: the
    limits below are keys no other test uses, and cache keys carry the worker's
    own database. The limits are high enough that no test meets one: they are
    counted and reported on every answer all the same.
    """
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url and services_required():
        pytest.fail("the all-features app needs TEST_REDIS_URL (TEST_REQUIRE_SERVICES=1)")
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            mark_redis(client)  # its keys must never make the database look foreign
        finally:
            client.close()
    many = "100000 per minute"
    return {
        "APP_ENV": "production",
        "TRUSTED_HOSTS": "localhost",  # the test client's host
        "ALLOWED_ORIGINS": "https://app.example.com",
        "OTEL_EXPORTER_OTLP_ENDPOINT": servers["collector"].url,
        "OTEL_SERVICE_NAME": "all-features",
        "METRICS_ENABLED": True,
        "METRICS_TOKEN": "metrics-token-for-the-tests",
        "SENTRY_DSN": f"http://publickey@127.0.0.1:{servers['sentry'].server_address[1]}/42",
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "CACHE_URL": redis_url or "simple://",
        **{
            name: many
            for name in (
                "RATELIMIT_DEFAULT",
                "RATELIMIT_LOGIN",
                "RATELIMIT_REGISTER",
                "RATELIMIT_FEEDBACK",
                "RATELIMIT_PASSWORD_RESET",
            )
        },
        "MAIL_URL": servers["mail"].url(),
    }


@pytest.fixture(scope="session")
def _all_features(_feature_servers):
    """The worker's all-features app, once built; its exports are flushed and
    stopped before the servers they go to."""
    kept = {}
    yield kept
    if "app" in kept:
        kept["app"].extensions["tracing"].shutdown()
        kept["sentry"].close()


@pytest.fixture
def all_features_app(make_app, _feature_servers, _all_features):
    """An app with ``all_features_settings``, kept per worker like ``app``'s.

    Sentry's client is process-wide: it is the current one only during a test
    of this app, so other tests' apps in this process report nothing.
    """
    import sentry_sdk  # loaded with the first such app anyway

    kept = _all_features.get("app")
    if kept is None:
        kept = make_app(**all_features_settings(_feature_servers))
        _all_features.update(app=kept, sentry=sentry_sdk.get_client())
    else:
        make_app.built.append(kept)  # emptied after the test like any app
        sentry_sdk.get_global_scope().set_client(_all_features["sentry"])
    yield kept
    sentry_sdk.get_global_scope().set_client(None)


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
                password_hash=password_hash(password),
            )
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


@pytest.fixture
def add_products(app):
    """Insert products directly: ``add_products({"name": "Chair"}, {})``; returns
    their ids. Each spec is a dict of column values (see ``helpers.insert_products``)."""

    def add(*specs):
        with app.app_context():
            return insert_products(*specs)

    return add


@pytest.fixture
def add_feedback(app):
    """Insert feedback directly: ``add_feedback({"rating": 5}, {})``; returns their
    ids. Each spec is a dict of column values (see ``helpers.insert_feedback``)."""

    def add(*specs):
        with app.app_context():
            return insert_feedback(*specs)

    return add
