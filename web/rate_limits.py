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
- Failed attempts that are no request of their own (a wrong ``current_password``
  when changing one's password) are counted by ``FailedAttempts``: only the
  failures count, per user, at ``RATELIMIT_LOGIN``, in the same storage.
- Fail open: when the storage cannot be reached, Flask-Limiter logs a warning and
  counts in this process's memory until the storage answers again (it re-checks
  with a growing back-off), so requests keep being served and still limited per
  process; any other limiter error is logged and the request is served.
"""

import logging
import math
import time
from collections import defaultdict

from flask import current_app, g, request
from flask.globals import request_ctx
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from flask_limiter._extension import LimiterContext
from flask_limiter.util import get_qualified_name, get_remote_address
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from limits.util import WindowStats
from sqlalchemy.exc import SQLAlchemyError

from errors import RateLimited
from extensions import db
from web.auth import current_user

log = logging.getLogger("api.rate_limits")

# A down Redis must cost a request milliseconds, not the client library's defaults.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


class _MemoryStorage(MemoryStorage):
    """``memory://`` as limits has it, minus a thread per request or so.

    limits' memory storage starts a ``threading.Timer`` (a new thread) on a
    counter increment whenever the previous timer, armed for 10 ms, has fired:
    under load that is one thread start per request or two, the largest single
    cost of a limited request. Here the same sweep of expired counters runs
    inline, at most once a second; an expired counter is never read anyway
    (``get`` checks the expiry), the sweep only frees its memory.

    Registering the class under the ``memory`` scheme (limits' documented way
    to add a storage) makes every ``memory://`` storage this one.
    """

    STORAGE_SCHEME = ["memory"]
    SWEEP_INTERVAL = 1.0  # seconds

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()
        self._next_sweep = time.monotonic() + self.SWEEP_INTERVAL

    def __setstate__(self, state):
        super().__setstate__(state)
        self.timer.cancel()

    def _MemoryStorage__schedule_expiry(self):  # replaces the base class's private hook
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_INTERVAL
            self._MemoryStorage__expire_events()


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


class _Limiter(Limiter):
    """Flask-Limiter, with this service's limits checked without its general machinery.

    For each request Flask-Limiter works out afresh which limits apply (route
    and blueprint exemptions, decorated, default, application and meta limits),
    parses the limit strings and builds its runtime objects: as much time as
    the request's own database query. This service has one default limit and a
    few named ones, each a plain "N per period" with a key function, so the
    answer per route never changes: the default limit, or the route's named
    limits, scoped by endpoint. ``_check_request_limit`` counts exactly those,
    parsed once per app, in the same storage under the same keys, with the same
    breach and header bookkeeping (``current_limit``), and one storage read
    less for the headers (``_hit``). Anything else goes to Flask-Limiter as
    before: a limit with options this fast path does not handle, every request
    while the storage is down, and a request whose count failed on the storage
    (Flask-Limiter then falls back to counting in memory).
    """

    @property
    def context(self):
        """Flask-Limiter's state for this request, kept where Flask-Limiter keeps it.

        Read several times per request; Flask-Limiter's own property looks the
        request context up through its proxy three times on each read.
        """
        ctx = request_ctx._get_current_object()
        contexts = ctx.__dict__.get("_limiter_request_context")
        if contexts is None:
            contexts = ctx._limiter_request_context = defaultdict(LimiterContext)
        return contexts[self]

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        if self._storage_dead or not (self.enabled and self.initialized):
            return super()._check_request_limit(callable_name, in_middleware)
        endpoint = request.endpoint
        if not endpoint or endpoint.rpartition(".")[2] == "static" or _not_limited():
            return None
        if in_middleware:
            view = current_app.view_functions.get(endpoint)
            if view is None or get_qualified_name(view) in self._marked_for_limiting:
                return None  # no route, or a named limit: the route's decorator counts it
        limits = self._limits_for(callable_name if not in_middleware else None)
        if limits is None:
            return super()._check_request_limit(callable_name, in_middleware)
        try:
            self._count(endpoint, limits)
        except RateLimitExceeded:
            raise
        except Exception:  # the storage failed: let Flask-Limiter fall back to memory
            self.context.reset()
            return super()._check_request_limit(callable_name, in_middleware)
        return None

    def _limits_for(self, callable_name):
        """The default limits (``None``) or a decorated view's, parsed once per app,
        smallest window first; ``None`` when one needs Flask-Limiter's full path."""
        parsed = current_app.extensions.setdefault("rate_limits", {})
        if callable_name not in parsed:
            manager = self.limit_manager
            found = (
                manager.default_limits
                if callable_name is None
                else manager.decorated_limits(callable_name)
            )
            simple = all(
                not (lim.per_method or lim.methods or lim.exempt_when or lim.deduct_when)
                and not lim.meta_limits
                and lim.cost == 1
                and (callable_name is None or lim.override_defaults)
                for lim in found
            )
            parsed[callable_name] = sorted(found, key=lambda lim: lim.limit) if simple else None
        return parsed[callable_name]

    def _count(self, endpoint, limits):
        checked = []
        for runtime_limit in limits:
            key = runtime_limit.key_func()
            args = [key, endpoint]
            if self._key_prefix:
                args = [self._key_prefix, *args]
            allowed, window = self._hit(runtime_limit.limit, args)
            request_limit = RequestLimit(self, runtime_limit.limit, args, not allowed, False)
            request_limit._window = window  # the headers need no second storage read
            checked.append(request_limit)
            if not allowed:
                context = self.context
                context.view_rate_limit = request_limit
                context.view_rate_limits = checked
                self.logger.info(
                    "ratelimit %s (%s) exceeded at endpoint: %s", runtime_limit.limit, key, endpoint
                )
                raise RateLimitExceeded(runtime_limit)
        if checked:
            context = self.context
            context.view_rate_limit = checked[0]
            context.view_rate_limits = checked

    def _hit(self, item, args):
        """Count one request against ``item``: (allowed, window or None).

        For the fixed window the counter's new value gives the remaining count
        at once, so ``RateLimit-*`` cost one expiry read instead of two reads.
        """
        limiter = self.limiter
        if type(limiter) is not FixedWindowRateLimiter:
            return limiter.hit(item, *args), None
        key = item.key_for(*args)
        count = limiter.storage.incr(key, item.get_expiry())
        window = WindowStats(limiter.storage.get_expiry(key), max(0, item.amount - count))
        return count <= item.amount, window


