"""Gunicorn settings: ``gunicorn 'app:create_app()'`` reads this file by itself.

Environment variables (all optional):

- ``GUNICORN_BIND``: the address to listen on; else ``127.0.0.1:$PORT`` with
  ``PORT`` defaulting to 8000. Loopback by default: put a reverse proxy in front,
  or set ``GUNICORN_BIND=0.0.0.0:8000`` in a container.
- ``WEB_CONCURRENCY``: worker processes, default ``2 * CPUs + 1`` (at most 8).
- ``GUNICORN_TIMEOUT``: seconds a worker may spend on one request, default 30.
"""

import multiprocessing
import os
from pathlib import Path

from dotenv import dotenv_values
from flask.helpers import get_load_dotenv

bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 8))
worker_class = "sync"
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
    """Warn when limits cannot hold across workers: memory:// counts per process."""
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
