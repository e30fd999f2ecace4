"""Registration, login, logout and the caller's own user."""

from flask import Blueprint, current_app, url_for

from accounts import commit_account
from errors import Forbidden, Unauthenticated
from extensions import db
from models import User
from models.base import utcnow
from models.user import dummy_password_check
from rate_limits import login_limit, register_limit
from schemas.user import LoginSchema, RegisterSchema, UserSchema
from security import authentication, issue_token, login_required, require_user
from validation import parse_body

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

BAD_LOGIN = "Invalid email or password."


@bp.post("/register")
@register_limit
def register():
    """Register a new account with the viewer role."""
    if not current_app.config["ALLOW_REGISTRATION"]:
        raise Forbidden("Registration is closed.")
    data = parse_body(RegisterSchema())
    user = User(name=data["name"], email=data["email"], role="viewer", is_active=True)
    user.set_password(data["password"])
    commit_account(user)
    return UserSchema().dump(user), 201, {"Location": url_for("users.get_user", user_id=user.id)}


@bp.post("/login")
@login_limit
def login():
    """Exchange an email and password for a bearer access token."""
    data = parse_body(LoginSchema())
    user = User.by_email(data["email"])
    if user is None:
        dummy_password_check(data["password"])
        raise Unauthenticated(BAD_LOGIN)
    if not user.check_password(data["password"]) or not user.is_active:
        raise Unauthenticated(BAD_LOGIN)
    return {
        "access_token": issue_token(user),
        "token_type": "Bearer",
        "expires_in": current_app.config["ACCESS_TOKEN_TTL"],
    }


@bp.post("/logout")
@login_required
def logout():
    """Revoke the token this request was made with."""
    authentication().session.revoked_at = utcnow()
    db.session.commit()
    return "", 204


@bp.get("/me")
@login_required
def me():
    """The caller's own user."""
    return UserSchema().dump(require_user())
