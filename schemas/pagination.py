"""The query parameters every list accepts; each resource adds its filters."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .fields import QueryInteger
from .row_dump import RowDump

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def order_by_field(columns):
    """The ``order_by`` parameter: one of the names in ``columns``, default ``id``."""
    return fields.String(load_default="id", validate=validate.OneOf(list(columns)))


class ListQuerySchema(Schema):
    """``page`` or ``cursor``, ``limit``, ``sort`` and ``order_by``.

    ``page`` has no default here so that sending it together with ``cursor`` can
    be told apart from leaving it out; the pagination treats a missing page as 1.
    """

    from_query_string = True  # every value arrives as text (see fields.Price)

    page = QueryInteger(
        validate=validate.Range(min=1),
        metadata={"description": "The page number (default 1); not together with cursor."},
    )
    limit = QueryInteger(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    sort = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    order_by = order_by_field(["id"])
    cursor = fields.String(
        validate=validate.Length(max=1000),
        metadata={
            "description": "Keyset paging instead of page: empty for the first page, then "
            "meta.next_cursor. Opaque and bound to the query's filters and order "
            "(400 INVALID_CURSOR otherwise); not together with page."
        },
    )

    @validates_schema
    def page_or_cursor(self, data, **kwargs):
        if "page" in data and "cursor" in data:
            raise ValidationError(
                {
                    "page": ["Send either page or cursor, not both."],
                    "cursor": ["Send either page or cursor, not both."],
                }
            )


class BatchMetaSchema(Schema):
    missing_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1)),
        required=True,
        metadata={"description": "The ids asked for that do not exist, each once."},
    )


class OffsetMetaSchema(Schema):
    page = fields.Integer(required=True, validate=validate.Range(min=1))
    limit = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_LIMIT))
    total = fields.Integer(required=True, validate=validate.Range(min=0))
    pages = fields.Integer(required=True, validate=validate.Range(min=0))


class CursorMetaSchema(Schema):
    limit = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_LIMIT))
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "Null on the last page."}
    )
    has_more = fields.Boolean(required=True)


def _link(**kwargs):
    return fields.String(required=True, metadata={"format": "uri"}, **kwargs)


class OffsetLinksSchema(Schema):
    """Absolute URLs with the caller's filters; ``prev`` and ``next`` are null at the edges."""

    self = _link()
    first = _link()
    prev = _link(allow_none=True)
    next = _link(allow_none=True)
    last = _link()


class CursorLinksSchema(Schema):
    """Cursor pages go forward only: there is no ``prev`` or ``last``."""

    self = _link()
    first = _link()
    next = _link(allow_none=True)


class ListPages:
    """The two shapes a list of ``item_schema`` comes in: numbered pages with a
    total, and cursor pages.

    ``offset`` and ``cursor`` are schemas named after the item (``ProductPage``,
    ``ProductCursorPage``); ``response`` documents either. ``pagination.paginate``
    reads a page as plain rows and puts its body together itself: the items
    through ``rows(columns)`` (a ``RowDump``, marshmallow's dump without its
    per-value cost), meta and links as the values these schemas show unchanged
    (integers, strings, None, a boolean); tests/test_row_dump.py checks that the
    body equals these schemas' dump.
    """

    def __init__(self, item_schema):
        self.item_schema = item_schema
        # One RowDump per shape of row: a list's statements all select its model,
        # so this holds one entry per list.
        self._row_dumps = {}
        name = type(item_schema).__name__.removesuffix("Schema")
        data = {"data": fields.List(fields.Nested(item_schema), required=True)}
        self.offset = Schema.from_dict(
            {
                **data,
                "meta": fields.Nested(OffsetMetaSchema, required=True),
                "links": fields.Nested(OffsetLinksSchema, required=True),
            },
            name=f"{name}PageSchema",
        )()
        self.cursor = Schema.from_dict(
            {
                **data,
                "meta": fields.Nested(CursorMetaSchema, required=True),
                "links": fields.Nested(CursorLinksSchema, required=True),
            },
            name=f"{name}CursorPageSchema",
        )()
        self.response = {"oneOf": [self.offset, self.cursor]}

    def rows(self, columns):
        """The ``RowDump`` of items read as rows of ``columns`` (``statement.selected_columns``)."""
        key = tuple(columns)
        row_dump = self._row_dumps.get(key)
        if row_dump is None:
            row_dump = self._row_dumps[key] = RowDump(self.item_schema, key)
        return row_dump
