"""Registration, login, token refresh, logout, password reset and the caller's own user."""

from flask import Blueprint, current_app, request, url_for
from itsdangerous import BadSignature, SignatureExpired

from auth.access import (
    authentication,
    login_required,
    note_auth_failure,
    require_user,
    shown_caller,
)
from auth.tokens import load_refresh_token, token_pair
from errors import Conflict, Forbidden, InvalidToken, Unauthenticated
from features.idempotency import commit_with_response, idempotent
from features.rate_limits import login_limit, password_reset_limit, register_limit
from models import User
from models.user import dummy_password_check
from openapi import doc
from plumbing.validation import parse_body, parse_no_query
from schemas.user import (
    LoginSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    RefreshSchema,
    RegisterSchema,
    TokenSchema,
    UserSchema,
)
from services import password_reset, sessions
from services.accounts import create_account

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

BAD_LOGIN = "Invalid email or password."

REGISTER = RegisterSchema()
LOGIN = LoginSchema()
REFRESH = RefreshSchema()
TOKEN = TokenSchema()
USER = UserSchema()
RESET_REQUEST = PasswordResetRequestSchema()
RESET_CONFIRM = PasswordResetConfirmSchema()


@bp.post("/register")
@register_limit
@idempotent
@doc(body=REGISTER, response=USER, status=201, errors=[Forbidden, Conflict], idempotent=True)
def register():
    """Register a new account with the viewer role.

    403 when registration is closed; 409 when the email is taken.
    """
    parse_no_query()
    if not current_app.config["ALLOW_REGISTRATION"]:
        raise Forbidden("Registration is closed.")
    data = parse_body(REGISTER)
    user = create_account(name=data["name"], email=data["email"], password=data["password"])
    location = url_for("users.get_user", user_id=user.id)
    return commit_with_response((USER.dump(user), 201, {"Location": location}))


@bp.post("/login")
@login_limit
@doc(body=LOGIN, response=TOKEN, errors=[Unauthenticated])
def login():
    """Exchange an email and password for an access token and a refresh token.

    Each login opens a session (see the sessions list). A wrong password, an
    unknown email and an inactive user get the same 401.
    """
    parse_no_query()
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
    token_id, refresh_secret = sessions.open_session(user, request.headers.get("User-Agent"))
    return TOKEN.dump(token_pair(token_id, refresh_secret))


@bp.post("/refresh")
@doc(body=REFRESH, response=TOKEN, errors=[Unauthenticated])
def refresh():
    """Exchange a refresh token for a new access token and refresh token (public).

    The refresh token sent is used up. Sent again within REFRESH_REUSE_GRACE
    seconds (default 15) of its first use, as parallel refreshes do, it answers
    with a new access token and the same refresh token as that first use. Sent
    again later, it is 401 and ends its session at once, with every token the
    session issued. An expired, revoked or tampered refresh token, an access
    token, or one of an inactive user is 401.
    """
    parse_no_query()
    data = parse_body(REFRESH)
    try:
        token_id, refresh_secret = load_refresh_token(data["refresh_token"])
        following, issued_at = sessions.rotate(token_id, refresh_secret)
    except BadSignature as exc:
        note_auth_failure("expired_token" if isinstance(exc, SignatureExpired) else "bad_signature")
        raise Unauthenticated(sessions.INVALID_REFRESH_TOKEN) from None
    except sessions.RefreshRefused as refused:
        note_auth_failure(refused.reason)
        raise
    return TOKEN.dump(token_pair(token_id, following, issued_at))


@bp.post("/logout")
@login_required
@doc(status=204)
def logout():
    """End the session of the token used: its access and refresh tokens stop working."""
    parse_no_query()
    sessions.end(authentication().session)
    return "", 204


@bp.get("/me")
@login_required
@doc(response=USER)
def me():
    """The caller's own user."""
    parse_no_query()
    return shown_caller(require_user())


@bp.post("/password-reset")
@password_reset_limit
@doc(body=RESET_REQUEST, status=202)
def request_password_reset():
    """Ask for a password reset mail (public); always 202 with an empty body.

    An active user with this email gets one mail holding a reset token; the
    answer and its timing are the same whether or not the email is known. Once
    answered, the mail is stored and sent even if the server fails right after.
    503 when the service has no mail server configured.
    """
    parse_no_query()
    data = parse_body(RESET_REQUEST)
    password_reset.request_reset(data["email"])
    return _empty(202)


@bp.post("/password-reset/confirm")
@doc(body=RESET_CONFIRM, status=204, errors=[InvalidToken])
def confirm_password_reset():
    """Set a new password with the token from a reset mail (public).

    Ends every session of the user. The token works once, within
    PASSWORD_RESET_TTL seconds, and only until the password changes; otherwise
    400 INVALID_TOKEN.
    """
    parse_no_query()
    data = parse_body(RESET_CONFIRM)
    password_reset.confirm(data["token"], data["password"])
    return _empty(204)


def _empty(status):
    """A response without a body, and so without a Content-Type."""
    response = current_app.response_class(status=status)
    response.headers.pop("Content-Type", None)
    return response
