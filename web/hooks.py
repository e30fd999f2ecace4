"""``init_app(app)``: every request hook of the service, registered in one place.

Flask runs ``before_request`` functions in the order they are registered and
``after_request`` functions in the reverse order, so the order below is the
order of a request's life. Hooks marked (traces) or (metrics) exist only when
that part is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``METRICS_ENABLED``).

Before the view
  0. (traces) OpenTelemetry's Flask instrumentation starts the server span,
     continuing an incoming ``traceparent``; then ``tracing.remember_trace_ids``
     keeps its ids on ``g``. First, so the span covers every later hook (the
     rate limiter's token lookup is SQL too) and every log record names it.
  1. ``request_log.start_request``: start the clock, fix the request id, so
     every later hook, error and log record can name it.
  2. ``proxies.refuse_untrusted_host``: a ``Host`` not on ``TRUSTED_HOSTS``
     (replaced by a listed one before Flask saw it) is 400 INVALID_HOST.
  3. The rate limit check (``rate_limits.check_request``): a 429 costs no further work.
  4. ``validation.reject_undeclared_query``: query parameters the view does not
     declare are 400 before the view runs, so such a request changes nothing.
  4. (``MAIL_SENDER=thread``) ``mail_outbox``'s check that this process runs its
     mail sender thread, started at the first request (a gunicorn worker has
     started it already, when it loaded the app); last, as it answers nothing.

After the view (or the error handler), in this order
  1. ``errors.plain_redirect``: a routing redirect (merged slashes), which Flask
     answers without any error handler, loses Werkzeug's HTML body and gets a
     ``Location`` path; first, so every later hook sees the final answer.
  2. flask-cors's headers, ``Vary: Origin`` and the 204 preflight (``cors``).
  3. ``RateLimit-*`` and ``Retry-After`` (``rate_limits``).
  4. ``Cache-Control: no-store`` unless the view made its answer public
     (``http_cache.private_by_default``), and no ``Content-Type`` on a 204,
     which has no body (``http_cache.no_content_type_without_body``).
  5. ``X-Request-ID`` and ``nosniff`` (``request_log.identify_response``).
  6. (metrics) ``metrics.record_request`` counts and times the request, after
     every hook that can change the status, so it counts what the client gets.
  7. The request's log line (``request_log.log_request``), so it records the
     final status.
  8. (traces) ``tracing.annotate_span`` puts the caller's user id on the span,
     which ends after the response, when the request context is torn down.
These hooks also run for an answer made before any ``before_request`` hook ran
(an error while the URL was matched), so none of them relies on one.

At the end of the app context, ``extensions.remove_session`` (registered with
``db`` in ``extensions.init_db``) rolls back and returns the connection; a
failure there is logged and swallowed, never turned into the WSGI server's HTML
500.

Error reports (``SENTRY_DSN``) add no hook: ``errors.to_app_error`` reports each
500 where it is made (see ``web/error_reports.py``). The error handler itself is
registered by ``errors.init_app``; URL converters run while the URL is matched,
before any of these hooks; the ``Host`` is checked against ``TRUSTED_HOSTS``
before Flask sees the request (WSGI middleware, ``proxies.trust_hosts``).

``init_engine(app, engine)`` adds what works on the database engine rather than
on requests: the pool gauges (metrics) and a span per SQL statement (traces).

OpenTelemetry and Sentry are imported here only when configured, so a service
without them never loads either.

Not a hook, but registered here too: ``idempotency.init_app`` adds a guard on
the database session's commit (``before_commit``), so a claimed
``Idempotency-Key`` is only ever committed together with its stored response.
``Idempotency-Key`` itself is handled by the ``@idempotent`` decorator on each
create view, after the hooks above and the auth decorators, right before the
view: a replay is then answered only to a caller the view would accept, and
counts toward the rate limits like any request.

The cookie session is replaced by one that is never opened (``cookieless``):
the service sets no cookies, so Flask need not look for one on every request.

Not a hook, but set up here with them: the server-side cache of public reads
(``server_cache``). It runs inside the views that opt in (``@cached``), so
after every ``before_request`` step above (a request it answers has been
counted by the limiter and had its query string checked like any other) and
before every ``after_request`` step (it gets every header listed above).
"""

import errors
from services import mail_outbox
from web import cors, idempotency, metrics, rate_limits, server_cache
from web.cookieless import NoCookieSessions
from web.http_cache import no_content_type_without_body, private_by_default
from web.proxies import refuse_untrusted_host, trust_hosts, trust_proxies
from web.request_log import configure_logging, identify_response, log_request, start_request
from web.validation import IdConverter, reject_undeclared_query


def init_app(app):
    configure_logging(app.config["LOG_LEVEL"])
    trust_hosts(app)  # wraps the WSGI app before ProxyFix does: runs after it
    trust_proxies(app)
    app.url_map.converters["id"] = IdConverter
    app.session_interface = NoCookieSessions()

    if app.config["OTEL_EXPORTER_OTLP_ENDPOINT"]:
        from web import tracing  # loads OpenTelemetry: only when configured

        tracing.init_app(app)
    if app.config["SENTRY_DSN"]:
        from web import error_reports  # loads Sentry: only when configured

        error_reports.init_app(app)

    app.before_request(start_request)
    app.before_request(refuse_untrusted_host)
    app.after_request(log_request)
    metrics.init_app(app)
    app.after_request(identify_response)
    app.after_request(private_by_default)
    app.after_request(no_content_type_without_body)
    rate_limits.init_app(app)
    cors.init_app(app)
    app.before_request(reject_undeclared_query)
    mail_outbox.init_app(app)
    app.after_request(errors.plain_redirect)
    idempotency.init_app(app)
    server_cache.init_app(app)


def init_engine(app, engine):
    """Hooks on the database engine; ``create_app`` calls it once the engine exists."""
    if app.config["METRICS_ENABLED"]:
        metrics.watch_pool(engine)
    if "tracing" in app.extensions:
        from web import tracing  # already loaded by init_app

        tracing.instrument_engine(app, engine)
