"""Schemas for feedback: what anyone may send and what editors read."""

from marshmallow import Schema, fields, validate

from models import FEEDBACK_ORDER

from .fields import Email, QueryInteger, StrictInteger, TrimmedString, UTCDateTime
from .pagination import ListQuerySchema, order_by_field

RATING = validate.Range(min=1, max=5)


class FeedbackSchema(Schema):
    """A feedback as the API shows it, and the body POST accepts.

    ``user_id`` is never read from the body: the server sets it from the token.
    """

    # ``required`` on read-only fields: every feedback in a response has them.
    id = fields.Integer(dump_only=True, required=True)
    name = TrimmedString(required=True, validate=validate.Length(min=2, max=100))
    email = Email(required=True)
    message = TrimmedString(required=True, validate=validate.Length(min=10, max=1000))
    rating = StrictInteger(load_default=None, allow_none=True, validate=RATING)
    user_id = fields.Integer(dump_only=True, required=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True, required=True)


class FeedbackListQuerySchema(ListQuerySchema):
    order_by = order_by_field(FEEDBACK_ORDER)
    rating = QueryInteger(validate=RATING)
