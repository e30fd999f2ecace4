"""What a view declares for the OpenAPI document: only what cannot be derived.

``@doc(...)`` stores an ``ApiDoc`` on the view function and returns the function
itself: it never wraps a view, so reading and validating the request stays in the
view's body. ``builder.py`` derives everything else in one place: the path and its
parameters from the URL rule, the summary from the docstring, 401/403 and the
security requirement from ``login_required`` / ``role_required``, and the errors any
body, query string or id in the URL can cause.

Pass the same schema instance a view loads or dumps with (a module constant), so a
rule is stated once, in ``schemas/``::

    REGISTER = RegisterSchema()

    @bp.post("/register")
    @doc(body=REGISTER, response=USER, status=201, errors=[Forbidden, Conflict])
    def register():
        data = parse_body(REGISTER)

A declaration only documents: what a view accepts is decided in its own parse
step. ``query=SCHEMA`` documents the parameters of the view's
``parse_query(SCHEMA)``; a view that takes none calls ``parse_no_query()`` and
declares no ``query``. ``tests/test_query_parameters.py`` checks, for every
operation, that the two agree.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from marshmallow import Schema


@dataclass(frozen=True)
class ApiDoc:
    # The request body schema, or one per method when a rule serves PUT and PATCH.
    body: Schema | Mapping[str, Schema] | None = None
    # The query string's schema, the one the view passes to parse_query; None for
    # a view that calls parse_no_query.
    query: Schema | None = None
    # The success body: a schema, or a JSON schema dict for what is not a resource.
    response: Schema | Mapping | None = None  # None: no body (204)
    status: int = 200
    # The success body's media type; or a mapping of media types to the schema
    # of each, for a view that answers in several (then ``response`` is unused).
    response_media_type: str | Mapping[str, Schema | Mapping] = "application/json"
    # Errors this view raises itself: AppError subclasses (or Werkzeug exceptions).
    errors: Sequence[type] = ()
    # Success headers beyond the ones every response carries: "ETag", "Link", ...
    headers: Sequence[str] = ()
    # Success headers sent on some responses only (the Link of a list that can
    # also answer a batch, which has no links).
    optional_headers: Sequence[str] = ()
    # Public data (``http_cache.public_response``): the Cache-Control value sent.
    # It always carries an ETag and answers a matching If-None-Match with 304.
    public_cache: str | None = None
    # The view refuses a write with 412 when If-Match names another ETag: the
    # resource's name as the document should say it ("product").
    if_match: str | None = None
    # A token is optional, but a bad one is 401 (views that call ``optional_user``).
    optional_auth: bool = False
    # False for views that never touch the database, so they cannot answer 503.
    uses_database: bool = True
    # The view honours ``Idempotency-Key`` (``features.idempotency.idempotent``): the
    # header parameter, 409/422 and ``Idempotent-Replayed`` are derived from this.
    idempotent: bool = False


def doc(**declared):
    """Record ``ApiDoc(**declared)`` on the view; the view runs exactly as before."""
    api_doc = ApiDoc(**declared)

    def record(view):
        view.api_doc = api_doc
        return view

    return record
