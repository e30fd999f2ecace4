"""Password reset: a single-use token sent by mail, bound to the current password
and email.

``request_reset(email)`` stores a request for a reset mail in the mail outbox
(``services/mail_outbox.py``), committed before the answer, so the mail survives
whatever happens to the process after it answered. Every request stores the same
row whether or not the email belongs to anyone, so it answers in the same time
either way; the lookup, the token and the mail all happen when the outbox sends
the row (``compose_reset_mail``): for an active user with that email it stores a
new token's SHA-256 digest (never the token) with a fingerprint of the user's
password hash and email, and mails the token; otherwise the row is dropped. Without a
``MAIL_URL`` the request is refused (503): the mail could never go out.

``confirm(token, password)`` accepts a token that is known, unused, unexpired,
of an active user, and whose fingerprint still matches the password hash and the
email: any password change, by a reset, by the user, by an admin, even to the
same password (a new hash has a new salt), and any email change make every
earlier token stale, whatever route made them. Deactivating a user deletes its
unused tokens (``services/accounts.py``), so they stay dead once it is
reactivated. One row update
(``... WHERE used_at IS NULL``) uses the token up, so two confirmations racing
with it cannot both succeed. A confirmed reset ends every session of the user.
"""

import hashlib
import logging
import secrets
from datetime import timedelta
from urllib.parse import quote

from flask import current_app
from sqlalchemy import select, update

from config import APP_NAME
from errors import InvalidToken, ServiceUnavailable
from extensions import db
from models import PasswordResetToken, User
from models.base import utcnow
from services import mail_outbox, mailer

log = logging.getLogger("api.password_reset")

SUBJECT = f"Reset your {APP_NAME} password"
RESET_MAIL = "password_reset"  # the outbox rows' kind


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def account_fingerprint(user):
    """What a reset token is bound to: a change of either makes it stale."""
    return _digest(f"{user.password_hash}\n{user.email.lower()}")


def request_reset(email):
    """Store a request for a reset mail to ``email``: the same row whoever it belongs to."""
    if not current_app.config["MAIL_URL"]:
        raise ServiceUnavailable("Password reset is unavailable: no mail server is configured.")
    mail_outbox.queue(RESET_MAIL, email)
    db.session.commit()


@mail_outbox.composer(RESET_MAIL)
def compose_reset_mail(row):
    """The reset mail for the active user with the row's address, if there is one."""
    user = User.by_email(row.recipient)
    if user is None or not user.is_active:
        return None
    token = issue_token(user)
    message = mailer.compose(user.email, SUBJECT, _mail_text(token))
    return mail_outbox.Outgoing(message, {"user_id": user.id})


def issue_token(user):
    """Store a new reset token for ``user`` (its digest only) and return the token."""
    token = secrets.token_urlsafe(32)
    ttl = current_app.config["PASSWORD_RESET_TTL"]
    db.session.add(
        PasswordResetToken(
            user_id=user.id,
            digest=_digest(token),
            password_fingerprint=account_fingerprint(user),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    db.session.commit()
    return token


def _mail_text(token):
    config = current_app.config
    minutes = max(1, config["PASSWORD_RESET_TTL"] // 60)
    lines = [
        "Someone, hopefully you, asked to reset the password of your",
        f"{APP_NAME} account. To choose a new password, send this token",
        "with it to POST /api/auth/password-reset/confirm:",
        "",
        f"Token: {token}",
        "",
    ]
    if config["PASSWORD_RESET_URL"]:
        link = config["PASSWORD_RESET_URL"].replace("{token}", quote(token, safe=""))
        lines += ["Or open this link:", "", link, ""]
    lines += [
        f"The token works once, within {minutes} minutes, and only until your",
        "password or email changes. Resetting the password signs you out",
        "everywhere.",
        "",
        "If you did not ask for this, ignore this mail: your password stays",
        "as it is.",
    ]
    return "\n".join(lines) + "\n"


def confirm(token, password):
    """Set ``password`` for the user the ``token`` was mailed to and end their sessions.

    400 INVALID_TOKEN unless the token is known, unused, unexpired, of an active
    user and still matches that user's password and email.
    """
    now = utcnow()
    row = db.session.execute(
        select(PasswordResetToken, User)
        .join(User, PasswordResetToken.user_id == User.id)
        .where(PasswordResetToken.digest == _digest(token))
        .with_for_update(of=User)
    ).first()
    if row is None:
        raise InvalidToken()
    reset, user = row
    if (
        reset.used_at is not None
        or reset.expires_at <= now
        or not user.is_active
        or reset.password_fingerprint != account_fingerprint(user)
    ):
        db.session.rollback()
        raise InvalidToken()
    used = db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == reset.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        db.session.rollback()
        raise InvalidToken()
    user.set_password(password)
    user.revoke_sessions()
    db.session.commit()
    log.info("password reset", extra={"user_id": user.id})
