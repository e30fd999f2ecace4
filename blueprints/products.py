"""The product catalog: public reads, editor writes, admin deletes."""

from flask import Blueprint, Response, request, stream_with_context, url_for
from sqlalchemy import select

from auth.access import role_required
from errors import InvalidCursor, NotFoundError
from extensions import db
from features.idempotency import commit_with_response, idempotent, insert_one
from features.server_cache import cached
from models import PRODUCT_ORDER, Product
from models.catalog import CATALOG_TOKEN
from models.fast_read import read_connection
from openapi import doc
from plumbing.http_cache import PUBLIC_ITEM, PUBLIC_LIST, check_if_match, public_response, with_etag
from plumbing.pagination import ListStatements, contains_text, paginate
from plumbing.validation import MAX_ID, parse_body, parse_no_query, parse_query
from schemas.pagination import ListPages
from schemas.product import (
    ProductBatchSchema,
    ProductExportQuerySchema,
    ProductListQuerySchema,
    ProductReplaceSchema,
    ProductSchema,
)
from schemas.row_dump import RowDump
from services import product_export

bp = Blueprint("products", __name__, url_prefix="/api/products")

WRITABLE = ("name", "description", "price", "category")

PRODUCT = ProductSchema()
PRODUCT_LIST_QUERY = ProductListQuerySchema()
PRODUCT_PAGES = ListPages(PRODUCT)
PRODUCT_LIST = ListStatements(select(Product), PRODUCT_ORDER, PRODUCT_PAGES, version=CATALOG_TOKEN)
PRODUCT_BATCH = ProductBatchSchema()
# A product read as a plain row of select(Product)'s columns (the batch).
PRODUCT_ROWS = RowDump(PRODUCT, select(Product).selected_columns)
PRODUCT_EXPORT_QUERY = ProductExportQuerySchema()
# What the export answers, per media type (an NDJSON line is one Product).
PRODUCT_EXPORT_BODIES = {
    "application/x-ndjson": {
        "type": "string",
        "description": "One product per line, each exactly as GET /api/products/{id} shows it "
        "(the Product schema); no line for no product.",
        "x-item-schema": {"$ref": "#/components/schemas/Product"},
    },
    "text/csv": {
        "type": "string",
        "description": "CSV (RFC 4180): a header row of the Product fields, then one product "
        "per row; a text cell that begins with =, +, -, @, a tab or a carriage return has a "
        "leading ' so no spreadsheet runs it as a formula.",
    },
}
# PUT replaces every writable field; PATCH any subset.
PRODUCT_UPDATE = {"PUT": ProductReplaceSchema(), "PATCH": ProductReplaceSchema(partial=True)}
NOT_FOUND = "Product not found."


def _filters(query):
    """The list's (and the export's) conditions for the filters in ``query``."""
    conditions = []
    if "category" in query:
        conditions.append(Product.category == query["category"])
    if query.get("q"):
        conditions.append(contains_text(Product.name, query["q"]))
    if "min_price" in query:
        conditions.append(Product.price >= query["min_price"])
    if "max_price" in query:
        conditions.append(Product.price <= query["max_price"])
    return conditions


def _batch(ids):
    """The products with ``ids`` in the order asked; each id once, at its first place.

    Read as plain rows on an autocommit connection and dumped by ``PRODUCT_ROWS``,
    as a list page is (``plumbing.pagination``): the body is what
    ``PRODUCT_BATCH.dump`` gives for the ORM objects (tests/test_row_dump.py).
    """
    wanted = list(dict.fromkeys(ids))
    statement = select(Product).where(Product.id.in_([i for i in wanted if i <= MAX_ID]))
    with read_connection() as connection:
        rows = connection.execute(statement).all()
    found = {product["id"]: product for product in PRODUCT_ROWS.dump(rows)}
    return {
        "data": [found[i] for i in wanted if i in found],
        "meta": {"missing_ids": [i for i in wanted if i not in found]},
    }


