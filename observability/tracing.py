"""OpenTelemetry traces over OTLP/HTTP, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

This module imports the OpenTelemetry SDK, so it is itself imported only when
that setting is set (by ``pipeline.py`` and ``gunicorn.conf.py``): otherwise no
OpenTelemetry module is loaded and nothing is started.

- One tracer provider per process, created after the fork: gunicorn's
  ``post_fork`` calls ``start`` in each worker, never in the master, so the
  batch processor's thread and the exporter's connections belong to the worker
  that uses them. Under ``flask run`` and in tests ``init_app`` starts it when
  the app is created.
- Flask's instrumentation makes a server span per request and continues an
  incoming W3C ``traceparent``; ``instrument_engine`` makes a child span per statement
  (``db.statement`` is the SQL with its placeholders, never the values).
  ``/healthz``, ``/readyz`` and ``/metrics`` are not traced, and a span that
  belongs to no request (a probe's ``SELECT 1``, a CLI command) is not sampled.
- The request's log line carries the server span's ``trace_id`` and ``span_id``
  (``g.trace_id``/``g.span_id``, read by ``request_log``); the span carries the
  route, the status and ``enduser.id``.
- What the instrumentations would otherwise export and must not is removed by
  ``SanitizingExporter`` just before spans leave the process: query strings
  (``http.target``, ``http.url``, ``url.query``), captured ``Authorization`` or
  cookie headers, SQL parameter attributes, error descriptions and exception
  messages (a database error quotes the offending value), and email addresses
  in any remaining value.
"""

import re
import threading
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event

from config import VERSION
from emails import IN_TEXT as EMAIL

# Matched against the full request URL; one pattern (the list is comma-separated).
EXCLUDED_URLS = r"^[a-z][a-z0-9+.-]*://[^/?#]+/(?:healthz|readyz|metrics)/?(?:[?#]|$)"

_DROPPED = frozenset({"url.query", "db.statement.parameters"})
_DROPPED_PREFIXES = ("db.query.parameter.", "db.operation.parameter.")
_SECRET_HEADER = re.compile(
    r"\.header\.(?:authorization|proxy[-_]authorization|cookie|set[-_]cookie|x[-_]api[-_]key)$",
    re.IGNORECASE,
)
_URLS = frozenset({"http.url", "url.full"})

_providers = {}
SPANS_KEY = "tracing.statement_spans"  # in Connection.info: the open statement spans
_lock = threading.Lock()


class _RequestsOnly(Sampler):
    """Start a trace only for a request: a root span of any other kind is dropped."""

    def should_sample(
        self,
        parent_context,
        trace_id,
        name,
        kind=None,
        attributes=None,
        links=None,
        trace_state=None,
    ):
        sampler = ALWAYS_ON if kind is SpanKind.SERVER else ALWAYS_OFF
        return sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self):
        return "RequestsOnly"


def traces_url(settings):
    """Where spans are sent: the standard ``<endpoint>/v1/traces`` unless the
    signal-specific ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` names another URL."""
    endpoint = settings["OTEL_EXPORTER_OTLP_ENDPOINT"]
    return settings["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] or f"{endpoint}/v1/traces"


def start(settings):
    """The process's tracer provider for the settings' endpoint, created on first use.

    ``settings`` is ``app.config`` or config.load_settings' answer. Called by
    gunicorn's ``post_fork`` in each worker and again, finding it, by
    ``init_app``; the first one created is also the global provider.
    """
    service_name, environment = settings["OTEL_SERVICE_NAME"], settings["APP_ENV"]
    key = (traces_url(settings), service_name)
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            resource = Resource.create(
                {
                    "service.name": service_name,
                    "service.version": VERSION,
                    "deployment.environment": environment,
                }
            )
            provider = TracerProvider(resource=resource, sampler=ParentBased(_RequestsOnly()))
            exporter = SanitizingExporter(OTLPSpanExporter(endpoint=key[0]))
            provider.add_span_processor(BatchSpanProcessor(exporter))
            if not _providers:
                trace.set_tracer_provider(provider)
            _providers[key] = provider
    return provider


def init_app(app):
    """Trace the app's requests: OpenTelemetry's Flask instrumentation wraps the
    WSGI app and registers its own hooks; ``pipeline`` calls this first, so the
    span covers every later step, and lists ``remember_trace_ids`` and
    ``annotate_span``."""
    provider = start(app.config)
    app.extensions["tracing"] = provider
    excluded = ",".join(
        filter(None, [EXCLUDED_URLS, app.config["OTEL_PYTHON_FLASK_EXCLUDED_URLS"]])
    )
    FlaskInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=excluded, enable_commenter=False
    )


