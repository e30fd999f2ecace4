"""Idempotency keys: the outcome of a create, kept so that a retry replays it."""

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

from .base import UTCDateTime, utcnow

IN_PROGRESS = "in_progress"
DONE = "done"


class IdempotencyKey(db.Model):
    """One ``Idempotency-Key`` of one caller, and the response it stands for.

    The primary key (caller, key) is what makes a key usable once: see
    ``features/idempotency.py`` for how a request claims it.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    # "user:<id>" for a valid token, else "addr:<client address>".
    caller: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # What the key was first used for; the same key for anything else is 422.
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(255), nullable=False)
    request_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    # IN_PROGRESS while the request that claimed the key runs, DONE once its
    # response is stored (in the same transaction as its write).
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=IN_PROGRESS)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    location: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    etag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
