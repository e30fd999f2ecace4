"""Password reset tokens: only a digest of each, bound to the password it may replace."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

from .base import UTCDateTime, utcnow


class PasswordResetToken(db.Model):
    """One reset token sent by mail. The token itself is never stored.

    ``password_fingerprint`` is a digest of the user's password hash and email when
    the token was made: any password change (a new salt, even for the same
    password) or email change makes it differ, so the token goes stale whatever
    route changed them.
    """

    __tablename__ = "password_reset_tokens"
    __table_args__ = (
        Index("ix_password_reset_tokens_user_id", "user_id"),
        Index("ix_password_reset_tokens_expires_at", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
