"""Accounts and the server-side sessions that access tokens name."""

from datetime import datetime

from flask import current_app
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

import emails
from extensions import db

from .base import TimestampMixin, UTCDateTime, utcnow

ROLES = ("admin", "editor", "viewer")


class HasRole:
    """What a role means, for anything with a ``role``: the ``User`` row and the
    token lookup's read-only ``Caller`` (auth/access.py)."""

    __slots__ = ()

    @property
    def is_admin(self):
        return self.role == "admin"


class User(HasRole, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        # Ending in id so the admin list's filter and keyset pages use them.
        Index("ix_users_role_id", "role", "id"),
        Index("ix_users_name_id", "name", "id"),
        Index("ix_users_email_id", "email", "id"),
        Index("ix_users_created_at_id", "created_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False, default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    def set_password(self, password):
        self.password_hash = hash_password(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def revoke_sessions(self):
        """End every session of this user; their tokens stop working at once."""
        db.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == self.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    @classmethod
    def by_email(cls, email):
        """The user with ``email``, case-insensitively; None for an address no
        account may have (see ``emails``), even should a row hold it."""
        if not emails.is_account_address(email):
            return None
        return db.session.scalar(select(cls).where(func.lower(cls.email) == email.lower()))


# Emails are lower-cased before they are stored; this index keeps them unique
# case-insensitively on every database, even for rows written around the API.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


# What ``order_by`` may name in the admin user list.
USER_ORDER = {
    "id": User.id,
    "name": User.name,
    "email": User.email,
    "created_at": User.created_at,
}


class AuthSession(db.Model):
    """A login: the row its access and refresh tokens name. Revoking it revokes them.

    Only a digest of the current refresh token's secret is kept; a refresh swaps
    it for the next one's (see ``services/sessions.py``).
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (
        Index("ix_auth_sessions_user_id", "user_id"),
        Index("ix_auth_sessions_expires_at", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Random and unique: the token carries this, never the guessable row id.
    token_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Written at most once a minute per session (see ``services.sessions.touch``).
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # SHA-256 (hex) of the current refresh token's secret; None for sessions opened
    # before refresh tokens existed, which cannot be refreshed.
    refresh_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The digest the last refresh used up, and when: a refresh token sent again
    # within ``REFRESH_REUSE_GRACE`` of its first use gets that use's successor.
    previous_refresh_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)


def hash_password(password):
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


_dummy_hashes = {}


def dummy_password_check(password):
    """Spend the time a real check costs, so unknown emails answer like wrong passwords."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not-a-real-password", method=method)
    check_password_hash(_dummy_hashes[method], password)
