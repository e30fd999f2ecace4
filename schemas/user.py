"""Schemas for users: what the API returns and what each write accepts."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models import ROLES, USER_ORDER

from .fields import NormalizedEmail, StrictBoolean, TrimmedString, UTCDateTime
from .pagination import ListQuerySchema, order_by_field

NAME = {"validate": validate.Length(min=1, max=100)}
EMAIL = {"validate": validate.Length(max=254)}
PASSWORD = {"validate": validate.Length(min=8, max=128), "load_only": True}


class UserSchema(Schema):
    """A user as the API shows it; never the password hash."""

    id = fields.Integer(dump_only=True)
    name = fields.String()
    email = fields.String()
    role = fields.String()
    is_active = fields.Boolean()
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class RegisterSchema(Schema):
    name = TrimmedString(required=True, **NAME)
    email = NormalizedEmail(required=True, **EMAIL)
    password = fields.String(required=True, **PASSWORD)


class LoginSchema(Schema):
    email = NormalizedEmail(required=True)
    # No length rule here: a login attempt must not reveal the password policy.
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class UserCreateSchema(RegisterSchema):
    """An admin creating an account may choose its role and state."""

    role = fields.String(load_default="viewer", validate=validate.OneOf(ROLES))
    is_active = StrictBoolean(load_default=True)


class UserUpdateSchema(Schema):
    """PUT sends ``name`` and ``email`` at least; PATCH any subset.

    ``role`` and ``is_active`` are admin-only; the view enforces that, because
    whether they are allowed depends on who asks, not on the body.
    """

    name = TrimmedString(required=True, **NAME)
    email = NormalizedEmail(required=True, **EMAIL)
    password = fields.String(**PASSWORD)
    current_password = fields.String(load_only=True, validate=validate.Length(max=1024))
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = StrictBoolean()

    @validates_schema
    def current_password_goes_with_password(self, data, **kwargs):
        if "current_password" in data and "password" not in data:
            raise ValidationError(
                "Only used together with password.", field_name="current_password"
            )


class UserListQuerySchema(ListQuerySchema):
    """Filters of the admin user list."""

    order_by = order_by_field(USER_ORDER)
    role = fields.String(validate=validate.OneOf(ROLES))
    q = fields.String(validate=validate.Length(max=254))
