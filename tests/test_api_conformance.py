"""Property-based tests: schemathesis drives the app in-process from its own document.

For every operation, as each kind of caller (anonymous, viewer, editor, admin),
with valid and invalid data: no response is a 5xx, and every response conforms to
the document (status code, content type, body schema, headers), besides
schemathesis's other checks (invalid data is rejected, valid data accepted, the
API does not ignore auth).

State: the database holds one admin (id 1), editor (id 2) and viewer (id 3) with
fresh tokens, three products and three feedback (ids 1 to 3), so item routes and
batch fetches find real rows. An example that changed anything (a successful
write: say it deleted the caller, demoted the admin or logged the token out) has
the next example start from that state again, so each example sees the same world.

Some rules of a valid request need what no schema can give: a real secret, or a
relation between query parameters, which OpenAPI cannot state. A valid (positive)
example is made to follow them before it is sent, exactly as a client would; the
invalid sides are covered in the tests of each resource:

- changing your own password sends your real current password;
- a refresh sends a real refresh token, and a password reset confirmation a real
  reset token, both of the viewer (id 3), as the client would have them from a
  login or a mail;
- ``If-Match`` sends the product's real current ETag (in invalid examples too,
  where a stale one would answer 412 before the invalid body is even read);
- a non-empty ``cursor`` is a real one, issued for the same query;
- ``page`` and ``cursor`` are not sent together, ``ids`` is sent alone, and
  ``min_price`` is not above ``max_price``.

Bounded and deterministic: a fixed seed, derandomized generation and a small
number of random examples per operation after the coverage cases
(``TEST_CONFORMANCE_EXAMPLES``: 5 by default, 25 in .ci/run). The tests of the
all-features app are marked ``features`` (conftest's ``FEATURE_SETS``) and run
only when ``-m`` names that marker, as .ci/run's features stages do.

Each operation and caller is a test of its own, named like
``test_protected_operation[PATCH /api/users/{user_id}][editor]`` (public operations:
``test_public_operation[GET /api/config][anonymous]``); pytest cannot select
schemathesis's tests by that id, so re-run one with ``-k``:
``pytest tests/test_api_conformance.py -k "PATCH and users and editor"``.
"""

import os
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app import create_app
from auth.tokens import sign_access_token, sign_refresh_token
from extensions import db
from models import User
from services import password_reset, sessions
from tests.conftest import FEATURE_SETS
from tests.helpers import (
    PASSWORD,
    SECRET_KEY,
    empty_tables,
    insert_feedback,
    insert_products,
    password_hash,
)

SEEDED_ROLES = ("admin", "editor", "viewer")  # ids 1, 2, 3 after a reset
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PRICES = ("9.99", "120.00", "0.50")  # products 1 to 3

# Each test runs schemathesis's coverage cases (every boundary, missing, wrong-typed
# and unexpected part of a request the document describes) whatever this number
# says; it bounds only the random examples after them. The default run makes a few
# (TEST_CONFORMANCE_EXAMPLES, 5 unless set); .ci/run sets 25 in every stage.
MAX_EXAMPLES = int(os.environ.get("TEST_CONFORMANCE_EXAMPLES", "5"))
CONFIG = {
    "seed": 20260101,
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
    },
    "phases": {"stateful": {"enabled": False}},
}


class World:
    """The seeded accounts and their tokens; rebuilt after any change."""

    base_url = None  # the schema's own (the app in-process); the stack stage's is nginx

    def __init__(self, app):
        self.app = app
        self.headers = {}
        self.changed = True

    def prepare(self, caller):
        if self.changed:
            self._reset()
        return dict(self.headers.get(caller, {}))

    def record(self, case, response):
        if case.method.upper() not in SAFE_METHODS and response.status_code < 400:
            self.changed = True

    def refresh_token(self):
        with self.app.app_context():
            return sign_refresh_token(*sessions.open_session(db.session.get(User, 3)))

    def reset_token(self):
        with self.app.app_context():
            return password_reset.issue_token(db.session.get(User, 3))

    def _reset(self):
        with self.app.app_context():
            empty_tables()
            for role in SEEDED_ROLES:
                user = User(
                    name=role.title(),
                    email=f"{role}@example.com",
                    role=role,
                    password_hash=password_hash(PASSWORD),
                )
                db.session.add(user)
                db.session.commit()
                token_id, _ = sessions.open_session(user)
                self.headers[role] = {"Authorization": f"Bearer {sign_access_token(token_id)}"}
            insert_products(*({"price": Decimal(price), "category": "seeded"} for price in PRICES))
            insert_feedback({"rating": 1}, {"rating": 2}, {"rating": 3, "user_id": 3})
        self.changed = False


