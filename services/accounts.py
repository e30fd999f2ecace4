"""Account rules shared by the auth and users views and the CLI."""

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

import emails
from config import APP_NAME
from errors import Conflict
from extensions import db
from models import PasswordResetToken, User
from services import mail_outbox

EMAIL_TAKEN = "A user with this email already exists."
LAST_ADMIN = "This is the last active admin; make another admin first."
EMAIL_CHANGED_SUBJECT = f"The email address of your {APP_NAME} account changed"


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


def create_account(*, name, email, password, role="viewer", is_active=True):
    """The one way an account is made (registration, an admin, the CLI): a new
    user with a hashed password, written in the open transaction (the caller
    commits); a taken email is 409 and leaves nothing written."""
    user = User(name=name, email=email, role=role, is_active=is_active)
    user.set_password(password)
    add_account(user)
    return user


def changes_email(user, changes):
    """Whether ``changes`` give ``user`` another email (sending the current one
    again, as a PUT does, is no change)."""
    return "email" in changes and changes["email"] != user.email.lower()


def update_account(user, changes):
    """Apply validated ``changes`` (a ``UserUpdateSchema`` load) to ``user`` and commit.

    Who may send which field is the caller's business (the view checks it); the
    rules here hold for everyone. 409 when the email is taken or no active admin
    would remain. A new password or deactivation ends every session of the user;
    deactivation also deletes its unused reset tokens, so they stay dead once it
    is reactivated (a password or email change makes them stale by itself, see
    ``services/password_reset.py``). A new email is told to the old address.
    """
    if changes.get("role", "admin") != "admin" or changes.get("is_active") is False:
        ensure_admin_remains(user)
    deactivates = user.is_active and changes.get("is_active") is False
    old_email = user.email if changes_email(user, changes) else None
    for field in ("name", "email", "role", "is_active"):
        if field in changes:
            setattr(user, field, changes[field])
    if "password" in changes:
        user.set_password(changes["password"])
    # The user's row first: a taken email is a 409 here, before the sessions'
    # UPDATE below could flush it and meet the unique index as a bare error.
    add_account(user)
    if "password" in changes or deactivates:
        user.revoke_sessions()
    if deactivates:
        db.session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user.id))
    if old_email is not None:
        # The old address is told, with the new one partly hidden; no token, no link.
        text = _email_change_text(changes["email"])
        mail_outbox.queue_mail(old_email, EMAIL_CHANGED_SUBJECT, text)
    db.session.commit()
    return user


def _email_change_text(new_email):
    lines = [
        f"The email address of your {APP_NAME} account was changed from this",
        f"address to {emails.partly_hidden(new_email)}. Mail for the account, such as",
        "password reset mail, now goes there, and this address no longer logs in.",
        "",
        "If you made this change, there is nothing to do.",
        "",
        "If you did not, someone else may be using your account: contact the",
        "service's support or an administrator.",
    ]
    return "\n".join(lines) + "\n"


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
