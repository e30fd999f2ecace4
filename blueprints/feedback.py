"""Feedback: anyone may send it; editors and admins read it; admins delete it."""

from flask import Blueprint, url_for
from sqlalchemy import select

from auth.access import optional_user, role_required
from errors import InvalidCursor, NotFoundError
from extensions import db
from features.idempotency import commit_with_response, idempotent, insert_one
from features.rate_limits import feedback_limit
from models import FEEDBACK_ORDER, RATING_ORDER, Feedback
from openapi import doc
from plumbing.pagination import ListStatements, paginate
from plumbing.validation import parse_body, parse_no_query, parse_query
from schemas.feedback import FeedbackListQuerySchema, FeedbackSchema
from schemas.pagination import ListPages

bp = Blueprint("feedback", __name__, url_prefix="/api/feedback")

FEEDBACK = FeedbackSchema()
FEEDBACK_LIST_QUERY = FeedbackListQuerySchema()
FEEDBACK_PAGES = ListPages(FEEDBACK)
FEEDBACK_LIST = ListStatements(select(Feedback), FEEDBACK_ORDER, FEEDBACK_PAGES)
NOT_FOUND = "Feedback not found."


@bp.post("")
@feedback_limit
@idempotent
@doc(body=FEEDBACK, response=FEEDBACK, status=201, optional_auth=True, idempotent=True)
def create_feedback():
    """Send feedback (public); a signed-in sender's user id is kept with it.

    A token is optional, but an invalid one is 401 rather than anonymous feedback.
    """
    sender = optional_user()  # who is calling comes first, as the auth decorators do
    parse_no_query()
    data = parse_body(FEEDBACK)
    feedback = insert_one(Feedback, **data, user_id=sender.id if sender else None)
    location = url_for("feedback.get_feedback", feedback_id=feedback["id"])
    return commit_with_response((FEEDBACK.dump(feedback), 201, {"Location": location}))


@bp.get("")
@role_required("editor", "admin")
@doc(
    query=FEEDBACK_LIST_QUERY,
    response=FEEDBACK_PAGES.response,
    headers=["Link"],
    errors=[InvalidCursor],
)
def list_feedback():
    """List feedback (editor, admin): filter by rating, page or cursor."""
    query = parse_query(FEEDBACK_LIST_QUERY)
    # The same rows as ``Feedback.rating == r``, through the index of the rating order.
    conditions = [RATING_ORDER == query["rating"]] if "rating" in query else []  # noqa: SIM300 (SQL)
    return paginate(FEEDBACK_LIST, query, conditions)


@bp.get("/<id:feedback_id>")
@role_required("editor", "admin")
@doc(response=FEEDBACK, errors=[NotFoundError])
def get_feedback(feedback_id):
    """Read a feedback (editor, admin)."""
    parse_no_query()
    return FEEDBACK.dump(db.get_or_404(Feedback, feedback_id, description=NOT_FOUND))


@bp.delete("/<id:feedback_id>")
@role_required("admin")
@doc(status=204, errors=[NotFoundError])
def delete_feedback(feedback_id):
    """Delete a feedback (admin)."""
    parse_no_query()
    db.session.delete(db.get_or_404(Feedback, feedback_id, description=NOT_FOUND))
    db.session.commit()
    return "", 204
