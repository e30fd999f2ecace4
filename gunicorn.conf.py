"""Gunicorn settings: ``gunicorn 'app:create_app()'`` reads this file by itself.

Its environment variables (``GUNICORN_BIND``, ``PORT``, ``WEB_CONCURRENCY``,
``GUNICORN_WORKER_CLASS``, ``GUNICORN_THREADS``, ``GUNICORN_TIMEOUT``,
``PROMETHEUS_MULTIPROC_DIR``, ``GUNICORN_PIDFILE``) are declared, parsed and
checked with the service's own in ``config.SETTINGS``, and documented from there
(docs/configuration.md#gunicorn). Loopback by default, with a buffering reverse
proxy in front: with ``APP_ENV=production`` any other address logs a warning at
start (docs/topology.md says why). Why ``gthread``
workers: docs/performance.md (measured: reads, writes and exports on PostgreSQL
behind PgBouncer). A thread waiting on the database lets another request use the
CPU, and a long export no longer runs into ``GUNICORN_TIMEOUT``: a gthread
worker's main thread tells the master it is alive while requests run, so the
timeout only stops a worker that is truly stuck, not one streaming a big file.
When ``PROMETHEUS_MULTIPROC_DIR`` is unset, a new temporary folder is used and
removed when gunicorn exits.

Observability hooks (docs/operations.md): ``on_starting`` prepares the metrics
folder before any worker exists, ``child_exit`` tells the metrics a worker died
(its counters stay, its live gauges go), and ``post_fork`` starts tracing in
each worker, never in the master. ``post_worker_init`` starts each worker's mail
sender (services/mail_outbox.py) and reports the workers of a re-executed master
ready to the restart script.
"""

import gc
import ipaddress
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dotenv import dotenv_values
from flask.helpers import get_load_dotenv

from config import ConfigError, load_settings  # the app's own table and checks


def _load_settings():
    """The settings as the app will see them: the environment, else ``.env`` (as
    create_app reads it), checked by the app's own table.

    A bad value stops gunicorn here with one line naming the variable, before
    the master starts: each worker would otherwise fail to build the app with a
    traceback, and the master would stop only after logging every one of them.
    """
    root = Path(__file__).parent
    environ = dict(os.environ)
    if get_load_dotenv():  # the environment wins over .env
        environ = {**dotenv_values(root / ".env"), **environ}
    try:
        return load_settings(environ, str(root / "instance"))
    except ConfigError as error:
        sys.exit(f"Error: {error}")


settings = _load_settings()

bind = settings["GUNICORN_BIND"]
workers = settings["WEB_CONCURRENCY"]
worker_class = settings["GUNICORN_WORKER_CLASS"]
# Only gthread has threads: gunicorn would turn a sync worker with more than one
# into gthread, so GUNICORN_WORKER_CLASS=sync would not mean sync.
threads = settings["GUNICORN_THREADS"] if worker_class == "gthread" else 1
# Idle keep-alive connections wait in the worker's poller, holding no thread.
# Longer than nginx's upstream keepalive_timeout (60 s by default), so nginx
# always closes an idle connection first and never sends a request into one
# gunicorn is closing.
keepalive = 75
timeout = settings["GUNICORN_TIMEOUT"]
graceful_timeout = 30  # seconds to finish in-flight requests on SIGTERM

# Gunicorn answers an over-long request line itself, in HTML, before the app can
# give problem details; its maximum keeps that to URLs no client should send.
limit_request_line = 8190

# Each worker builds its own app, and with it its own database pool and Redis
# client: connections are never shared across a fork.
preload_app = False

# The app logs one JSON line per request itself; gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = "info"

# Forwarded headers are trusted in one place only: the app's ProxyFix, sized by
# TRUSTED_PROXIES. Gunicorn must not rewrite the scheme from them on its own.
secure_scheme_headers = {}
forwarded_allow_ips = ""

# The restart procedure finds the master here; a re-executed master writes
# "<pidfile>.2" until the old one has exited.
pidfile = settings["GUNICORN_PIDFILE"] or None

# No shared control socket under $HOME: several instances on one host would
# fight over it, and nothing here uses gunicornc.
control_socket_disable = True


def on_starting(server):
    """Prepare the metrics folder, and warn when limits cannot hold across workers
    (the settings were checked when this file was read)."""
    _prepare_metrics_dir(server)
    _warn_about_memory_limits(server)
    _warn_about_an_exposed_bind(server)


