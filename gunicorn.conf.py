"""Gunicorn settings: ``gunicorn 'app:create_app()'`` reads this file by itself.

Environment variables (all optional):

- ``GUNICORN_BIND``: the address to listen on; else ``127.0.0.1:$PORT`` with
  ``PORT`` defaulting to 8000. Loopback by default, with a buffering reverse
  proxy in front: with ``APP_ENV=production`` any other address logs a warning
  at start (docs/topology.md says why).
- ``WEB_CONCURRENCY``: worker processes, default ``2 * CPUs + 1`` (at most 8).
- ``GUNICORN_THREADS``: threads per worker, default 4 (``gthread`` workers);
  ``1`` gives one request at a time per process.
- ``GUNICORN_WORKER_CLASS``: ``gthread`` (the default) or ``sync``. Why gthread:
  docs/performance.md (measured: reads, writes and exports on PostgreSQL behind
  PgBouncer). A thread waiting on the database lets another request use the CPU,
  and a long export no longer runs into ``GUNICORN_TIMEOUT``: a gthread worker's
  main thread tells the master it is alive while requests run, so the timeout
  only stops a worker that is truly stuck, not one streaming a big file.
- ``GUNICORN_TIMEOUT``: seconds a worker may spend on one request, default 30.
- ``PROMETHEUS_MULTIPROC_DIR``: with ``METRICS_ENABLED=true``, where the workers
  keep their metrics so a scrape adds them up. Emptied at start; when unset, a
  new temporary folder is used and removed when gunicorn exits.
- ``GUNICORN_PIDFILE``: where the master writes its pid; needed by the
  zero-downtime restart (``deploy/gunicorn-reexec.sh``, docs/topology.md).

Observability hooks (docs/operations.md): ``on_starting`` prepares the metrics
folder before any worker exists, ``child_exit`` tells the metrics a worker died
(its counters stay, its live gauges go), and ``post_fork`` starts tracing in
each worker, never in the master. ``post_worker_init`` starts each worker's mail
sender (services/mail_outbox.py) and reports the workers of a re-executed master
ready to the restart script.
"""

import gc
import ipaddress
import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dotenv import dotenv_values
from flask.helpers import get_load_dotenv

bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 8))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
# Idle keep-alive connections wait in the worker's poller, holding no thread.
# Longer than nginx's upstream keepalive_timeout (60 s by default), so nginx
# always closes an idle connection first and never sends a request into one
# gunicorn is closing.
keepalive = 75
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
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
pidfile = os.environ.get("GUNICORN_PIDFILE") or None

# No shared control socket under $HOME: several instances on one host would
# fight over it, and nothing here uses gunicornc.
control_socket_disable = True


_TRUE = {"1", "true", "yes", "on"}


def _app_setting(name, default):
    """A setting as the app will see it: the environment, else ``.env`` (like create_app)."""
    value = os.environ.get(name)
    if not value and get_load_dotenv():
        value = dotenv_values(Path(__file__).with_name(".env")).get(name)
    return value or default


def on_starting(server):
    """Check the settings, prepare the metrics folder, and warn about settings
    production should not run with."""
    _check_settings()
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
    if _app_setting("APP_ENV", "development").strip().lower() != "production":
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


def _check_settings():
    """Stop with one line naming a bad setting, before any worker boots.

    Each worker would otherwise fail to build the app with a traceback, and the
    master would stop only after logging every one of them.
    """
    from config import ConfigError, load_settings  # the app's own checks

    root = Path(__file__).parent
    environ = dict(os.environ)
    if get_load_dotenv():  # as create_app reads .env: the environment wins
        environ = {**dotenv_values(root / ".env"), **environ}
    try:
        load_settings(environ, str(root / "instance"))
    except ConfigError as error:
        sys.exit(f"Error: {error}")


def _warn_about_memory_limits(server):
    """memory:// rate limit storage counts per process."""
    enabled = _app_setting("RATELIMIT_ENABLED", "true").strip().lower() in _TRUE
    storage = _app_setting("RATELIMIT_STORAGE_URI", "memory://")
    if enabled and storage.startswith("memory://") and server.cfg.workers > 1:
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
    if _app_setting("METRICS_ENABLED", "false").strip().lower() not in _TRUE:
        return
    path = _app_setting("PROMETHEUS_MULTIPROC_DIR", "")
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    else:
        path = tempfile.mkdtemp(prefix="flask-api-metrics-")
        _temporary_metrics_dir.append(path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    server.log.info("Prometheus multiprocess folder: %s", path)


def child_exit(server, worker):
    """A worker died (or was replaced): drop its live gauges, keep its counts."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    """Start tracing in the new worker (threads and connections must not cross a fork)."""
    endpoint = _app_setting("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if endpoint:
        from web import tracing  # loads OpenTelemetry: only when configured

        tracing.start(
            endpoint,
            _app_setting("OTEL_SERVICE_NAME", "flask-api-service"),
            _app_setting("APP_ENV", "development").strip().lower(),
        )


def on_exit(server):
    for path in _temporary_metrics_dir:
        shutil.rmtree(path, ignore_errors=True)


def _withhold_database_text(worker):
    """gunicorn logs a response that failed while streaming (an export whose
    database went away) with its traceback, through its own handlers: they
    withhold a database error's message as the app's JSON log does."""
    from web.request_log import WithholdDatabaseText  # loaded with the app already

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
    from flask import Flask

    if isinstance(worker.wsgi, Flask):  # not gunicorn's error app after a failed reload
        from services import mail_outbox

        mail_outbox.start_sender(worker.wsgi)
