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


def add_account(user):
    """Write a new or changed user in the open transaction (the caller commits);
    a taken email, even one lost in a race with another request, is 409 and
    leaves nothing written."""
    if email_taken(user.email, except_user=user):
        raise Conflict(EMAIL_TAKEN)
    db.session.add(user)
    try:
        db.session.flush()  # the unique email index answers here, not at the commit
    except IntegrityError:
        db.session.rollback()
        raise Conflict(EMAIL_TAKEN) from None


def commit_account(user):
    """Commit a new or changed user; a taken email, even lost in a race, is 409."""
    add_account(user)
    db.session.commit()
    return user


def update_account(user, changes):
    """Apply validated ``changes`` (a ``UserUpdateSchema`` load) to ``user`` and commit.

    Who may send which field is the caller's business (the view checks it); the
    rules here hold for everyone. 409 when the email is taken or no active admin
    would remain. A new password or deactivation ends every session of the user.
    """
    if changes.get("role", "admin") != "admin" or changes.get("is_active") is False:
        ensure_admin_remains(user)
    ends_sessions = "password" in changes or (user.is_active and changes.get("is_active") is False)
    for field in ("name", "email", "role", "is_active"):
        if field in changes:
            setattr(user, field, changes[field])
    if "password" in changes:
        user.set_password(changes["password"])
    # The user's row first: a taken email is a 409 here, before the sessions'
    # UPDATE below could flush it and meet the unique index as a bare error.
    add_account(user)
    if ends_sessions:
        user.revoke_sessions()
    db.session.commit()
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
