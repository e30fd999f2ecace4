"""Admin views over all accounts."""

from flask import Blueprint
from sqlalchemy import or_, select

from auth.access import role_required
from errors import InvalidCursor
from models import USER_ORDER, User
from openapi import doc
from plumbing.pagination import ListStatements, contains_text, paginate
from plumbing.validation import parse_query
from schemas.pagination import ListPages
from schemas.user import UserListQuerySchema, UserSchema

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

USER_LIST_QUERY = UserListQuerySchema()
USER_PAGES = ListPages(UserSchema())
USER_LIST = ListStatements(select(User), USER_ORDER, USER_PAGES)


@bp.get("/users")
@role_required("admin")
@doc(query=USER_LIST_QUERY, response=USER_PAGES.response, headers=["Link"], errors=[InvalidCursor])
def list_users():
    """List users (admin): filter by role or by text in name or email, page or cursor."""
    query = parse_query(USER_LIST_QUERY)
    conditions = []
    if "role" in query:
        conditions.append(User.role == query["role"])
    if query.get("q"):
        conditions.append(
            or_(contains_text(User.name, query["q"]), contains_text(User.email, query["q"]))
        )
    return paginate(USER_LIST, query, conditions)
