"""Cross-origin access for the browser clients listed in ``ALLOWED_ORIGINS``.

flask-cors does the matching and writes the ``Access-Control-*`` headers, on
error responses too (it wraps Flask's exception handlers). Two things it does not
do the way the contract asks are finished in ``answer_preflight``:

- a preflight is answered 204 (Flask's automatic OPTIONS answer is 200) and
  lists every allowed request header (flask-cors lists only the requested ones);
- ``Vary: Origin`` goes on every response, not only when several origins are
  configured, so a shared cache never hands one origin's answer to another.

With no ``ALLOWED_ORIGINS`` (the default) no CORS header is ever sent.
"""

from flask_cors import CORS

ALLOWED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
]
EXPOSED_HEADERS = [
    "ETag",
    "Idempotent-Replayed",
    "Link",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]
PREFLIGHT_MAX_AGE = 86400  # seconds a browser may cache a preflight answer


def answer_preflight(response, req, ctx_g):
    """An OPTIONS request is answered 204, and a CORS preflight that flask-cors
    allowed names the request headers a browser may send."""
    if req.method != "OPTIONS":
        return response
    # Any OPTIONS that reached Flask's automatic answer (200, empty body) is a
    # success with nothing to say.
    if response.status_code == 200:
        response.status_code = 204
        response.headers.pop("Content-Type", None)
    # A preflight first: werkzeug raises (and catches) a KeyError for a missing
    # header, and every response without CORS would pay for one here.
    is_preflight = "Access-Control-Request-Method" in req.headers
    if is_preflight and response.headers.get("Access-Control-Allow-Origin"):
        response.headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
    return response


def vary_on_origin(response, req, ctx_g):
    """``Vary: Origin`` on every response when origins are allowed (flask-cors adds
    it only to the responses it decorates)."""
    response.vary.add("Origin")
    return response


def install_flask_cors(app):
    """flask-cors registers its own ``after_request`` hook, at the point of the
    pipeline where this is called; it answers nothing without ``ALLOWED_ORIGINS``."""
    origins = app.config["ALLOWED_ORIGINS"]
    if not origins:
        return
    CORS(
        app,
        origins=origins,
        methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE,
        supports_credentials=False,  # bearer tokens only; there are no cookies
        always_send=False,  # no Origin header, no CORS headers
        vary_header=False,  # vary_on_origin adds it to every response instead
    )