class AppUnderTest:
    """The WSGI app schemathesis calls: each test points it at the ``app`` fixture's.

    The schema is loaded at import, so that pytest lists one test per operation,
    from an app that only describes itself; the tests then run against an app on
    the test database from the ``app`` fixture.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


APP_UNDER_TEST = AppUnderTest(create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": SECRET_KEY}))
schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", APP_UNDER_TEST, config=schemathesis.Config.from_dict(CONFIG)
)
# A token changes nothing for public operations, so only anonymous callers try those.
# (Two disjoint halves: schemathesis builds each operation's test once.)
public = schema.include(lambda ctx: not ctx.operation.definition.raw.get("security"))
protected = schema.include(lambda ctx: bool(ctx.operation.definition.raw.get("security")))


@pytest.fixture
def world(app):
    APP_UNDER_TEST.app = app
    return World(app)


def _send_real_current_password(case, caller):
    """Changing your own password or email needs your current password, a secret
    no schema can describe: a valid example that may change the caller's own
    password or email sends the real one (the wrong or missing one is covered in
    the users tests)."""
    changes_own_account = (
        case.operation.path == "/api/users/{user_id}"
        and str((case.path_parameters or {}).get("user_id")) == str(SEEDED_ROLES.index(caller) + 1)
        and isinstance(case.body, dict)
        and ("password" in case.body or "email" in case.body)
    )
    if changes_own_account:
        case.body["current_password"] = PASSWORD


def _send_real_etag(case, world, headers):
    """A valid conditional write names the version it was based on: the
    product's current ETag, as a client gets it from a GET."""
    if_match = next((name for name in case.headers or {} if name.lower() == "if-match"), None)
    product_id = (case.path_parameters or {}).get("product_id")
    if if_match is None or product_id is None:
        return
    current = world.app.test_client().get(f"/api/products/{product_id}", headers=headers)
    if current.status_code == 200:
        case.headers[if_match] = current.headers["ETag"]


def _send_real_tokens(case, world):
    """Refresh and password reset tokens are secrets no schema can describe: a
    valid example sends a real one (forged, used and stale ones are covered in
    the tests of refresh tokens and password reset)."""
    if not isinstance(case.body, dict):
        return
    if case.operation.path == "/api/auth/refresh" and "refresh_token" in case.body:
        case.body["refresh_token"] = world.refresh_token()
    if case.operation.path == "/api/auth/password-reset/confirm" and "token" in case.body:
        case.body["token"] = world.reset_token()


def _follow_list_rules(case, world, headers):
    """The rules between a list's query parameters, and a real cursor."""
    query = case.query
    if not isinstance(query, dict):
        return
    if "ids" in query:
        for name in [name for name in query if name != "ids"]:
            del query[name]
    if "page" in query and "cursor" in query:
        del query["page"]
    prices = [query.get("min_price"), query.get("max_price")]
    if all(isinstance(price, str) for price in prices):
        low, high = sorted(prices, key=lambda price: Decimal(price.strip()))
        query["min_price"], query["max_price"] = low, high
    if query.get("cursor"):
        first = world.app.test_client().get(
            case.operation.path, query_string={**query, "cursor": ""}, headers=headers
        )
        next_cursor = first.get_json()["meta"]["next_cursor"] if first.status_code == 200 else None
        query["cursor"] = next_cursor or ""


def call_and_validate(case, caller, world):
    headers = world.prepare(caller)
    # Invalid examples too: a stale ETag would answer 412 before the body is read,
    # and the invalid part of the example would go untested.
    _send_real_etag(case, world, headers)
    if case.meta.generation.mode.is_positive:
        if caller != "anonymous":
            _send_real_current_password(case, caller)
        _send_real_tokens(case, world)
        _follow_list_rules(case, world, headers)
    response = case.call_and_validate(base_url=world.base_url, headers=headers)
    world.record(case, response)


# The fixtures live for the whole test on purpose: ``World`` resets the database
# itself whenever an example changed it.
ONE_APP_PER_OPERATION = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


# Each test's id names the operation, the caller and the app's settings, as
# test_protected_operation[PATCH /api/users/{user_id}][editor-defaults]; the
# settings are the defaults, or every optional feature on at once (conftest's
# all_features_app: production, trusted hosts, tracing, metrics, Sentry, rate
# limits and cache in Redis when given, SMTP mail).
@pytest.mark.parametrize("app", FEATURE_SETS, indirect=True)
@pytest.mark.parametrize("caller", ["anonymous"])
@public.parametrize()
@ONE_APP_PER_OPERATION
def test_public_operation(case, caller, world):
    call_and_validate(case, caller, world)


@pytest.mark.parametrize("app", FEATURE_SETS, indirect=True)
@pytest.mark.parametrize("caller", ["anonymous", *SEEDED_ROLES])
@protected.parametrize()
@ONE_APP_PER_OPERATION
def test_protected_operation(case, caller, world):
    call_and_validate(case, caller, world)