def instrument_engine(app, engine):
    """A child span for every SQL statement ``engine`` runs.

    A few lines on SQLAlchemy's public cursor events and OpenTelemetry's public
    tracer API, instead of opentelemetry-instrumentation-sqlalchemy: that package
    declares SQLAlchemy < 2.1 (the pinned one is 2.1), and its instrumentor
    patches ``create_engine`` process-wide. The span is named after the
    statement's verb and carries the statement with its placeholders
    (``db.statement``), never its parameters; a failing statement's span is
    marked as an error without the driver's message.
    """
    tracer = app.extensions["tracing"].get_tracer(__name__, VERSION)
    system = engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def start_statement_span(conn, _cursor, statement, _parameters, _context, _executemany):
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            f"{verb} {system}",
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.statement": statement},
        )
        conn.info.setdefault(SPANS_KEY, []).append(span)

    @event.listens_for(engine, "after_cursor_execute")
    def end_statement_span(conn, *_):
        spans = conn.info.get(SPANS_KEY)
        if spans:
            spans.pop().end()

    @event.listens_for(engine, "handle_error")
    def fail_statement_span(context):
        connection = context.connection
        spans = connection.info.get(SPANS_KEY) if connection is not None else None
        if spans:
            span = spans.pop()
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", type(context.original_exception).__name__)
            span.end()


def remember_trace_ids(req, ctx_g):
    """Keep the server span's ids on ``g`` for the request's log lines."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        ctx_g.trace_id = format(context.trace_id, "032x")
        ctx_g.span_id = format(context.span_id, "016x")


def annotate_span(response, req, ctx_g):
    """Name the caller on the server span (its id, never a token or an email)."""
    span = trace.get_current_span()
    authentication = ctx_g.get("authentication")
    if span.is_recording() and authentication is not None and authentication.user_id:
        span.set_attribute("enduser.id", str(authentication.user_id))
    return response


def _clean_value(key, value):
    if key == "http.target" and isinstance(value, str):
        value = value.split("?", 1)[0]
    elif key in _URLS and isinstance(value, str):
        parts = urlsplit(value)
        value = urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))
    if isinstance(value, str):
        return EMAIL.sub("[email]", value)
    if isinstance(value, tuple | list):
        return tuple(EMAIL.sub("[email]", v) if isinstance(v, str) else v for v in value)
    return value


def clean_attributes(attributes):
    """The attributes that may leave the process, with query strings and emails removed."""
    return {
        key: _clean_value(key, value)
        for key, value in (attributes or {}).items()
        if key not in _DROPPED
        and not key.startswith(_DROPPED_PREFIXES)
        and not _SECRET_HEADER.search(key)
    }


def _clean_event(event):
    attributes = event.attributes or {}
    if event.name == "exception":  # the message and the traceback's last line quote values
        attributes = {k: v for k, v in attributes.items() if k == "exception.type"}
    return Event(event.name, clean_attributes(attributes), event.timestamp)


def clean_span(span):
    """A copy of ``span`` with only what may leave the process."""
    return ReadableSpan(
        name=EMAIL.sub("[email]", span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=clean_attributes(span.attributes),
        events=tuple(_clean_event(event) for event in span.events),
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),  # without the description
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class SanitizingExporter(SpanExporter):
    """Cleans every span (``clean_span``) before handing it to the real exporter."""

    def __init__(self, exporter):
        self._exporter = exporter

    def export(self, spans):
        return self._exporter.export([clean_span(span) for span in spans])

    def shutdown(self):
        self._exporter.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self._exporter.force_flush(timeout_millis)
