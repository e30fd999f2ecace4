"""The request pipeline: every step a request passes through, in order, in one place.

``install(app)`` reads top to bottom in the order of a request's life. Extensions
set up their state in their own ``init_app`` and register no hook; the lists
below register them. Steps marked (traces), (metrics), (limits), (CORS) or (mail
thread) exist only when that part is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``METRICS_ENABLED``, ``RATELIMIT_ENABLED``, ``ALLOWED_ORIGINS``,
``MAIL_SENDER=thread``).

WSGI middlewares, outermost first
  (traces) OpenTelemetry's Flask instrumentation starts the server span,
  continuing an incoming ``traceparent``; first, so the span covers every later
  step (the rate limiter's token lookup is SQL too).
  ``ProxyFix`` sized by ``TRUSTED_PROXIES`` (``proxies.trust_proxies``).
  The ``Host`` lower-cased and checked against ``TRUSTED_HOSTS`` before Flask
  sees the request: a listed name replaces one that is not, and the request is
  marked for ``refuse_untrusted_host`` (``proxies.trust_hosts``).

While the URL is matched: the ``<id:...>`` converter (400 ``INVALID_ID``) and
Flask's own ``TRUSTED_HOSTS`` check (a second line that then never fires). The
cookie session is one that is never opened
(``cookieless``): the service sets no cookies.

Before the view: ``before_view``. Then the view, with its decorators (auth,
``@idempotent``, ``@cached``); any exception becomes problem details in
``errors.handle_error``. After the view (or the error handler): ``after_view``,
which also runs for an answer made before any ``before_view`` step ran (an error
while the URL was matched), so none of those steps relies on one. At the end of
the app context ``extensions.remove_session`` returns the connection (registered
with ``db`` in ``extensions.init_db``).

Every step is handed the request and its ``g``: a ``before_view`` step is called
as ``step(req, ctx_g)``, an ``after_view`` step as ``step(response, req, ctx_g)``
and returns the response. Each list runs as one Flask hook (``Steps``), which
looks both up once, from Flask's public context globals ``request_ctx.request``
and ``app_ctx.g`` (``flask.globals``). Read through the ``request`` and ``g``
proxies instead, each attribute would look the context up again, about 8,000
instructions a read: the steps made 13 such reads per request, and the own-user
read ran 5.9 % fewer instructions without them (bench/README.md, round 9). Views
read ``request`` and ``g`` as usual.

Not request steps, set up by ``init_app`` of their own: the guard on the database
session's commit that commits a claimed ``Idempotency-Key`` only together with its
stored response (``idempotency``), the server-side cache store
(``server_cache``), the limiter (``rate_limits``), ``GET /metrics`` and Sentry
(``error_reports``), which reports each 500 where ``errors.to_app_error`` makes it.
OpenTelemetry and Sentry are imported only when configured.
"""

from flask.globals import app_ctx, request_ctx

import errors
from features import idempotency, rate_limits, server_cache
from observability import metrics
from observability.request_log import (
    configure_logging,
    identify_response,
    log_request,
    start_request,
)
from plumbing import cors
from plumbing.cookieless import NoCookieSessions
from plumbing.http_cache import (
    answer_conditionally,
    no_content_type_without_body,
    private_by_default,
)
from plumbing.proxies import refuse_untrusted_host, trust_hosts, trust_proxies
from plumbing.validation import IdConverter
from services import mail_outbox


def before_view(app, tracing):
    """The steps before the view, in the order they run, each ``step(req, ctx_g)``.
    A step that needs the app's own state (the limiter, the mail sender) is made
    for ``app``."""
    config = app.config
    return [
        # (traces) keep the server span's ids on ``g`` for every later log record
        *([tracing.remember_trace_ids] if tracing else []),
        # start the clock and fix the request id: every later step, error and log
        # record can name it
        start_request,
        # a ``Host`` not on ``TRUSTED_HOSTS`` (replaced by a listed one before
        # Flask saw it) is 400 INVALID_HOST
        refuse_untrusted_host,
        # (limits) a 429 costs no further work
        *([rate_limits.request_check(app)] if config["RATELIMIT_ENABLED"] else []),
        # (mail thread) start this process's mail sender at its first request (a
        # gunicorn worker has started it already); last, as it answers nothing
        *([mail_outbox.sender_start(app)] if config["MAIL_SENDER"] == "thread" else []),
    ]


