"""ETags, conditional requests and caching headers for public data.

An ETag here is a digest of the JSON a resource is shown as, so a GET, the
``If-Match`` check before a write and the write's response all agree on it
without a version column. Werkzeug parses ``If-Match``/``If-None-Match`` and
answers 304; this module only decides what is cacheable and for how long.
"""

import hashlib

from flask import current_app, jsonify, request

from errors import PreconditionFailed

# Products change through the API at any time; 30 seconds of staleness is the
# contract's trade for serving lists from caches.
PUBLIC_LIST = "public, max-age=30"
# An item is what an editor reads before a conditional write, so caches keep it
# but check back each time (a cheap 304) instead of serving an old ETag.
PUBLIC_ITEM = "public, no-cache"
PUBLIC_CONFIG = "public, s-maxage=300, stale-while-revalidate=60"
# Every request header ``make_conditional`` reads (as WSGI environ keys).
_CONDITIONAL_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)


def private_by_default(response, req, ctx_g):
    """``Cache-Control: no-store`` unless the view marked its response public.

    Only public data may be cached; everything else is the caller's own. Runs
    on every response, so headers are looked up with ``getlist``: werkzeug's
    ``in`` and ``get`` raise and catch a ``KeyError`` for a header that is not
    there, the common case here.
    """
    headers = response.headers
    if not headers.getlist("Cache-Control"):
        headers.add("Cache-Control", "no-store")  # absent, so nothing to replace
        # As ``response.vary.add`` would, without parsing into a header set.
        vary = headers.getlist("Vary")  # as ``headers.get``: the first one counts
        if not vary:
            headers.add("Vary", "Authorization")
        elif not vary[0]:
            headers["Vary"] = "Authorization"
        elif "authorization" not in {item.strip().lower() for item in vary[0].split(",")}:
            headers["Vary"] = f"{vary[0]}, Authorization"
    return response


def etag_for(data):
    """A strong ETag for a JSON-serialisable representation: the digest of the
    JSON the service sends for it (``jsonify``'s bytes).

    A resource is always dumped through the same schema, so its fields come in
    the same order and the same data gives the same bytes. A response that
    sends ``data`` takes the digest of its own body (``_json_with_etag``)
    instead of encoding the data a second time.
    """
    return _digest(jsonify(data).get_data())


def _digest(body):
    return hashlib.sha256(body).hexdigest()[:32]


def _json_with_etag(data):
    """``jsonify(data)`` and the ETag of its body: one JSON encoding for both."""
    response = jsonify(data)
    return response, _digest(response.get_data())


def public_response(data, cache_control, headers=None):
    """``data`` as JSON that any cache may keep, with an ETag.

    The view returns the complete answer: ``@cached`` keeps it as it is, and
    ``answer_conditionally`` (a step of the pipeline) turns it into a 304 when
    the client's ``If-None-Match`` still matches.
    """
    return _public(*_json_with_etag(data), cache_control, headers)


def public_bytes(body, mimetype, cache_control):
    """Public data that is serialised already (the OpenAPI document): the ETag
    is a digest of the bytes themselves."""
    response = current_app.response_class(body, mimetype=mimetype)
    return _public(response, _digest(body), cache_control)


def _public(response, etag, cache_control, headers=None):
    response.headers.update(headers or {})
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    return response


def answer_conditionally(response, req, ctx_g):
    """A public answer, or 304 (412) when the request's conditional headers say so.

    Only answers a view made public (``public_response``, ``public_bytes``) are
    conditional here; a write's ``If-Match`` is checked by the view itself
    (``check_if_match``) before it changes anything. Werkzeug's
    ``make_conditional`` does the work; a request with none of the headers it
    reads gets nothing from it but a ``Date`` header that is dropped anyway
    (13 µs of a 260 µs cached read), so it is skipped then.

    ``getlist``, not ``get``: werkzeug raises and catches a ``KeyError`` for a
    missing header.
    """
    cache_control = response.headers.getlist("Cache-Control")
    if not (cache_control and cache_control[0].startswith("public")):
        return response
    environ = req.environ
    if any(name in environ for name in _CONDITIONAL_HEADERS):
        response.make_conditional(req)
        # make_conditional adds a Date header; the HTTP server (werkzeug's, gunicorn)
        # always sends its own, and a response must not carry two.
        response.headers.pop("Date", None)
    return response


def no_content_type_without_body(response, req, ctx_g):
    """A 204 has no body, so no ``Content-Type`` (Flask gives every response one;
    werkzeug drops it from a 304 itself)."""
    if response.status_code == 204:
        response.headers.pop("Content-Type", None)
    return response


def check_if_match(current_data):
    """Refuse a write with 412 when ``If-Match`` names another version.

    Without the header the write goes ahead; ``*`` matches any existing resource.
    """
    if "If-Match" in request.headers and not request.if_match.contains(etag_for(current_data)):
        raise PreconditionFailed()


def with_etag(data, status=200, headers=None):
    """A private JSON response (a write's result) that tells the client its new ETag."""
    response, etag = _json_with_etag(data)
    response.status_code = status
    response.headers.update(headers or {})
    response.set_etag(etag)
    return response
