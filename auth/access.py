"""Who is calling: bearer access tokens and the ``login_required`` / ``role_required``
decorators.

An access token (``auth/tokens.py``) is a signed, timestamped reference to an
``AuthSession`` row. The signature makes it tamper-proof without a lookup; the row
makes it revocable. Every request that sends a token costs one query, which reads
the session and its user together, so a role change or deactivation counts at
once; a session's ``last_used_at`` is written besides at most once a minute
(``services.sessions.touch``), not on every request.

The query reads columns, not ORM objects: the caller is a ``Caller``, a read-only
snapshot of its user row (what role checks, ownership checks and ``/auth/me``
need), and its session a ``CallerSession``. A view that changes the caller's own
row loads it with ``db.session.get(User, caller.id)`` like any other user. Loading
two ORM objects for every authenticated request, only for most of them to read a
role and an id, cost 70 µs of a 500 µs request, and running the query through
the ORM session as much again (``bench/README.md``): it is a ``FastRead``
(``models/fast_read.py``), on a pooled connection of its own, so a request that
only reads its caller never opens a session. The signing serializers are kept
per secret key likewise, and a token whose signature checked out is remembered,
so a client's next requests with it only have its age checked (``auth/tokens.py``).

Why credentials were refused is kept on ``g.auth_failure`` as a short reason
(``bad_signature``, ``wrong_password``, ...), which the metrics count; clients
only ever see the one 401.
"""

from dataclasses import dataclass, fields
from datetime import datetime
from functools import wraps

from flask import g
from flask.globals import app_ctx, request_ctx
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import bindparam, select

from auth.tokens import load_access_token
from errors import Forbidden, Unauthenticated
from models import AuthSession, User
from models.base import utcnow
from models.fast_read import FastRead, autocommit_engine
from models.user import HasRole
from plumbing.view_order import AUTH, record_layer
from schemas.row_dump import RowDump
from schemas.user import UserSchema
from services import sessions

INVALID_TOKEN = "The access token is invalid, expired or revoked."


@dataclass(frozen=True, slots=True)
class Caller(HasRole):
    """The caller's user row as the token lookup read it; every field ``UserSchema``
    shows, never the password hash. Frozen: change the row through the ORM."""

    id: int
    name: str
    email: str
    role: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CallerSession:
    """The session the access token names, as the token lookup read it."""

    id: int
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime

    def is_valid(self, now):
        return self.revoked_at is None and self.expires_at > now


def _columns(table, snapshot):
    return [table.c[field.name] for field in fields(snapshot)]


_SESSION_COLUMNS = _columns(AuthSession.__table__, CallerSession)
# The user columns a ``Caller`` holds, in the order of its fields.
CALLER_COLUMNS = _columns(User.__table__, Caller)
# ``UserSchema().dump(caller)``, made from the same fields but without marshmallow
# per value (``schemas/row_dump.py``): 3 µs against 15 for each authenticated read
# of one's own user.
_CALLER_AS_USER = RowDump(UserSchema(), CALLER_COLUMNS)
_TOKEN_LOOKUP = FastRead(
    select(*_SESSION_COLUMNS, *CALLER_COLUMNS)
    .join_from(AuthSession.__table__, User.__table__, AuthSession.user_id == User.id)
    .where(AuthSession.token_id == bindparam("token_id"))
)
_SPLIT = len(_SESSION_COLUMNS)


class _Authentication:
    """What the request's ``Authorization`` header proved, worked out once."""

    def __init__(self, user=None, session=None, failure=None, reason=None):
        self.user = user  # a Caller
        self.session = session  # a CallerSession
        self.user_id = user.id if user else None
        self.failure = failure  # why a sent token was refused, for the client
        self.reason = reason  # the same as a short code, for the metrics


def _authenticate(req):
    # From the environ: ``headers.get`` of a header not sent raises and catches a
    # ``KeyError`` inside werkzeug, and every anonymous request sends none.
    header = req.environ.get("HTTP_AUTHORIZATION")
    if header is None:
        return _Authentication()
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _Authentication(
            failure="Send the token as 'Authorization: Bearer <token>'.",
            reason="malformed_header",
        )
    try:
        token_id = load_access_token(token)
    except SignatureExpired:
        return _Authentication(failure=INVALID_TOKEN, reason="expired_token")
    except BadSignature:
        return _Authentication(failure=INVALID_TOKEN, reason="bad_signature")
    row = _TOKEN_LOOKUP.first(autocommit_engine(), token_id=token_id)
    if row is None:
        return _Authentication(failure=INVALID_TOKEN, reason="unknown_session")
    session, user = CallerSession(*row[:_SPLIT]), Caller(*row[_SPLIT:])
    now = utcnow()
    if not session.is_valid(now):
        return _Authentication(failure=INVALID_TOKEN, reason="revoked_or_expired_session")
    if not user.is_active:
        return _Authentication(failure=INVALID_TOKEN, reason="inactive_user")
    sessions.touch(session, now)
    return _Authentication(user=user, session=session)


def authentication():
    """The current request's authentication (``authentication_of`` the request in
    context)."""
    ctx_g = app_ctx.g
    auth = ctx_g.get("authentication")
    return auth if auth is not None else authentication_of(request_ctx.request, ctx_g)


def authentication_of(req, ctx_g):
    """What ``req``'s ``Authorization`` header proves (``ctx_g`` is its ``g``),
    worked out on first use and kept on ``g``. The pipeline's steps, which are
    handed both (pipeline.py), call this."""
    auth = ctx_g.get("authentication")
    if auth is None:
        auth = ctx_g.authentication = _authenticate(req)
        if auth.reason:
            note_auth_failure(auth.reason)
    return auth


def note_auth_failure(reason):
    """Record why the request's credentials were refused (counted by observability/metrics.py)."""
    g.auth_failure = reason


def current_user():
    """The ``Caller`` when a valid token was sent, else ``None``; never raises."""
    return authentication().user


def optional_user():
    """The caller when a token was sent; no token is fine, a bad one is 401."""
    auth = authentication()
    if auth.failure:
        raise Unauthenticated(auth.failure)
    return auth.user


def require_user():
    """The ``Caller``; 401 without a valid token."""
    auth = authentication()
    if auth.user is None:
        raise Unauthenticated(auth.failure)
    return auth.user


def shown_caller(caller):
    """The ``Caller`` as ``UserSchema`` shows a user: what ``GET /api/auth/me`` and
    the caller's own ``GET /api/users/{id}`` answer."""
    return _CALLER_AS_USER.dump_object(caller)


def login_required(view):
    """Allow the view to callers with a valid token; others get 401."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        require_user()
        return view(*args, **kwargs)

    wrapper.requires_login = True  # read by the OpenAPI document
    return record_layer(wrapper, view, AUTH)


def role_required(*roles):
    """Allow the view to callers whose role is one of ``roles``: 401 without a
    valid token, 403 with one whose role does not fit."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if require_user().role not in roles:
                raise Forbidden("Your role does not allow this.")
            return view(*args, **kwargs)

        wrapper.requires_login = True  # read by the OpenAPI document, with the roles
        wrapper.required_roles = roles
        return record_layer(wrapper, view, AUTH)

    return decorator