limiter = _Limiter(
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
# Password reset requests mail someone: per client address, like login.
password_reset_limit = limiter.limit(
    _setting("RATELIMIT_PASSWORD_RESET"), key_func=get_remote_address
)
feedback_limit = limiter.limit(_setting("RATELIMIT_FEEDBACK"))


class FailedAttempts:
    """Failed attempts of one kind, counted per key at the rate a setting names.

    A route limit counts requests; this counts only failures, where the view
    says one happened (``deduct_when`` could not: the failure is known inside the
    view, and only some requests to the route make an attempt at all)::

        CURRENT_PASSWORD = FailedAttempts("RATELIMIT_LOGIN", "current_password")
        CURRENT_PASSWORD.check(key)      # 429 once this window's failures are used up
        if wrong:
            CURRENT_PASSWORD.failed(key)  # count one

    Both report this limit in the response's ``RateLimit-*`` headers (and a 429's
    ``Retry-After``) instead of the route's. The counters live in Flask-Limiter's
    storage (``limiter.limiter``, Redis when configured), so every process and
    instance shares them; a storage error lets the attempt through, logged.
    """

    def __init__(self, setting, scope):
        self.setting = setting
        self.scope = scope

    def _limits(self):
        if not current_app.config["RATELIMIT_ENABLED"]:
            return []
        return sorted(parse_many(current_app.config[self.setting]))

    def check(self, key):
        for item in self._limits():
            try:
                allowed = limiter.limiter.test(item, key, self.scope)
            except Exception:
                log.warning("rate limit storage unreachable; %s attempt not limited", self.scope)
                return
            self._report(item, key, breached=not allowed)
            if not allowed:
                raise RateLimited(
                    f"Too many failed attempts (limit: {item}); "
                    "retry after the number of seconds in Retry-After."
                )

    def failed(self, key):
        for item in reversed(self._limits()):  # the shortest window is reported last
            try:
                limiter.limiter.hit(item, key, self.scope)
            except Exception:
                log.warning("rate limit storage unreachable; %s failure not counted", self.scope)
                return
            self._report(item, key, breached=False)

    def _report(self, item, key, *, breached):
        g.reported_rate_limit = RequestLimit(limiter, item, [key, self.scope], breached, False)


# Changing one's own password proves the caller knows the current one: a stolen
# access token must not guess it faster than login allows.
current_password_attempts = FailedAttempts("RATELIMIT_LOGIN", "current_password")


@limiter.request_filter
def _not_limited():
    """Requests no limit applies to: a disabled app, preflights, paths outside /api."""
    if not current_app.config["RATELIMIT_ENABLED"] or request.method == "OPTIONS":
        return True
    path = request.path
    return not (path == "/api" or path.startswith("/api/"))


def _rate_limit_headers(response):
    """``RateLimit-*`` on every limited response and ``Retry-After`` on a 429.

    Flask-Limiter's own headers give the reset as an epoch timestamp (rounded
    up by a second); the contract wants seconds until the window resets, so they
    are written here from the window itself.
    """
    current = g.get("reported_rate_limit") or limiter.current_limit
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


class _StorageRecoveryAsWarning(logging.Filter):
    """Flask-Limiter logs "Rate limit storage recovered" at INFO, but "storage
    unreachable" at WARNING: with ``LOG_LEVEL=WARNING`` operators would learn that
    Redis went away and never that it came back. This filter, on Flask-Limiter's
    own logger, raises that one record to WARNING and applies ``LOG_LEVEL`` to the
    rest (the logger itself lets INFO through to reach the filter)."""

    MESSAGE = "Rate limit storage recovered"

    def __init__(self, level):
        super().__init__()
        self.level = logging.getLevelName(level) if isinstance(level, str) else level

    def filter(self, record):
        if record.getMessage() == self.MESSAGE and record.levelno < logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return record.levelno >= self.level


def _log_storage_recovery_as_warning(level):
    flask_limiter_log = logging.getLogger("flask-limiter")
    for old in [f for f in flask_limiter_log.filters if isinstance(f, _StorageRecoveryAsWarning)]:
        flask_limiter_log.removeFilter(old)
    recovery = _StorageRecoveryAsWarning(level)
    flask_limiter_log.addFilter(recovery)
    flask_limiter_log.setLevel(min(recovery.level, logging.INFO))


def init_app(app):
    """Attach the limiter to ``app`` unless rate limiting is switched off.

    A disabled app leaves the shared ``limiter`` untouched (Flask-Limiter keeps
    its state on the object, not per app), and ``_not_limited`` keeps the route
    decorators from counting for it.
    """
    _log_storage_recovery_as_warning(app.config["LOG_LEVEL"])
    if not app.config["RATELIMIT_ENABLED"]:
        return
    if app.config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", REDIS_TIMEOUTS)
    limiter.init_app(app)
    app.after_request(_rate_limit_headers)
