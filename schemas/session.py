"""Schemas for a user's sessions (only dumped; see ``UserSchema`` on ``required``)."""

from marshmallow import Schema, fields

from .fields import UTCDateTime


class SessionSchema(Schema):
    id = fields.Integer(required=True)
    created_at = UTCDateTime(required=True)
    last_used_at = UTCDateTime(required=True)
    expires_at = UTCDateTime(required=True)
    user_agent = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The User-Agent of the login, trimmed to 255 characters."},
    )
    current = fields.Boolean(
        required=True, metadata={"description": "True for the session of the token used."}
    )


class SessionListSchema(Schema):
    data = fields.List(fields.Nested(SessionSchema), required=True)
