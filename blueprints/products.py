"""The product catalog: public reads, editor writes, admin deletes."""

from flask import Blueprint, request, url_for
from sqlalchemy import select

from errors import NotFoundError
from extensions import db
from http_cache import PUBLIC_ITEM, PUBLIC_LIST, check_if_match, public_response, with_etag
from models import PRODUCT_ORDER, Product
from pagination import contains_text, paginate
from schemas.product import ProductListQuerySchema, ProductReplaceSchema, ProductSchema
from security import role_required
from validation import MAX_ID, parse_body, parse_query

bp = Blueprint("products", __name__, url_prefix="/api/products")

WRITABLE = ("name", "description", "price", "category")


def _product_or_404(product_id, *, for_update=False):
    product = db.session.get(Product, product_id, with_for_update=for_update)
    if product is None:
        raise NotFoundError("Product not found.")
    return product


def _filtered(query):
    statement = select(Product)
    if "category" in query:
        statement = statement.where(Product.category == query["category"])
    if query.get("q"):
        statement = statement.where(contains_text(Product.name, query["q"]))
    if "min_price" in query:
        statement = statement.where(Product.price >= query["min_price"])
    if "max_price" in query:
        statement = statement.where(Product.price <= query["max_price"])
    return statement


def _batch(ids):
    """The products with ``ids`` in the order asked; each id once, at its first place."""
    wanted = list(dict.fromkeys(ids))
    found = {
        product.id: product
        for product in db.session.scalars(
            select(Product).where(Product.id.in_([i for i in wanted if i <= MAX_ID]))
        )
    }
    return {
        "data": ProductSchema().dump([found[i] for i in wanted if i in found], many=True),
        "meta": {"missing_ids": [i for i in wanted if i not in found]},
    }


@bp.get("")
def list_products():
    """List products (public): filters, sort, page or cursor; or a batch by ids."""
    query = parse_query(ProductListQuerySchema())
    if "ids" in query:
        return public_response(_batch(query["ids"]), PUBLIC_LIST)
    body, headers = paginate(_filtered(query), query, PRODUCT_ORDER, ProductSchema())
    return public_response(body, PUBLIC_LIST, headers)


@bp.get("/<id:product_id>")
def get_product(product_id):
    """Read a product (public)."""
    return public_response(ProductSchema().dump(_product_or_404(product_id)), PUBLIC_ITEM)


@bp.post("")
@role_required("editor", "admin")
def create_product():
    """Create a product (editor, admin)."""
    data = parse_body(ProductSchema())
    product = Product(**data)
    db.session.add(product)
    db.session.commit()
    location = url_for("products.get_product", product_id=product.id)
    return with_etag(ProductSchema().dump(product), 201, {"Location": location})


@bp.route("/<id:product_id>", methods=["PUT", "PATCH"])
@role_required("editor", "admin")
def update_product(product_id):
    """Replace (PUT) or partly update (PATCH) a product (editor, admin); honours If-Match."""
    product = _product_or_404(product_id, for_update=True)
    check_if_match(ProductSchema().dump(product))
    data = parse_body(ProductReplaceSchema(partial=request.method == "PATCH"))
    for field in WRITABLE:
        if field in data:
            setattr(product, field, data[field])
    db.session.commit()
    return with_etag(ProductSchema().dump(product))


@bp.delete("/<id:product_id>")
@role_required("admin")
def delete_product(product_id):
    """Delete a product (admin); honours If-Match."""
    product = _product_or_404(product_id, for_update=True)
    check_if_match(ProductSchema().dump(product))
    db.session.delete(product)
    db.session.commit()
    return "", 204
