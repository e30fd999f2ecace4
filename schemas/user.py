"""Schemas for users: what the API returns and what each write accepts."""

from marshmallow import Schema, fields, validate

from models import ROLES, USER_ORDER

from .base import ApiSchema
from .fields import Email, StrictBoolean, TrimmedString, UTCDateTime
from .pagination import ListQuerySchema, order_by_field

NAME = {"validate": validate.Length(min=1, max=100)}
PASSWORD = {"validate": validate.Length(min=8, max=128), "load_only": True}


class UserSchema(Schema):
    """A user as the API shows it; never the password hash.

    Only ever dumped, so ``required`` changes nothing at run time; it tells the
    OpenAPI document that every user in a response has every one of these fields.
    """

    id = fields.Integer(dump_only=True, required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    is_active = fields.Boolean(required=True)
    created_at = UTCDateTime(dump_only=True, required=True)
    updated_at = UTCDateTime(dump_only=True, required=True)


class TokenSchema(Schema):
    """The answer to a login or a refresh (only dumped; see ``UserSchema``)."""

    access_token = fields.String(
        required=True, metadata={"description": "Send as `Authorization: Bearer <token>`."}
    )
    token_type = fields.String(required=True, validate=validate.Equal("Bearer"))
    expires_in = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={"description": "Seconds the access token is valid."},
    )
    refresh_token = fields.String(
        required=True,
        metadata={
            "description": "Send to `POST /api/auth/refresh` for new tokens; works once "
            "(sent again within REFRESH_REUSE_GRACE seconds of that use, it gets the same "
            "successor). Never as a bearer token."
        },
    )
    refresh_expires_in = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={"description": "Seconds the refresh token is valid."},
    )


class RegisterSchema(Schema):
    name = TrimmedString(required=True, **NAME)
    email = Email(required=True)
    password = fields.String(required=True, **PASSWORD)


class LoginSchema(Schema):
    email = Email(required=True, lookup=True)
    # No length rule here: a login attempt must not reveal the password policy.
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class RefreshSchema(Schema):
    refresh_token = fields.String(
        required=True,
        validate=validate.Length(max=1024),
        metadata={"description": "The refresh token of the last login or refresh."},
    )


class PasswordResetRequestSchema(Schema):
    email = Email(required=True, lookup=True)


class PasswordResetConfirmSchema(Schema):
    token = fields.String(
        required=True, metadata={"description": "The token from the password reset mail."}
    )
    password = fields.String(required=True, **PASSWORD)


class UserCreateSchema(RegisterSchema):
    """An admin creating an account may choose its role and state."""

    role = fields.String(load_default="viewer", validate=validate.OneOf(ROLES))
    is_active = StrictBoolean(load_default=True)


class UserUpdateSchema(ApiSchema):
    """PUT sends ``name`` and ``email`` at least; PATCH any subset.

    ``role`` and ``is_active`` are admin-only; the view enforces that, because
    whether they are allowed depends on who asks, not on the body.
    """

    name = TrimmedString(required=True, **NAME)
    email = Email(required=True)
    password = fields.String(**PASSWORD)
    current_password = fields.String(
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={
            "description": "Your current password: needed to change your own password or "
            "email (not for an admin changing another user's)."
        },
    )
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = StrictBoolean()

    class Meta:
        sent_with_any = {"current_password": ["password", "email"]}


class UserListQuerySchema(ListQuerySchema):
    """Filters of the admin user list."""

    order_by = order_by_field(USER_ORDER)
    role = fields.String(validate=validate.OneOf(ROLES))
    q = fields.String(validate=validate.Length(max=254))
