"""Prometheus metrics: ``GET /metrics`` and what the request hooks record.

Built on ``prometheus_client`` itself rather than prometheus-flask-exporter.
The exporter is a thin layer over the same client that registers its own
``before_request``/``after_request`` hooks and route, labels by endpoint or raw
path unless told otherwise, and under gunicorn expects its own multiprocess
class (or a second HTTP server on another port). Here recording has to happen at
one stated place in ``pipeline.py``'s order (after every hook that can change
the status), the route label must be the URL rule with one fixed label for
unmatched requests, ``/metrics`` needs a constant-time token check and a 404 when
off, and the multiprocess directory is managed by ``gunicorn.conf.py``. Done
directly that is a page of code and one dependency instead of two.

Under gunicorn every worker writes its values to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` (set by ``gunicorn.conf.py`` before the workers
start, which is what switches ``prometheus_client`` to multiprocess mode), and a
scrape adds all of them up, including the files of dead workers, so no count
is lost when a worker dies. Gauges say how to combine workers: ``livesum`` for
the pool gauges (dead workers' files are dropped by ``child_exit``) and
``livemax`` for ``app_info``. Without that variable (``flask run``, tests)
the process's own registry is served.

Recording costs a dictionary lookup and two lock-protected additions per
request (a few microseconds); a scrape only reads the values.
"""

import glob
import hmac
import logging
import os
import threading
import time

from flask import current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from config import VERSION
from errors import Unauthenticated
from extensions import db
from models.base import utcnow
from models.mail_outbox import OutboxMail

log = logging.getLogger("api.metrics")

METRICS_PATH = "/metrics"
# Every request that matched no URL rule (404, 405, a malformed id) shares this
# label, so a scan of random paths cannot create new series.
UNMATCHED = "<unmatched>"
# Methods outside this set (anything a client can type) are counted as OTHER.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: an API answers in milliseconds; the top buckets catch stalls before
# GUNICORN_TIMEOUT (30 s by default) kills the worker.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# ``*_created`` series double the series count and no dashboard here reads them.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "http_requests",  # exposed as http_requests_total
    "HTTP requests answered, by method, URL rule and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the first request hook to the response, by method and URL rule.",
    ["method", "route"],
    buckets=DURATION_BUCKETS,
)
APP_INFO = Gauge(
    "app_info",
    "The version the live workers run (value always 1).",
    ["version"],
    multiprocess_mode="livemax",
)
RATE_LIMITED = Counter(
    "http_rate_limited_requests",
    "Requests refused with 429 by a rate limit, by URL rule.",
    ["route"],
)
AUTH_FAILURES = Counter(
    "authentication_failures",
    "Credentials the service refused (bad token, failed login), by reason.",
    ["reason"],
)
IDEMPOTENT_REPLAYS = Counter(
    "idempotent_replays",
    "Responses replayed for a repeated Idempotency-Key instead of running the request again.",
)
DB_POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "Database connections checked out of the pool now, summed over live workers.",
    multiprocess_mode="livesum",
)
DB_POOL_OVERFLOW = Gauge(
    "db_pool_overflow_connections",
    "Connections in use beyond DB_POOL_SIZE (up to DB_MAX_OVERFLOW per worker), "
    "summed over live workers.",
    multiprocess_mode="livesum",
)


MAIL_SENT = Counter(
    "mail_sent",  # exposed as mail_sent_total
    "Rows of the mail outbox handled by a sender, by result: sent, dropped (a reset for "
    "no active account), refused (by the mail server for good, e.g. no such mailbox), "
    "failed (retried later), given_up.",
    ["result"],
)


def count_idempotent_replay():
    """Count one replayed response; for the Idempotency-Key code to call."""
    IDEMPOTENT_REPLAYS.inc()


def count_mail(result):
    """Count one outbox row handled by a sender; for services/mail_outbox.py to call."""
    MAIL_SENT.labels(result).inc()


class MailOutboxCollector:
    """``mail_outbox_pending`` and ``mail_outbox_oldest_pending_seconds``, read from
    the database when scraped.

    The outbox is one table for the whole service, so every instance reports the
    same values (aggregate them with ``max``, not ``sum``). A database that cannot
    be read leaves the two series out of that scrape rather than failing it.
    """

    def collect(self):
        try:
            # A connection of its own, handed back at once: the scrape's session
            # stays untouched and no connection stays checked out after it.
            with db.engine.connect() as connection:
                pending, oldest = connection.execute(
                    select(func.count(), func.min(OutboxMail.created_at))
                ).one()
        except SQLAlchemyError as exc:
            log.warning("mail outbox metrics not read", extra={"error": type(exc).__name__})
            return
        age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "mail_outbox_pending", "Mail in the outbox not sent yet (whole service).", pending
        )
        yield GaugeMetricFamily(
            "mail_outbox_oldest_pending_seconds",
            "Age of the oldest mail in the outbox not sent yet; 0 when there is none.",
            age,
        )


