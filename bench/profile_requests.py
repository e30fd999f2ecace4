#!/usr/bin/env python3
"""CPU time per request inside the service, without HTTP: where the time goes.

    .venv/bin/python bench/profile_requests.py users item feedback
    .venv/bin/python bench/profile_requests.py users --profile      # pip install pyinstrument

Builds the app on the database ``bench/compare.py`` seeded (or ``DATABASE_URL``)
with rate limiting on in ``memory://`` and the JSON log line written to
/dev/null, as ``compare.py`` runs it, and calls the WSGI app directly with a
prepared request, as gunicorn would after parsing one. Prints the CPU time per
request (process time, the minimum and median of 7 runs, so other programs on
the machine disturb it little), and with ``--profile`` a pyinstrument call tree
of the first scenario. ``bare`` is the ceiling app of ``compare.py``.

This is how each change in ``bench/README.md`` was measured: the same command
on the commit before and after it. Instructions per request, which the machine's
other load does not change, come from two runs under valgrind, the difference
divided by 200::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python bench/profile_requests.py users --calls 50    # then --calls 250
"""

import argparse
import io
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("SERVICE_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
os.environ["FLASK_SKIP_DOTENV"] = "1"

from werkzeug.test import EnvironBuilder  # noqa: E402

HIGH_LIMIT = "100000000 per minute"
SCENARIOS = (
    "bare",
    "healthz",
    "config",
    "users",
    "me",
    "item",
    "list",
    "cursor",
    "batch",
    "feedback",
    "feedback_auth",
)


def build_app():
    from app import create_app  # after sys.path is set

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT}/bench/results/compare.db"
    settings = {
        "DATABASE_URL": url,
        "SECRET_KEY": "profile-" + "x" * 40,
        "RATELIMIT_DEFAULT": HIGH_LIMIT,
        "RATELIMIT_FEEDBACK": HIGH_LIMIT,
        "LOG_LEVEL": "INFO",
    }
    for name in ("CACHE_URL", "LOG_LEVEL", "RATELIMIT_ENABLED"):  # to measure what each costs
        if os.environ.get(name):
            settings[name] = os.environ[name]
    app = create_app(settings)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 -- for the process
    return app


def prepared(method, path, body=None, headers=None):
    """A WSGI environ and its body, made once and copied for every call."""
    path, _, query = path.partition("?")
    environ = EnvironBuilder(
        path=path,
        query_string=query,
        method=method,
        headers=headers or {},
        data=json.dumps(body) if body is not None else None,
        content_type="application/json" if body is not None else None,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    return environ, environ["wsgi.input"].read()


def requests_for(app):
    client = app.test_client()
    login = client.post(
        "/api/auth/login", json={"email": "viewer@example.com", "password": "viewer-demo-pass"}
    )
    auth = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    me = client.get("/api/auth/me", headers=auth).get_json()
    ids = ",".join(str(i) for i in range(1000, 1_000_000, 50_000))
    # A cursor page past the first: its statement seeks after the cursor's position.
    second = client.get("/api/products?limit=20&cursor=").get_json()["meta"]["next_cursor"]
    feedback = {"name": "Bench", "email": "bench@example.com", "message": "A profiling message."}
    return {
        "bare": prepared("GET", "/api/users/3"),
        "healthz": prepared("GET", "/healthz"),
        "config": prepared("GET", "/api/config"),
        "users": prepared("GET", f"/api/users/{me['id']}", headers=auth),
        "me": prepared("GET", "/api/auth/me", headers=auth),
        "item": prepared("GET", "/api/products/500000"),
        "list": prepared("GET", "/api/products?limit=20"),
        "cursor": prepared("GET", f"/api/products?limit=20&cursor={second}"),
        "batch": prepared("GET", f"/api/products?ids={ids}"),
        "feedback": prepared("POST", "/api/feedback", feedback),
        "feedback_auth": prepared("POST", "/api/feedback", feedback, headers=auth),
    }


def caller(wsgi_app, environ, body):
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def call():
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        result = wsgi_app(env, start_response)
        for _ in result:
            pass
        if hasattr(result, "close"):
            result.close()
        return statuses[-1]

    return call


def measure(call, count):
    for _ in range(50):
        status = call()
    assert status[0] in "23", status
    runs = []
    for _ in range(7):
        started = time.process_time()
        for _ in range(count):
            call()
        runs.append((time.process_time() - started) / count * 1e6)
    return min(runs), statistics.median(runs)


def app_for(scenario, app):
    """The app a scenario calls: the ceiling app for ``bare``, else the service."""
    if scenario != "bare":
        return app
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ceiling_app import app as ceiling

    return ceiling


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Checked below, not with ``choices``: Python 3.11's argparse refuses an empty list.
    parser.add_argument("scenarios", nargs="*", help=f"some of: {' '.join(SCENARIOS)} (all)")
    parser.add_argument("--count", type=int, default=300, help="requests per run (7 runs)")
    parser.add_argument("--profile", action="store_true", help="pyinstrument call tree")
    parser.add_argument(
        "--calls",
        type=int,
        help="only make this many requests of the first scenario, untimed (for valgrind)",
    )
    args = parser.parse_args()
    args.scenarios = args.scenarios or list(SCENARIOS)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    app = build_app()
    environs = requests_for(app)
    if args.calls is not None:
        call = caller(app_for(args.scenarios[0], app), *environs[args.scenarios[0]])
        for _ in range(args.calls):
            call()
        return
    for name in args.scenarios:
        call = caller(app_for(name, app), *environs[name])
        best, median = measure(call, args.count)
        print(f"{name:<10} {best:7.0f} us per request (median {median:.0f})", flush=True)
    if args.profile:
        from pyinstrument import Profiler  # optional: pip install pyinstrument

        call = caller(app, *environs[args.scenarios[0]])
        profiler = Profiler(interval=0.0002)
        with profiler:
            for _ in range(args.count * 7):
                call()
        print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
