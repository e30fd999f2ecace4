"""A user's own account, and accounts managed by an admin."""

from flask import Blueprint, request, url_for
from marshmallow import ValidationError

from auth.access import login_required, require_user, role_required, shown_caller
from errors import Conflict, Forbidden, NotFoundError
from extensions import db
from features.idempotency import commit_with_response, idempotent
from features.rate_limits import current_password_attempts
from models import User
from openapi import doc
from plumbing.validation import parse_body, parse_no_query
from schemas.user import UserCreateSchema, UserSchema, UserUpdateSchema
from services.accounts import changes_email, create_account, ensure_admin_remains, update_account

bp = Blueprint("users", __name__, url_prefix="/api/users")

ADMIN_ONLY_FIELDS = {"role", "is_active"}

USER = UserSchema()
USER_CREATE = UserCreateSchema()
# PUT sends name and email at least; PATCH any subset.
USER_UPDATE = {"PUT": UserUpdateSchema(), "PATCH": UserUpdateSchema(partial=True)}


def _visible_user(user_id):
    """The user (its ORM row) if the caller is that user or an admin.

    Anyone else gets the same 404 as for a missing id, so ids reveal nothing.
    """
    caller = require_user()
    if caller.id != user_id and not caller.is_admin:
        raise NotFoundError("User not found.")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFoundError("User not found.")
    return user


def _check_current_password(user, data):
    """Changing your own password or email needs your current password. Wrong
    guesses count toward a per-user limit (``RATELIMIT_LOGIN``); past it, 429
    before any check."""
    current = data.get("current_password")
    if current is None:
        raise ValidationError(
            "Required to change your own password or email.", field_name="current_password"
        )
    key = f"user:{user.id}"
    current_password_attempts.check(key)
    if not user.check_password(current):
        current_password_attempts.failed(key)
        raise ValidationError("Incorrect password.", field_name="current_password")


@bp.post("")
@role_required("admin")
@idempotent
@doc(body=USER_CREATE, response=USER, status=201, errors=[Conflict], idempotent=True)
def create_user():
    """Create a user with any role (admin).

    409 when the email is taken.
    """
    parse_no_query()
    data = parse_body(USER_CREATE)
    user = create_account(**data)
    location = url_for("users.get_user", user_id=user.id)
    return commit_with_response((USER.dump(user), 201, {"Location": location}))


@bp.get("/<id:user_id>")
@login_required
@doc(response=USER, errors=[NotFoundError])
def get_user(user_id):
    """Read a user (self or admin).

    Another user's id is 404 for a non-admin, as if it did not exist.
    """
    parse_no_query()
    caller = require_user()
    if caller.id == user_id:  # what the token lookup read is the row itself
        return shown_caller(caller)
    return USER.dump(_visible_user(user_id))


@bp.route("/<id:user_id>", methods=["PUT", "PATCH"])
@login_required
@doc(body=USER_UPDATE, response=USER, errors=[Forbidden, NotFoundError, Conflict])
def update_user(user_id):
    """Update a user (self or admin). PUT needs name and email; PATCH any subset.

    Only an admin may send role or is_active (403 otherwise); changing your own
    password or email needs current_password (sending your current email again
    is no change), and wrong ones count toward a per-user limit (429 past it).
    Changing the password or deactivating the user ends all of its sessions.
    After an email change, by anyone, a notice goes to the old address. 409 when
    the email is taken or the change would leave no active admin.
    """
    parse_no_query()
    caller = require_user()
    user = _visible_user(user_id)
    data = parse_body(USER_UPDATE[request.method])
    if ADMIN_ONLY_FIELDS & data.keys() and not caller.is_admin:
        raise Forbidden("Only an admin may change role or is_active.")
    if user.id == caller.id and ("password" in data or changes_email(user, data)):
        _check_current_password(user, data)
    update_account(user, data)
    return USER.dump(user)


@bp.delete("/<id:user_id>")
@login_required
@doc(status=204, errors=[NotFoundError, Conflict])
def delete_user(user_id):
    """Delete a user and its sessions (self or admin).

    409 when it is the last active admin.
    """
    parse_no_query()
    user = _visible_user(user_id)
    ensure_admin_remains(user)
    db.session.delete(user)
    db.session.commit()
    return "", 204
