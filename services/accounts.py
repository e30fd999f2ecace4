"""Account rules shared by the auth and users views and the CLI."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from errors import Conflict
from extensions import db
from models import User

EMAIL_TAKEN = "A user with this email already exists."
LAST_ADMIN = "This is the last active admin; make another admin first."


def email_taken(email, *, except_user=None):
    # No autoflush: flushing the pending change would hit the unique index first.
    with db.session.no_autoflush:
        user = User.by_email(email)
    return user is not None and user is not except_user


def commit_account(user):
    """Commit a new or changed user; a taken email, even lost in a race, is 409."""
    if email_taken(user.email, except_user=user):
        raise Conflict(EMAIL_TAKEN)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(EMAIL_TAKEN) from None
    return user


def ensure_admin_remains(user):
    """Refuse to remove ``user`` from the active admins if no other would remain.

    The active admins are locked (in id order, so two such requests cannot
    deadlock) until the caller commits; the second of two concurrent demotions
    then sees the first one's result.
    """
    if not (user.is_admin and user.is_active):
        return
    admin_ids = db.session.scalars(
        select(User.id)
        .where(User.role == "admin", User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if not set(admin_ids) - {user.id}:
        raise Conflict(LAST_ADMIN)