def init_app(app):
    """Serve ``GET /metrics`` when METRICS_ENABLED; ``pipeline`` registers
    ``record_request`` then.

    Off, nothing is registered: ``/metrics`` is the usual 404 and requests
    record nothing.
    """
    if not app.config["METRICS_ENABLED"]:
        return
    APP_INFO.labels(version=VERSION).set(1)
    app.add_url_rule(METRICS_PATH, "metrics", metrics_view, methods=["GET"])


# (method, route, status) -> that request counter and duration histogram, so the
# hot path skips the client's label validation; as bounded as the series are.
_series = {}


def _series_for(method, route, status):
    key = (method, route, status)
    found = _series.get(key)
    if found is None:
        found = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_DURATION.labels(method, route),
        )
        _series[key] = found  # a race only stores the same children twice
    return found


def record_request(response, req, ctx_g):
    """Count the request and time it (a step after the view, see pipeline.py)."""
    started = ctx_g.get("started_at")
    rule = req.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    method = req.method
    if method not in METHODS:
        method = "OTHER"
    status = response.status_code
    requests, duration = _series_for(method, route, status)
    requests.inc()
    if started is not None:
        duration.observe(time.perf_counter() - started)
    if status == 429:
        RATE_LIMITED.labels(route).inc()
    reason = ctx_g.get("auth_failure")
    if reason:
        AUTH_FAILURES.labels(reason).inc()
    return response


def _authorized():
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        return True
    scheme, _, sent = request.headers.get("Authorization", "").strip().partition(" ")
    # Compared in constant time, so the time taken tells nothing about the token.
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


def metrics_view():
    """The Prometheus text exposition, every worker of the instance added up."""
    if not _authorized():
        g.auth_failure = "metrics_token"
        raise Unauthenticated("Send the metrics token as 'Authorization: Bearer <token>'.")
    directory = current_app.config["PROMETHEUS_MULTIPROC_DIR"]
    if directory:
        registry = CollectorRegistry()
        _WorkerFilesCollector(registry, directory)
    else:
        registry = REGISTRY
    # Read from the database now, by whichever process answers: a registry of its
    # own per scrape, as the series belong to no process.
    from_database = CollectorRegistry()
    from_database.register(MailOutboxCollector())
    body = generate_latest(registry) + generate_latest(from_database)
    return current_app.response_class(body, content_type=CONTENT_TYPE_LATEST)


class _WorkerFilesCollector(multiprocess.MultiProcessCollector):
    """prometheus_client's collector, minus the files a worker is creating right now.

    A worker creates its file empty and then sizes it; a scrape that reads it in
    between fails to parse it (``struct.error``), which would answer the scrape
    500. An empty file holds no values yet, so leaving it out loses nothing.
    """

    def __init__(self, registry, path):
        # Kept here: the base class's own copy of the directory is private.
        self.directory = path
        super().__init__(registry, path)

    def collect(self):
        pattern = os.path.join(self.directory, "*.db")
        files = [path for path in glob.glob(pattern) if _has_data(path)]
        return self.merge(files, accumulate=True)


def _has_data(path):
    try:
        return os.path.getsize(path) > 0
    except OSError:  # gone since the glob (a dead worker's live gauge): nothing to read
        return False


def watch_pool(engine):
    """Keep the pool gauges current from the engine's checkout/checkin events.

    Each worker counts its own checkouts (gauges are per process, added up at
    scrape time), so the numbers are right under gunicorn without any worker
    reading another's pool. Overflow is what is in use beyond the pool size:
    QueuePool closes such connections as they come back.
    """
    pool = engine.pool
    size = pool.size() if isinstance(pool, QueuePool) else None
    state = {"in_use": 0}
    lock = threading.Lock()

    def change(delta):
        with lock:
            before = state["in_use"]
            state["in_use"] = after = before + delta
        DB_POOL_IN_USE.inc(delta)
        if size is not None:
            overflow = max(0, after - size) - max(0, before - size)
            if overflow:
                DB_POOL_OVERFLOW.inc(overflow)

    event.listen(engine, "checkout", lambda *_: change(1))
    event.listen(engine, "checkin", lambda *_: change(-1))
