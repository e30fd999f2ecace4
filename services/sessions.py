"""Sessions: what a login opens, a refresh rotates, and a logout, a revocation, a
password change or a password reset ends.

A session row is what every token of one login names. Its refresh tokens rotate:
each refresh uses up the one sent and hands out the next, and the row keeps only
a SHA-256 digest of the current one's secret. A refresh token is signed
(``web/tokens.py``), so one whose secret is not the current one can only be an
earlier token of the same session sent again: reuse. Reuse ends the session at
once, with every access and refresh token it issued, because the legitimate
client and whoever copied the token can no longer be told apart.

Parallel refreshes (two tabs, a retried request) are not reuse: a refresh token
sent again within ``REFRESH_REUSE_GRACE`` seconds of its first use gets a new
access token and the very same refresh token its first use returned. For that
the next secret is derived from the one used up (an HMAC under ``SECRET_KEY``,
so only the server can compute it) rather than drawn at random, and the row
keeps the digest of the secret its last refresh used up and when
(``previous_refresh_digest``, ``refreshed_at``): a later request with the same
secret derives the same successor and signs it with the same time, without the
row ever holding a usable secret. Past the grace, or once the successor has
been used in turn, it is reuse as before.

Two refreshes racing with the same token are decided by one row update,
``UPDATE ... WHERE refresh_digest = <digest of the token sent>``: the database
applies it once (PostgreSQL re-checks the condition after the first writer
commits; SQLite has one writer at a time). The loser finds no row, reads the
row again (its first read may predate the winner's commit) and, within the
grace, answers with the winner's successor.
"""

import base64
import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from errors import Unauthenticated
from extensions import db
from models import AuthSession, User
from models.base import utcnow

log = logging.getLogger("api.sessions")

# A session's last use is recorded at most this often: a write on every request
# would turn every read into a write.
TOUCH_INTERVAL = timedelta(minutes=1)
USER_AGENT_MAX_LENGTH = 255
INVALID_REFRESH_TOKEN = "The refresh token is invalid, expired or revoked."
REUSED_REFRESH_TOKEN = (
    "This refresh token was already used; the session has been ended. Log in again."
)


class RefreshRefused(Unauthenticated):
    """A refresh answered 401; ``reason`` says why, for the metrics."""

    def __init__(self, detail, reason):
        super().__init__(detail)
        self.reason = reason


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret():
    return secrets.token_urlsafe(32)


def _lifetime():
    """How long a session lives past its last login or refresh.

    A refresh token is good for ``REFRESH_TOKEN_TTL``; the row outlives an access
    token issued with it too, should ``ACCESS_TOKEN_TTL`` be the longer.
    """
    config = current_app.config
    return timedelta(seconds=max(config["REFRESH_TOKEN_TTL"], config["ACCESS_TOKEN_TTL"]))


def clean_user_agent(raw):
    """The ``User-Agent`` as shown in the session list: printable, trimmed, bounded."""
    text = "".join(ch for ch in raw or "" if ch.isprintable()).strip()
    return text[:USER_AGENT_MAX_LENGTH].strip() or None


def open_session(user, user_agent=None):
    """Open a session for ``user``; return its ``token_id`` and first refresh secret."""
    now = utcnow()
    secret = _new_secret()
    session = AuthSession(
        token_id=secrets.token_urlsafe(24),
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        expires_at=now + _lifetime(),
        refresh_digest=digest(secret),
        user_agent=clean_user_agent(user_agent),
    )
    token_id = session.token_id
    db.session.add(session)
    db.session.commit()
    return token_id, secret


def _successor(secret):
    """The secret that follows ``secret``: the same for every refresh with it."""
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, b"refresh-successor:" + secret.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def _session_row(token_id):
    return db.session.execute(
        select(
            AuthSession.id,
            AuthSession.user_id,
            AuthSession.refresh_digest,
            AuthSession.previous_refresh_digest,
            AuthSession.refreshed_at,
            AuthSession.revoked_at,
            AuthSession.expires_at,
            User.is_active,
        )
        .join(User, AuthSession.user_id == User.id)
        .where(AuthSession.token_id == token_id)
    ).first()