@bp.get("")
@cached("catalog")
@doc(
    query=PRODUCT_LIST_QUERY,
    response={"oneOf": [PRODUCT_PAGES.offset, PRODUCT_PAGES.cursor, PRODUCT_BATCH]},
    errors=[InvalidCursor],
    public_cache=PUBLIC_LIST,
    optional_headers=["Link"],
)
def list_products():
    """List products (public): filters, sort, page or cursor; or a batch by ids.

    A batch (ids=...) has no links and no Link header.
    """
    query = parse_query(PRODUCT_LIST_QUERY)
    if "ids" in query:
        return public_response(_batch(query["ids"]), PUBLIC_LIST)
    body, headers = paginate(PRODUCT_LIST, query, _filters(query))
    return public_response(body, PUBLIC_LIST, headers)


@bp.get("/export")
@role_required("editor", "admin")
@doc(
    query=PRODUCT_EXPORT_QUERY,
    response_media_type=PRODUCT_EXPORT_BODIES,
    optional_headers=["Content-Disposition"],
)
def export_products():
    """Export every product the list's filters match, in id order (editor, admin).

    format=ndjson (the default) or csv, sent as a file (Content-Disposition) for csv.
    Streamed: the first products arrive before the last are read, and the
    server's memory does not grow with the catalog.
    """
    query = parse_query(PRODUCT_EXPORT_QUERY)
    fmt = query.pop("format")
    chunks = product_export.chunks(select(Product).where(*_filters(query)), fmt)
    response = Response(stream_with_context(chunks), content_type=product_export.MEDIA_TYPES[fmt])
    if fmt == "csv":
        response.headers["Content-Disposition"] = 'attachment; filename="products.csv"'
    return response


@bp.get("/<id:product_id>")
@cached("catalog")
@doc(response=PRODUCT, errors=[NotFoundError], public_cache=PUBLIC_ITEM)
def get_product(product_id):
    """Read a product (public)."""
    parse_no_query()
    product = db.get_or_404(Product, product_id, description=NOT_FOUND)
    return public_response(PRODUCT.dump(product), PUBLIC_ITEM)


@bp.post("")
@role_required("editor", "admin")
@idempotent
@doc(body=PRODUCT, response=PRODUCT, status=201, headers=["ETag"], idempotent=True)
def create_product():
    """Create a product (editor, admin)."""
    parse_no_query()
    data = parse_body(PRODUCT)
    product = insert_one(Product, **data)
    location = url_for("products.get_product", product_id=product["id"])
    return commit_with_response(with_etag(PRODUCT.dump(product), 201, {"Location": location}))


@bp.route("/<id:product_id>", methods=["PUT", "PATCH"])
@role_required("editor", "admin")
@doc(
    body=PRODUCT_UPDATE,
    response=PRODUCT,
    headers=["ETag"],
    errors=[NotFoundError],
    if_match="product",
)
def update_product(product_id):
    """Replace (PUT) or partly update (PATCH) a product (editor, admin).

    PUT needs every writable field (description may be null); PATCH any subset.
    If-Match is checked before the body.
    """
    parse_no_query()
    # Locked until the commit (FOR UPDATE on PostgreSQL): two writers holding the
    # same ETag cannot both pass the If-Match check.
    product = db.get_or_404(Product, product_id, with_for_update=True, description=NOT_FOUND)
    check_if_match(PRODUCT.dump(product))
    data = parse_body(PRODUCT_UPDATE[request.method])
    for field in WRITABLE:
        if field in data:
            setattr(product, field, data[field])
    db.session.commit()
    return with_etag(PRODUCT.dump(product))


@bp.delete("/<id:product_id>")
@role_required("admin")
@doc(status=204, errors=[NotFoundError], if_match="product")
def delete_product(product_id):
    """Delete a product (admin)."""
    parse_no_query()
    product = db.get_or_404(Product, product_id, with_for_update=True, description=NOT_FOUND)
    check_if_match(PRODUCT.dump(product))
    db.session.delete(product)
    db.session.commit()
    return "", 204
