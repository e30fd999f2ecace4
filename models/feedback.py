"""Feedback anyone may send, signed in or not.

Feedback is the busiest write and never changes once sent: it is written with
one INSERT and answered from the row written, without the ORM's unit of work or
an ORM object (``features.idempotency.insert_one``).
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

from .base import UTCDateTime, utcnow


class Feedback(db.Model):
    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_created_at_id", "created_at", "id"),
        Index("ix_feedback_user_id", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Kept when the sender's account is deleted; the feedback stays, unattributed.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


# Feedback without a rating sorts as the lowest rating: a keyset needs a value
# in every row, and NULL compares as unknown. Its index also serves the
# ``?rating=`` filter (a rating is 1 to 5, so ``RATING_ORDER == r`` is
# ``rating == r``): one index fewer to write on every feedback sent.
RATING_ORDER = func.coalesce(Feedback.rating, 0)
Index("ix_feedback_rating_order", RATING_ORDER, Feedback.id)

FEEDBACK_ORDER = {
    "id": Feedback.id,
    "created_at": Feedback.created_at,
    "rating": RATING_ORDER,
}