def _check_open(row, now):
    if row is None:
        raise RefreshRefused(INVALID_REFRESH_TOKEN, "unknown_session")
    if row.revoked_at is not None or row.expires_at <= now:
        raise RefreshRefused(INVALID_REFRESH_TOKEN, "revoked_or_expired_session")
    if not row.is_active:
        raise RefreshRefused(INVALID_REFRESH_TOKEN, "inactive_user")


def _matches(stored, sent):
    return stored is not None and hmac.compare_digest(stored, sent)


def _within_grace(row, sent, following, now):
    """Whether ``row``'s last refresh used up the secret of digest ``sent`` (its
    successor still current) no longer than ``REFRESH_REUSE_GRACE`` ago."""
    grace = current_app.config["REFRESH_REUSE_GRACE"]
    return (
        grace > 0
        and row.refreshed_at is not None
        and now - row.refreshed_at <= timedelta(seconds=grace)
        and _matches(row.previous_refresh_digest, sent)
        and _matches(row.refresh_digest, digest(following))
    )


def rotate(token_id, secret):
    """Use up the refresh ``secret`` of session ``token_id``; return the next
    secret and the time (Unix seconds) to sign its refresh token with.

    Sent again within the grace of its first use: that use's successor and
    time. ``RefreshRefused`` (401) when the session is unknown, ended or
    expired or its user inactive, and, ending the session, when ``secret`` is
    neither the current one nor within the grace (reuse).
    """
    now = utcnow()
    row = _session_row(token_id)
    _check_open(row, now)
    sent, following = digest(secret), _successor(secret)
    if _matches(row.refresh_digest, sent):
        claimed = db.session.execute(
            update(AuthSession)
            .where(
                AuthSession.id == row.id,
                AuthSession.refresh_digest == sent,
                AuthSession.revoked_at.is_(None),
            )
            .values(
                refresh_digest=digest(following),
                previous_refresh_digest=sent,
                refreshed_at=now,
                last_used_at=now,
                expires_at=now + _lifetime(),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed == 1:
            db.session.commit()
            return following, int(now.timestamp())
        # Another request used it first: see what that one wrote.
        row = _session_row(token_id)
        _check_open(row, now)
    if _within_grace(row, sent, following, now):
        db.session.commit()  # ends the transaction; nothing was written
        return following, int(row.refreshed_at.timestamp())
    # Not the current secret, nor one just used up: reuse.
    _end(row.id, now)
    db.session.commit()
    log.warning(
        "refresh token reused; session ended",
        extra={"session_id": row.id, "user_id": row.user_id},
    )
    raise RefreshRefused(REUSED_REFRESH_TOKEN, "refresh_token_reused")


def _end(session_id, now, *, user_id=None):
    """Revoke one open session; the number of rows changed (0 or 1)."""
    statement = update(AuthSession).where(
        AuthSession.id == session_id, AuthSession.revoked_at.is_(None)
    )
    if user_id is not None:
        statement = statement.where(AuthSession.user_id == user_id, AuthSession.expires_at > now)
    return db.session.execute(
        statement.values(revoked_at=now).execution_options(synchronize_session=False)
    ).rowcount


def end(session):
    """End ``session`` (a logout): its access and refresh tokens stop working at once."""
    _end(session.id, utcnow())
    db.session.commit()


def end_own(user, session_id):
    """End one of ``user``'s open sessions; False when it has none with that id."""
    ended = _end(session_id, utcnow(), user_id=user.id)
    db.session.commit()
    return ended == 1


def open_sessions(user):
    """``user``'s sessions that are neither ended nor expired, newest first."""
    return db.session.scalars(
        select(AuthSession)
        .where(
            AuthSession.user_id == user.id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > utcnow(),
        )
        .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
    ).all()


def touch(session, now):
    """Record that ``session`` (its ``id`` and ``last_used_at``) was used, if it was
    last recorded a minute ago or more.

    On a connection of its own, so the request's transaction is neither committed
    nor expired by it, and best effort: a failure is logged and the request goes on.
    The ``WHERE`` keeps concurrent requests of one session from all writing.
    """
    if now - session.last_used_at < TOUCH_INTERVAL:
        return
    table = AuthSession.__table__
    try:
        with db.engine.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.id == session.id, table.c.last_used_at <= now - TOUCH_INTERVAL)
                .values(last_used_at=now)
            )
    except SQLAlchemyError as exc:
        log.warning(
            "session last use not recorded",
            extra={"session_id": session.id, "error": type(exc).__name__},
        )
        return
