"""The parts of the document that are the same for every operation: the headers
responses carry, conditional-request parameters and the bearer security scheme.
Operations refer to these by name.
"""

from web.request_log import REQUEST_ID_PATTERN

OPENAPI_VERSION = "3.1.0"
BEARER = "bearerAuth"
JSON = "application/json"
# URL converter name -> the JSON schema of that path parameter. ``id`` answers
# 400 INVALID_ID for anything but a positive integer (and 404 past any row).
PATH_PARAMETER_SCHEMAS = {
    "id": {"type": "integer", "minimum": 1},
    "int": {"type": "integer", "minimum": 0},
    "default": {"type": "string"},
}

# Response headers, as components; operations refer to them by name.
HEADERS = {
    "X-Request-ID": {
        "description": "The request's id: the one sent, when well formed, or a new one.",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{REQUEST_ID_PATTERN.pattern}$"},
    },
    "X-Content-Type-Options": {
        "required": True,
        "schema": {"type": "string", "const": "nosniff"},
    },
    "Cache-Control": {
        "description": "Private data and errors are never stored by caches.",
        "required": True,
        "schema": {"type": "string", "const": "no-store"},
    },
    "RateLimit-Limit": {
        "description": "Requests allowed in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window resets.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "required": True,
        "schema": {"type": "string", "pattern": "^Bearer"},
    },
    "Location": {
        "description": "The URL of the created resource (201), or where a redirect leads (308).",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "ETag": {
        "description": "The representation's entity tag, for `If-None-Match` / `If-Match`.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "Sent (`true`) when this is the stored response of an earlier request "
        "with the same `Idempotency-Key`, sent again; nothing was changed this time.",
        "required": True,
        "schema": {"type": "string", "const": "true"},
    },
    "Link": {
        "description": "RFC 8288 links to the first, previous, next and last pages "
        "(cursor pages: first and next); the same URLs as the body's `links`.",
        "required": True,
        "schema": {"type": "string", "pattern": '^<[^>]*>; rel="(first|prev|next|last)"'},
    },
    "Content-Disposition": {
        "description": "A file to save rather than show, and its suggested name.",
        "required": True,
        "schema": {"type": "string", "pattern": "^attachment"},
    },
}
# Request headers of conditional requests, as parameters.
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "ETags the client holds; 304 with no body when one is current.",
    "schema": {"type": "string"},
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "A key of your choice (a random UUID) that makes retrying this request "
    "safe: the same key with the same body gets the first success again, with "
    "`Idempotent-Replayed: true`, and creates nothing more (for `IDEMPOTENCY_TTL` seconds, "
    "default a day). Keys are the caller's own: the user of the token, else the client "
    "address. 409 while a request with the key is still running; 422 when the key was used "
    "for a different request. Failed requests store nothing.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
EVERY_RESPONSE_HEADERS = ("X-Request-ID", "X-Content-Type-Options")
RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
HEADERS_BY_ERROR_STATUS = {401: ("WWW-Authenticate",), 429: ("Retry-After",)}

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An access token from `POST /api/auth/login`.",
}


def if_match_parameter(resource):
    """The ``If-Match`` request header of a conditional write to ``resource``."""
    return {
        "in": "header",
        "name": "If-Match",
        "required": False,
        "description": f"The ETag the change is based on (or `*`); 412 when the {resource} has "
        "changed since. Without it the write goes ahead.",
        "schema": {"type": "string"},
    }
