"""The query parameters every list accepts; each resource adds its filters."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from pagination import DEFAULT_LIMIT, MAX_LIMIT

from .fields import QueryInteger


def order_by_field(columns):
    """The ``order_by`` parameter: one of the names in ``columns``, default ``id``."""
    return fields.String(load_default="id", validate=validate.OneOf(list(columns)))


class ListQuerySchema(Schema):
    """``page`` or ``cursor``, ``limit``, ``sort`` and ``order_by``.

    ``page`` has no default here so that sending it together with ``cursor`` can
    be told apart from leaving it out; the pagination treats a missing page as 1.
    """

    page = QueryInteger(validate=validate.Range(min=1))
    limit = QueryInteger(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    sort = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    order_by = order_by_field(["id"])
    cursor = fields.String(validate=validate.Length(max=1000))

    @validates_schema
    def page_or_cursor(self, data, **kwargs):
        if "page" in data and "cursor" in data:
            raise ValidationError(
                {
                    "page": ["Send either page or cursor, not both."],
                    "cursor": ["Send either page or cursor, not both."],
                }
            )
