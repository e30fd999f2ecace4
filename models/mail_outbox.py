"""The mail outbox: every mail the service owes someone, until it has been sent.

A request that sends mail adds a row here in the same transaction as its own
write, so the answer and the mail stand or fall together: once the answer is
out, the mail is in the database and survives whatever happens to the process
(``services/mail_outbox.py`` sends it and deletes the row).
"""

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

from .base import UTCDateTime, utcnow

# A ready message: ``subject`` and ``body`` hold it as it will be sent.
MESSAGE = "message"


class OutboxMail(db.Model):
    """One mail to send, or a request for one that is resolved when it is sent.

    ``kind`` is ``MESSAGE`` for a ready message, or the name of a composer that
    builds the message at send time from ``recipient`` alone (a password reset:
    whether the address has an active account, and its token, are decided then,
    so no token is ever stored here and every request costs the same).

    ``next_attempt_at`` is when the row is next due (its backoff after a failure).
    ``attempts`` counts the claims; a claim is a conditional update on it, so of
    two senders that read the same row only one gets it. ``claimed_by`` and
    ``lease_until`` record a claim where the database cannot hold one as a row
    lock (SQLite); on PostgreSQL the claim is the row lock itself.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_next_attempt_at", "next_attempt_at"),
        Index("ix_mail_outbox_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    recipient: Mapped[str] = mapped_column(String(320), nullable=False)
    subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
