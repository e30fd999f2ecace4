"""Property-based tests: schemathesis drives the app in-process from its own document.

For every operation, as each kind of caller (anonymous, viewer, editor, admin),
with valid and invalid data: no response is a 5xx, and every response conforms to
the document (status code, content type, body schema, headers), besides
schemathesis's other checks (invalid data is rejected, valid data accepted, the
API does not ignore auth).

State: the database holds one admin (id 1), editor (id 2) and viewer (id 3) with
fresh tokens. An example that changed anything (a successful write: say it
deleted the caller, demoted the admin or logged the token out) has the next
example start from that state again, so each example sees the same world.

Bounded and deterministic: a fixed seed, derandomized generation and a small
number of examples per operation keep the whole run within a minute or two.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app import create_app
from extensions import db
from models import User
from security import issue_token
from tests.conftest import SECRET_KEY
from tests.helpers import PASSWORD, empty_tables

SEEDED_ROLES = ("admin", "editor", "viewer")  # ids 1, 2, 3 after a reset
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CONFIG = {
    "seed": 20260101,
    "generation": {"mode": "all", "max-examples": 25, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
}


class World:
    """The seeded accounts and their tokens; rebuilt after any change."""

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

    def _reset(self):
        with self.app.app_context():
            empty_tables()
            for role in SEEDED_ROLES:
                user = User(name=role.title(), email=f"{role}@example.com", role=role)
                user.set_password(PASSWORD)
                db.session.add(user)
                db.session.commit()
                self.headers[role] = {"Authorization": f"Bearer {issue_token(user)}"}
        self.changed = False


class AppUnderTest:
    """The WSGI app schemathesis calls: each test points it at its own app.

    The schema is loaded at import, so that pytest lists one test per operation,
    from an app that only describes itself; the tests then run against an app on
    the test database from the ``make_app`` fixture.
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
protected = schema.include(lambda ctx: bool(ctx.operation.definition.raw.get("security")))


@pytest.fixture
def world(make_app):
    app = make_app()
    APP_UNDER_TEST.app = app
    return World(app)


def _send_real_current_password(case, caller):
    """Changing your own password needs your current one, a secret no schema can
    describe: a valid example that changes the caller's own password sends the
    real one (the wrong or missing one is covered in the users tests)."""
    changes_own_password = (
        case.operation.path == "/api/users/{user_id}"
        and str((case.path_parameters or {}).get("user_id")) == str(SEEDED_ROLES.index(caller) + 1)
        and isinstance(case.body, dict)
        and "password" in case.body
    )
    if changes_own_password and case.meta.generation.mode.is_positive:
        case.body["current_password"] = PASSWORD


def _call_and_validate(case, caller, world):
    if caller != "anonymous":
        _send_real_current_password(case, caller)
    response = case.call_and_validate(headers=world.prepare(caller))
    world.record(case, response)


# The fixtures live for the whole test on purpose: ``World`` resets the database
# itself whenever an example changed it.
ONE_APP_PER_OPERATION = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@schema.parametrize()
@ONE_APP_PER_OPERATION
def test_anonymous_caller(case, world):
    _call_and_validate(case, "anonymous", world)


@pytest.mark.parametrize("caller", SEEDED_ROLES)
@protected.parametrize()
@ONE_APP_PER_OPERATION
def test_signed_in_caller(case, caller, world):
    _call_and_validate(case, caller, world)
