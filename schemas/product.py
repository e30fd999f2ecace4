"""Schemas for products: the shape returned, the writes accepted, the list query."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models import PRODUCT_ORDER

from .fields import IdList, Price, TrimmedString, UTCDateTime
from .pagination import BatchMetaSchema, ListQuerySchema, order_by_field

MAX_BATCH = 100
NAME = {"validate": validate.Length(min=1, max=200)}
CATEGORY = {"validate": validate.Length(min=1, max=50)}
DESCRIPTION = {"allow_none": True, "validate": validate.Length(max=5000)}


class ProductSchema(Schema):
    """A product as the API shows it, and the body POST accepts."""

    # ``required`` on the read-only fields only tells the OpenAPI document that
    # every product in a response has them; loading ignores dump-only fields.
    id = fields.Integer(dump_only=True, required=True)
    name = TrimmedString(required=True, **NAME)
    description = TrimmedString(load_default=None, **DESCRIPTION)
    price = Price(required=True)
    category = TrimmedString(required=True, **CATEGORY)
    created_at = UTCDateTime(dump_only=True, required=True)
    updated_at = UTCDateTime(dump_only=True, required=True)


class ProductReplaceSchema(ProductSchema):
    """PUT replaces the product, so every writable field is required
    (``description`` may be null); PATCH loads this with ``partial=True``."""

    description = TrimmedString(required=True, **DESCRIPTION)


class ProductBatchSchema(Schema):
    """The answer to ``GET /api/products?ids=...``: the products found, in the order asked."""

    data = fields.List(fields.Nested(ProductSchema), required=True)
    meta = fields.Nested(BatchMetaSchema, required=True)


class ProductFiltersSchema(Schema):
    """The product list's filters; the export takes the same ones."""

    from_query_string = True  # every value arrives as text (see fields.Price)

    category = fields.String(**CATEGORY, metadata={"description": "Exact match."})
    q = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "Name contains, any case; %, _ and \\ match literally."},
    )
    min_price = Price(metadata={"description": "Inclusive; not above max_price."})
    max_price = Price(metadata={"description": "Inclusive."})

    @validates_schema
    def price_range(self, data, **kwargs):
        if data.get("min_price", 0) > data.get("max_price", Price.MAXIMUM):
            raise ValidationError("Must not be greater than max_price.", "min_price")


class ProductExportQuerySchema(ProductFiltersSchema):
    """``GET /api/products/export``: the list's filters and the file format."""

    format = fields.String(
        load_default="ndjson",
        validate=validate.OneOf(["ndjson", "csv"]),
        metadata={"description": "ndjson (one product per line, the default) or csv."},
    )


class ProductListQuerySchema(ListQuerySchema, ProductFiltersSchema):
    """Filters of the product list, or ``ids`` for a batch fetch."""

    order_by = order_by_field(PRODUCT_ORDER)
    ids = IdList(
        maximum=MAX_BATCH,
        metadata={
            "description": "A batch fetch: comma-separated ids, in the order wanted. "
            "Stands alone: no paging, sorting or filter parameter with it."
        },
    )

    @validates_schema(pass_original=True)
    def batch_stands_alone(self, data, original, **kwargs):
        # A batch is the products asked for, in that order: paging, sorting or
        # filtering it would silently drop some of them.
        if "ids" in original:
            others = sorted(name for name in original if name != "ids")
            if others:
                raise ValidationError({name: ["Not allowed together with ids."] for name in others})
