"""Who is calling: bearer access tokens and the ``login_required`` / ``role_required``
decorators.

An access token (``web/tokens.py``) is a signed, timestamped reference to an
``AuthSession`` row. The signature makes it tamper-proof without a lookup; the row
makes it revocable. Every request that sends a token costs one query, which loads
the session and its user together, so a role change or deactivation counts at
once; a session's ``last_used_at`` is written besides at most once a minute
(``services.sessions.touch``), not on every request.

Why credentials were refused is kept on ``g.auth_failure`` as a short reason
(``bad_signature``, ``wrong_password``, ...), which the metrics count; clients
only ever see the one 401.

That query is the hot path of every authenticated request, so it is built once
(``_TOKEN_LOOKUP``, with a bound parameter): SQLAlchemy then reuses its compiled
form without building and hashing a new ``select()`` each time, about a third
of the lookup's cost. The signing serializers are kept per secret key likewise
(``web/tokens.py``).
"""

from functools import wraps

from flask import g, request
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import bindparam, select

from errors import Forbidden, Unauthenticated
from extensions import db
from models import AuthSession, User
from models.base import utcnow
from services import sessions
from web.tokens import load_access_token

INVALID_TOKEN = "The access token is invalid, expired or revoked."


_TOKEN_LOOKUP = (
    select(AuthSession, User)
    .join(User, AuthSession.user_id == User.id)
    .where(AuthSession.token_id == bindparam("token_id"))
)


class _Authentication:
    """What the request's ``Authorization`` header proved, worked out once."""

    def __init__(self, user=None, session=None, failure=None, reason=None):
        self.user = user
        self.session = session
        # Kept apart from ``user`` so it can be read after a commit expires the row.
        self.user_id = user.id if user else None
        self.failure = failure  # why a sent token was refused, for the client
        self.reason = reason  # the same as a short code, for the metrics


def _authenticate():
    header = request.headers.get("Authorization")
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
    row = db.session.execute(_TOKEN_LOOKUP, {"token_id": token_id}).first()
    if row is None:
        return _Authentication(failure=INVALID_TOKEN, reason="unknown_session")
    session, user = row
    now = utcnow()
    if not session.is_valid(now):
        return _Authentication(failure=INVALID_TOKEN, reason="revoked_or_expired_session")
    if not user.is_active:
        return _Authentication(failure=INVALID_TOKEN, reason="inactive_user")
    sessions.touch(session, now)
    return _Authentication(user=user, session=session)


def authentication():
    """The request's authentication, computed on first use and kept on ``g``."""
    auth = g.get("authentication")
    if auth is None:
        auth = g.authentication = _authenticate()
        if auth.reason:
            note_auth_failure(auth.reason)
    return auth


def note_auth_failure(reason):
    """Record why the request's credentials were refused (counted by web/metrics.py)."""
    g.auth_failure = reason


def current_user():
    """The caller's ``User`` when a valid token was sent, else ``None``; never raises."""
    return authentication().user


def optional_user():
    """The caller when a token was sent; no token is fine, a bad one is 401."""
    auth = authentication()
    if auth.failure:
        raise Unauthenticated(auth.failure)
    return auth.user


def require_user():
    auth = authentication()
    if auth.user is None:
        raise Unauthenticated(auth.failure)
    return auth.user


def login_required(view):
    """Allow the view to callers with a valid token; others get 401."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        require_user()
        return view(*args, **kwargs)

    wrapper.requires_login = True  # read by the OpenAPI document
    return wrapper


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
        return wrapper

    return decorator