def _warn_about_an_exposed_bind(server):
    """gunicorn's workers must sit behind a buffering proxy (docs/topology.md).

    A sync worker, or a gthread worker's thread, holds a connection from its
    request's first byte to its last: a client that connects and sends nothing,
    or sends its body slowly, keeps it for up to GUNICORN_TIMEOUT. A few such
    connections straight from the network (one per worker thread) make even
    /healthz wait that long. nginx reads whole requests before it hands them on,
    so only finished requests reach a worker.
    """
    if settings["APP_ENV"] != "production":
        return
    exposed = [address for address in server.cfg.bind if not _is_loopback(address)]
    if exposed:
        server.log.warning(
            "GUNICORN_BIND listens on %s, beyond this host: gunicorn's workers must "
            "sit behind a buffering reverse proxy (nginx, deploy/nginx.conf), or a few "
            "idle or slow clients hold every worker thread (even /healthz waits for "
            "GUNICORN_TIMEOUT); bind 127.0.0.1 and put the proxy in front, see "
            "docs/topology.md",
            ", ".join(exposed),
        )


def _is_loopback(address):
    """Whether a gunicorn bind address (host:port, [v6]:port, unix:path, fd://n)
    can only be reached from this host."""
    if address.startswith(("unix:", "fd://")):
        return True
    host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _warn_about_memory_limits(server):
    """memory:// rate limit storage counts per process."""
    storage = settings["RATELIMIT_STORAGE_URI"]
    if settings["RATELIMIT_ENABLED"] and storage.startswith("memory://") and server.cfg.workers > 1:
        server.log.warning(
            "RATELIMIT_STORAGE_URI is memory:// with %d workers: each worker counts "
            "its own requests, so a client may get up to %d times every rate limit; "
            "set RATELIMIT_STORAGE_URI=redis://... to share the counters",
            server.cfg.workers,
            server.cfg.workers,
        )


_temporary_metrics_dir = []


def _prepare_metrics_dir(server):
    """A fresh PROMETHEUS_MULTIPROC_DIR, set before any worker imports prometheus_client.

    The variable is what switches prometheus_client to multiprocess mode, and
    the workers inherit it. Files left by an earlier run would add old counts
    to the new ones, so they are removed.
    """
    if not settings["METRICS_ENABLED"]:
        return
    path = settings["PROMETHEUS_MULTIPROC_DIR"]
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    else:
        path = tempfile.mkdtemp(prefix="flask-api-metrics-")
        _temporary_metrics_dir.append(path)
    # prometheus_client reads the variable itself; the workers' apps read it too.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    settings["PROMETHEUS_MULTIPROC_DIR"] = path
    server.log.info("Prometheus multiprocess folder: %s", path)


def child_exit(server, worker):
    """A worker died (or was replaced): drop its live gauges, keep its counts."""
    if settings["PROMETHEUS_MULTIPROC_DIR"]:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    """Start tracing in the new worker (threads and connections must not cross a fork)."""
    if settings["OTEL_EXPORTER_OTLP_ENDPOINT"]:
        from observability import tracing  # loads OpenTelemetry: only when configured

        tracing.start(settings)


def on_exit(server):
    for path in _temporary_metrics_dir:
        shutil.rmtree(path, ignore_errors=True)


def _withhold_database_text(worker):
    """gunicorn logs a response that failed while streaming (an export whose
    database went away) with its traceback, through its own handlers: they
    withhold a database error's message as the app's JSON log does."""
    from observability.request_log import WithholdDatabaseText  # loaded with the app already

    for handler in worker.log.error_log.handlers:
        handler.addFilter(WithholdDatabaseText())


def post_worker_init(worker):
    """The app has loaded in the worker: filter gunicorn's error log, set the
    app's objects aside from the garbage collector, start its mail sender, and
    report a worker of a re-executed master ready.

    ``gc.freeze()`` moves every object alive now (modules, the app, its routes,
    schemas and mappers: about 100,000) to a generation the collector never
    scans, so its periodic full collections only walk what requests create:
    about 10 µs less per request, measured in ``bench/README.md``.

    During ``deploy/gunicorn-reexec.sh`` the new master runs with ``GUNICORN_PID``
    set (until the old master is gone); each of its workers appends its pid to
    ``<pidfile>.2.ready`` once the app is loaded, and the script retires the old
    master only when every new worker has done so.
    """
    _withhold_database_text(worker)
    gc.freeze()
    _start_mail_sender(worker)
    if worker.cfg.pidfile and os.environ.get("GUNICORN_PID"):
        try:
            with open(f"{worker.cfg.pidfile}.2.ready", "a", encoding="ascii") as ready:
                ready.write(f"{os.getpid()}\n")
        except OSError as exc:  # the script then keeps the old master: never fail a boot
            worker.log.warning("could not report the worker ready: %s", exc)


def _start_mail_sender(worker):
    """Send the outbox's mail from this worker from now on (``MAIL_SENDER=thread``),
    not from its first request: a worker that replaced a killed one sends what the
    killed one left even if no request comes."""
    from plumbing.flask_app import ApiFlask

    # The service's app only: not gunicorn's error app after a failed reload,
    # nor another Flask app served with this file (bench/ceiling_app.py).
    if isinstance(worker.wsgi, ApiFlask):
        from services import mail_outbox

        mail_outbox.start_sender(worker.wsgi)