def after_view(config, tracing):
    """The steps after the view, in the order they run, each ``step(response, req,
    ctx_g)``. An entry that is not a step but an installer
    (``install_flask_cors``) is a library that registers its own ``after_request``
    hook, which runs at that point."""
    return [
        # a routing redirect (merged slashes), which Flask answers without any
        # error handler, loses Werkzeug's HTML body; first, so every later step
        # sees the final answer
        errors.plain_redirect,
        # a public answer (``public_response``) becomes 304 (412) when the
        # client's If-None-Match (If-Match) says so, after ``@cached`` kept it whole
        answer_conditionally,
        # (CORS) flask-cors's own hook, then Vary: Origin on every response
        *(
            [Installs(cors.install_flask_cors), cors.vary_on_origin]
            if config["ALLOWED_ORIGINS"]
            else []
        ),
        # the 204 preflight the contract asks for
        cors.answer_preflight,
        # (limits) RateLimit-* and Retry-After
        *([rate_limits.rate_limit_headers] if config["RATELIMIT_ENABLED"] else []),
        # no Content-Type on a 204, which has no body
        no_content_type_without_body,
        # Cache-Control: no-store unless the view made its answer public
        private_by_default,
        # X-Request-ID and nosniff
        identify_response,
        # (metrics) count and time the request after every step that can change
        # its status, so it counts what the client gets
        *([metrics.record_request] if config["METRICS_ENABLED"] else []),
        # the request's log line, so it records the final status
        log_request,
        # (traces) the caller's user id on the server span, which ends when the
        # request context is torn down
        *([tracing.annotate_span] if tracing else []),
    ]


class Installs:
    """An entry of ``after_view`` for a library that registers its own hook."""

    def __init__(self, install):
        self.install = install


def install(app):
    """Set up every extension's state, then the pipeline, in request order."""
    config = app.config
    configure_logging(config["LOG_LEVEL"])
    # Each middleware wraps the WSGI app made so far: the one installed last runs first.
    trust_hosts(app)
    trust_proxies(app)
    tracing = None
    if config["OTEL_EXPORTER_OTLP_ENDPOINT"]:
        from observability import tracing  # loads OpenTelemetry: only when configured

        tracing.init_app(app)  # also registers its own hooks, before every step below
    if config["SENTRY_DSN"]:
        from observability import error_reports  # loads Sentry: only when configured

        error_reports.init_app(app)
    app.url_map.converters["id"] = IdConverter
    app.session_interface = NoCookieSessions()

    metrics.init_app(app)
    rate_limits.init_app(app)
    mail_outbox.init_app(app)
    idempotency.init_app(app)
    server_cache.init_app(app)

    app.before_request(Steps(before_view(app, tracing)).before)
    # Flask runs ``after_request`` hooks in the reverse order of registration.
    for entry in reversed(_runs_and_installers(after_view(config, tracing))):
        if isinstance(entry, Installs):
            entry.install(app)
        else:
            app.after_request(Steps(entry).after)


class Steps:
    """A list of steps run as one Flask hook, each handed the request and its ``g``
    (looked up once, not through the proxies)."""

    def __init__(self, steps):
        self.steps = tuple(steps)

    def before(self):
        """The ``before_request`` hook: a step that answers ends the list, as a
        Flask hook that returns a response ends Flask's."""
        req, ctx_g = request_ctx.request, app_ctx.g
        for step in self.steps:
            answer = step(req, ctx_g)
            if answer is not None:
                return answer
        return None

    def after(self, response):
        """The ``after_request`` hook."""
        req, ctx_g = request_ctx.request, app_ctx.g
        for step in self.steps:
            response = step(response, req, ctx_g)
        return response


def _runs_and_installers(entries):
    """``entries`` with each run of plain steps gathered into a list: ``[a, b,
    Installs(x), c]`` becomes ``[[a, b], Installs(x), [c]]``."""
    grouped = []
    for entry in entries:
        if isinstance(entry, Installs):
            grouped.append(entry)
        elif grouped and not isinstance(grouped[-1], Installs):
            grouped[-1].append(entry)
        else:
            grouped.append([entry])
    return grouped


def install_engine(app, engine):
    """What works on the database engine rather than on requests; ``create_app``
    calls it once the engine exists: the pool gauges (metrics) and a span per SQL
    statement (traces)."""
    if app.config["METRICS_ENABLED"]:
        metrics.watch_pool(engine)
    if "tracing" in app.extensions:
        from observability import tracing  # already loaded by install

        tracing.instrument_engine(app, engine)
