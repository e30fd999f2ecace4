"""Rate limits: the Flask-Limiter extension, its key, and the named route limits.

Flask-Limiter reads ``RATELIMIT_ENABLED`` and ``RATELIMIT_STORAGE_URI`` from
``app.config`` under the same names ``config.py`` parses them into. The limits
themselves are callables reading ``current_app.config`` at request time, so the
one module-level ``limiter`` follows whichever app serves the request.

- Every ``/api`` route has the default limit (``RATELIMIT_DEFAULT``); routes with
  a named limit below have only that one. Other paths (``/healthz``, ``/readyz``)
  and CORS preflights are never limited.
- The key is ``user:<id>`` for a request with a valid token, else the client
  address (which ProxyFix has taken from ``X-Forwarded-For`` when, and only when,
  ``TRUSTED_PROXIES`` says so).
- Fail open: when the storage cannot be reached, Flask-Limiter logs a warning and
  counts in this process's memory until the storage answers again (it re-checks
  with a growing back-off), so requests keep being served and still limited per
  process; any other limiter error is logged and the request is served.
"""

import logging
import math
import time

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from web.auth import current_user

log = logging.getLogger("api.rate_limits")

# A down Redis must cost a request milliseconds, not the client library's defaults.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def _setting(name):
    return lambda: current_app.config[name]


def rate_limit_key():
    """``user:<id>`` for a valid token, else the client address.

    ``current_user()`` is memoized per request, so the view's own authentication
    reuses it. A database error here is not the limiter's storage failing: count
    by address and let the view meet (and report) the database error itself.
    """
    try:
        user = current_user()
    except SQLAlchemyError:
        db.session.rollback()
        user = None
    return f"user:{user.id}" if user else get_remote_address()


limiter = Limiter(
    key_func=rate_limit_key,
    default_limits=[_setting("RATELIMIT_DEFAULT")],
    strategy="fixed-window",
    in_memory_fallback_enabled=True,
    swallow_errors=True,
    # Headers are written by ``_rate_limit_headers`` below, in the contract's form.
    headers_enabled=False,
)

# The stricter limits, one decorator per setting. Login counts every attempt,
# failed ones included, per client address: a token says nothing there.
login_limit = limiter.limit(_setting("RATELIMIT_LOGIN"), key_func=get_remote_address)
register_limit = limiter.limit(_setting("RATELIMIT_REGISTER"))
feedback_limit = limiter.limit(_setting("RATELIMIT_FEEDBACK"))


@limiter.request_filter
def _not_limited():
    """Requests no limit applies to: a disabled app, preflights, paths outside /api."""
    return (
        not current_app.config["RATELIMIT_ENABLED"]
        or request.method == "OPTIONS"
        or not (request.path == "/api" or request.path.startswith("/api/"))
    )


def _rate_limit_headers(response):
    """``RateLimit-*`` on every limited response and ``Retry-After`` on a 429.

    Flask-Limiter's own headers give the reset as an epoch timestamp (rounded
    up by a second); the contract wants seconds until the window resets, so they
    are written here from the window itself.
    """
    current = limiter.current_limit
    if current is None:
        return response
    try:
        resets_at, remaining = current.window  # one storage read: (epoch, remaining)
    except Exception:  # storage unreachable: the request was served, skip the headers
        log.warning("rate limit storage unreachable; RateLimit headers left out")
        return response
    seconds = max(0, math.ceil(resets_at - time.time()))
    response.headers["RateLimit-Limit"] = str(current.limit.amount)
    response.headers["RateLimit-Remaining"] = str(remaining)
    response.headers["RateLimit-Reset"] = str(seconds)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, seconds))
    return response


def init_app(app):
    """Attach the limiter to ``app`` unless rate limiting is switched off.

    A disabled app leaves the shared ``limiter`` untouched (Flask-Limiter keeps
    its state on the object, not per app), and ``_not_limited`` keeps the route
    decorators from counting for it.
    """
    if not app.config["RATELIMIT_ENABLED"]:
        return
    if app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", REDIS_TIMEOUTS)
    limiter.init_app(app)
    app.after_request(_rate_limit_headers)
