"""The error hierarchy and the one handler that renders every error.

Views raise an ``AppError`` subclass; marshmallow, Werkzeug and the
database raise their own. ``handle_error`` is registered for ``Exception`` and turns
all of them into RFC 9457 problem details, so a client sees one error format.
"""

import json
import logging
from http import HTTPStatus
from urllib.parse import urlsplit

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, SecurityError
from werkzeug.routing import RequestRedirect

from request_ids import request_id

log = logging.getLogger("api.errors")

PROBLEM_MIMETYPE = "application/problem+json"

# An error body stays small whatever was sent: 60,000 unknown fields must not
# come back as a 2 MB answer. The ``errors`` map names fields until it reaches
# its budget, then summarises the rest under ``_more``.
MAX_PROBLEM_BYTES = 64 * 1024
ERRORS_BUDGET_BYTES = 32 * 1024
MAX_ERROR_FIELDS = 100
MAX_FIELD_NAME = 200  # characters of a field name quoted back (it may be the client's)
MAX_MESSAGES_PER_FIELD = 10
MAX_MESSAGE = 500
MORE_FIELDS = "_more"

# The stable machine-readable code for each status an HTTPException may carry.
CODES_BY_STATUS = {
    400: "MALFORMED_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class AppError(Exception):
    """An error the service raises on purpose; subclasses set status, code and detail."""

    status = 500
    code = "INTERNAL_ERROR"
    detail = "An unexpected error occurred."

    def __init__(self, detail=None, *, errors=None, headers=None):
        self.detail = detail or self.detail
        self.errors = errors
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class RequestValidationError(AppError):
    status, code, detail = 400, "VALIDATION_ERROR", "Validation failed"


class MalformedRequest(AppError):
    status, code, detail = 400, "MALFORMED_REQUEST", "The request body is not a JSON object."


class InvalidHost(AppError):
    status, code = 400, "INVALID_HOST"
    detail = "The Host header names a host this service does not answer for."


class InvalidCursor(AppError):
    status, code, detail = 400, "INVALID_CURSOR", "The pagination cursor is invalid."


class InvalidToken(AppError):
    status, code = 400, "INVALID_TOKEN"
    detail = "The password reset token is invalid, expired, used or stale; ask for a new one."


class Unauthenticated(AppError):
    status, code, detail = 401, "UNAUTHENTICATED", "Authentication is required."

    def __init__(self, detail=None, **kwargs):
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(AppError):
    status, code, detail = 403, "FORBIDDEN", "You are not allowed to do this."


class NotFoundError(AppError):
    status, code, detail = 404, "NOT_FOUND", "The resource was not found."


class Conflict(AppError):
    status, code, detail = 409, "CONFLICT", "The request conflicts with the current state."


class IdempotencyKeyInUse(AppError):
    status, code = 409, "IDEMPOTENCY_KEY_IN_USE"
    detail = "A request with this Idempotency-Key is still being processed; retry shortly."


class PreconditionFailed(AppError):
    status, code = 412, "PRECONDITION_FAILED"
    detail = "The resource has changed; fetch it again for a fresh ETag."


class UnsupportedMediaType(AppError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"
    detail = "The request body must be sent as Content-Type: application/json."


class IdempotencyKeyReused(AppError):
    status, code = 422, "IDEMPOTENCY_KEY_REUSED"
    detail = "This Idempotency-Key was used with a different request; send a new key."


class RateLimited(AppError):
    status, code = 429, "RATE_LIMITED"
    detail = "Too many requests; retry after the number of seconds in Retry-After."


class ServiceUnavailable(AppError):
    status, code = 503, "SERVICE_UNAVAILABLE"
    detail = "The service is temporarily unavailable; retry later."


class InvalidId(BadRequest):
    """Raised by the ``id`` URL converter.

    Converters run while the URL is matched, before any view; Flask only defers
    HTTPExceptions from there to the error handler, hence the Werkzeug base class.
    """

    problem_code = "INVALID_ID"
    description = "The id in the URL must be a positive integer."


class IdOutOfRange(NotFound):
    """A positive integer too large to be any row's id."""


def _flatten(messages, prefix=""):
    """Turn marshmallow's nested messages into ``{"dotted.path": [messages]}``."""
    if isinstance(messages, list):
        return {prefix or "_schema": [str(m) for m in messages]}
    flat = {}
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        flat.update(_flatten(value, path))
    return flat


def _shortened(text, limit):
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def capped_errors(errors):
    """The ``errors`` map, cut to fit an error body of at most 64 KiB.

    The first fields are named (long names and messages shortened); the rest are
    summarised as ``"_more": ["... and 59,900 more fields"]``.
    """
    capped, used = {}, 0
    items = list(errors.items())
    for name, messages in items:
        name = _shortened(str(name), MAX_FIELD_NAME)
        messages = [_shortened(str(m), MAX_MESSAGE) for m in messages[:MAX_MESSAGES_PER_FIELD]]
        size = len(json.dumps({name: messages}))
        if len(capped) == MAX_ERROR_FIELDS or used + size > ERRORS_BUDGET_BYTES:
            break
        capped[name] = messages
        used += size
    rest = len(items) - len(capped)
    if rest:
        capped[MORE_FIELDS] = [f"... and {rest:,} more field{'s' if rest > 1 else ''}"]
    return capped


def _is_database_unavailable(exc):
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def to_app_error(exc):
    """Map any exception to the ``AppError`` a client should see."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, ValidationError):
        return RequestValidationError(errors=_flatten(exc.normalized_messages()))
    if isinstance(exc, SecurityError):  # Flask's TRUSTED_HOSTS check refused the Host
        return InvalidHost()
    if isinstance(exc, HTTPException):
        error = AppError(exc.description, headers=dict(exc.get_headers()))
        error.status = exc.code
        error.code = getattr(exc, "problem_code", None) or CODES_BY_STATUS.get(
            exc.code, HTTPStatus(exc.code).name
        )
        error.headers.pop("Content-Type", None)
        return error
    if _is_database_unavailable(exc):
        log.warning(
            "database unavailable: %s",
            type(getattr(exc, "orig", None) or exc).__name__,
            extra={"request_id": request_id()},
        )
        return ServiceUnavailable()
    log.error("unhandled exception", exc_info=exc, extra={"request_id": request_id()})
    # Error reports (observability/error_reports.py), when SENTRY_DSN is set: this is the one
    # place an unexpected exception becomes a 500, so it is reported from here.
    report = current_app.extensions.get("error_reports")
    if report is not None:
        report(exc)
    return AppError()


def problem_response(error):
    body = {
        "type": "about:blank",
        "title": HTTPStatus(error.status).phrase,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    if error.errors:
        body["errors"] = capped_errors(error.errors)
    body["request_id"] = request_id()
    text = json.dumps(body)
    if len(text) > MAX_PROBLEM_BYTES:  # not with the caps above; the contract's bound holds
        body["errors"] = {MORE_FIELDS: [f"{len(error.errors):,} fields; send them fewer at once"]}
        text = json.dumps(body)
    # A trailing newline, as jsonify gives every success body.
    response = current_app.response_class(
        text + "\n", status=error.status, mimetype=PROBLEM_MIMETYPE
    )
    response.headers.update(error.headers)
    return response


def handle_error(exc):
    """The one error handler: every exception becomes problem details."""
    if isinstance(exc, HTTPException) and exc.code is not None and exc.code < 400:
        return exc  # routing redirects such as a missing trailing slash
    return problem_response(to_app_error(exc))


def plain_redirect(response, req, ctx_g):
    """A routing redirect (``//api//products`` to ``/api/products``) keeps its
    status but loses Werkzeug's HTML body, and its ``Location`` is a path (RFC 9110
    allows a relative reference) that the ``Host`` header has no part in.

    Flask answers routing redirects without calling any error handler, so this is
    a step after the view (see ``pipeline.py``).
    """
    if not 300 <= response.status_code < 400:
        return response
    redirect = req.routing_exception
    if isinstance(redirect, RequestRedirect) and response.status_code == redirect.code:
        target = urlsplit(redirect.new_url)
        response.set_data(b"")
        del response.headers["Content-Type"]
        response.headers["Location"] = target.path + (f"?{target.query}" if target.query else "")
    return response


def init_app(app):
    app.register_error_handler(Exception, handle_error)
