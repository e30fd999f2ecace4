"""Registration, login, logout and the caller's own user."""

from flask import Blueprint, current_app, url_for

from errors import Conflict, Forbidden, Unauthenticated
from extensions import db
from models import User
from models.base import utcnow
from models.user import dummy_password_check
from openapi import doc
from schemas.user import LoginSchema, RegisterSchema, TokenSchema, UserSchema
from services.accounts import add_account
from web.auth import (
    authentication,
    issue_token,
    login_required,
    note_auth_failure,
    require_user,
)
from web.idempotency import commit_with_response, idempotent
from web.rate_limits import login_limit, register_limit
from web.validation import parse_body

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

BAD_LOGIN = "Invalid email or password."

REGISTER = RegisterSchema()
LOGIN = LoginSchema()
TOKEN = TokenSchema()
USER = UserSchema()


@bp.post("/register")
@register_limit
@idempotent
@doc(body=REGISTER, response=USER, status=201, errors=[Forbidden, Conflict], idempotent=True)
def register():
    """Register a new account with the viewer role.

    403 when registration is closed; 409 when the email is taken.
    """
    if not current_app.config["ALLOW_REGISTRATION"]:
        raise Forbidden("Registration is closed.")
    data = parse_body(REGISTER)
    user = User(name=data["name"], email=data["email"], role="viewer", is_active=True)
    user.set_password(data["password"])
    add_account(user)
    location = url_for("users.get_user", user_id=user.id)
    return commit_with_response((USER.dump(user), 201, {"Location": location}))


@bp.post("/login")
@login_limit
@doc(body=LOGIN, response=TOKEN, errors=[Unauthenticated])
def login():
    """Exchange an email and password for a bearer access token.

    A wrong password, an unknown email and an inactive user get the same 401.
    """
    data = parse_body(LOGIN)
    user = User.by_email(data["email"])
    if user is None:
        dummy_password_check(data["password"])
        note_auth_failure("unknown_email")
        raise Unauthenticated(BAD_LOGIN)
    if not user.check_password(data["password"]):
        note_auth_failure("wrong_password")
        raise Unauthenticated(BAD_LOGIN)
    if not user.is_active:
        note_auth_failure("inactive_user")
        raise Unauthenticated(BAD_LOGIN)
    return TOKEN.dump(
        {
            "access_token": issue_token(user),
            "token_type": "Bearer",
            "expires_in": current_app.config["ACCESS_TOKEN_TTL"],
        }
    )


@bp.post("/logout")
@login_required
@doc(status=204)
def logout():
    """Revoke the token this request was made with."""
    authentication().session.revoked_at = utcnow()
    db.session.commit()
    return "", 204


@bp.get("/me")
@login_required
@doc(response=USER)
def me():
    """The caller's own user."""
    return USER.dump(require_user())
