#!/usr/bin/env python3
"""Instructions per request under gunicorn: what a worker executes, HTTP included.

    .venv/bin/python bench/gunicorn_instructions.py bare users feedback_auth

``bench/profile_requests.py`` counts what the app costs called in-process; this
counts what a gunicorn worker costs per request served over HTTP: gunicorn's
parsing and writing, the app, and for a write the SQLite INSERT. It starts
``gunicorn -c gunicorn.conf.py`` (one worker) under ``valgrind --tool=callgrind``,
sends the scenario's request ``--low`` and then, in a second server, ``--high``
times over one keep-alive connection, one at a time, and divides the difference
of the two workers' totals by the difference of the counts, so start-up and
shutdown cancel out. Instructions, unlike seconds, do not depend on what else the
machine is doing: two runs agree within a few hundred per request.

They are user-space instructions only. What a request costs the kernel (socket
calls, SQLite's file I/O and locks) and what threads cost each other under load
(the GIL handed over, visible as futex calls) are not in them; ``strace -c -f -p
<worker>`` under ``compare.py``'s load shows those (bench/README.md, round 10).

Same settings as ``compare.py`` (SQLite database in ``bench/results/compare.db``,
rate limits on in ``memory://``, the JSON log line written to /dev/null), with
``PYTHONHASHSEED=0`` and the mail sender thread off (``MAIL_SENDER=command``),
whose wake-ups depend on the time a run takes. Needs valgrind (Debian: ``apt-get
install valgrind``) and the database ``compare.py`` seeds. A run takes about a
minute per scenario.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare import HOST, RESULTS, ROOT, VENV, free_port, service_env  # bench/ is on sys.path

FEEDBACK = {"name": "Bench", "email": "bench@example.com", "message": "A profiling message."}
# name -> (WSGI app, method, path, body, sends the viewer's token)
SCENARIOS = {
    "bare": ("bench.ceiling_app:app", "GET", "/api/users/3", None, False),
    "healthz": ("app:create_app()", "GET", "/healthz", None, False),
    "users": ("app:create_app()", "GET", "/api/users/{me}", None, True),
    "me": ("app:create_app()", "GET", "/api/auth/me", None, True),
    "item": ("app:create_app()", "GET", "/api/products/500000", None, False),
    "list": ("app:create_app()", "GET", "/api/products?limit=20", None, False),
    "feedback": ("app:create_app()", "POST", "/api/feedback", FEEDBACK, False),
    "feedback_auth": ("app:create_app()", "POST", "/api/feedback", FEEDBACK, True),
}
WARM_UP = 10  # requests before the counted ones, in both runs: first-use costs cancel out


def server_env(port):
    """``compare.py``'s service environment, for one worker on ``port`` under valgrind."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{RESULTS}/compare.db"
    return {
        **service_env(database_url, workers=1),
        "GUNICORN_TIMEOUT": "600",  # valgrind runs the worker about 50 times slower
        "GUNICORN_BIND": f"{HOST}:{port}",
        "MAIL_SENDER": "command",
        "PYTHONHASHSEED": "0",
    }


def wait_until_up(port, path, process):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn under valgrind exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
            connection.request("GET", path)
            connection.getresponse().read()
            return connection
        except OSError:
            time.sleep(0.5)
    sys.exit("gunicorn under valgrind did not answer within 5 minutes")


def send(connection, method, path, body, headers, expected):
    data = json.dumps(body) if body is not None else None
    if data is not None:
        headers = {**headers, "Content-Type": "application/json"}
    connection.request(method, path, data, headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status != expected:
        sys.exit(f"{method} {path} answered {response.status}: {answer[:300]!r}")
    return answer


def worker_instructions(valgrind, scenario, count):
    """Run ``count`` requests of ``scenario`` through a fresh gunicorn under callgrind
    and return the worker's total instructions."""
    app, method, path, body, with_token = SCENARIOS[scenario]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as out:
        master = subprocess.Popen(
            [
                valgrind, "--tool=callgrind", "--trace-children=yes",
                f"--callgrind-out-file={out}/callgrind.%p",
                str(VENV / "bin" / "python"), str(VENV / "bin" / "gunicorn"),
                app, "--config", "gunicorn.conf.py",
            ],
            cwd=ROOT,
            env=server_env(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            probe = "/healthz" if app == "app:create_app()" else path
            connection = wait_until_up(port, probe, master)
            headers = {}
            if with_token:
                login = {"email": "viewer@example.com", "password": "viewer-demo-pass"}
                token = json.loads(send(connection, "POST", "/api/auth/login", login, {}, 200))
                headers = {"Authorization": f"Bearer {token['access_token']}"}
                me = json.loads(send(connection, "GET", "/api/auth/me", None, headers, 200))
                path = path.format(me=me["id"])
            expected = 201 if method == "POST" else 200
            children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
            (worker,) = children.read_text().split()
            for _ in range(WARM_UP + count):
                send(connection, method, path, body, headers, expected)
            connection.close()
        finally:
            master.send_signal(signal.SIGTERM)
            master.wait(timeout=300)
        return callgrind_total(Path(out) / f"callgrind.{worker}")


def callgrind_total(path):
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    sys.exit(f"no total in {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+", help=f"some of: {' '.join(SCENARIOS)}")
    parser.add_argument("--low", type=int, default=20, help="requests in the first run")
    parser.add_argument("--high", type=int, default=120, help="requests in the second run")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.high <= args.low:
        parser.error("--high must be more than --low")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("needs valgrind: on Debian or Ubuntu, sudo apt-get install valgrind")
    if not os.environ.get("DATABASE_URL") and not (RESULTS / "compare.db").exists():
        sys.exit("no bench/results/compare.db: run bench/compare.py once to seed it")
    for scenario in args.scenarios:
        low = worker_instructions(valgrind, scenario, args.low)
        high = worker_instructions(valgrind, scenario, args.high)
        per_request = (high - low) / (args.high - args.low)
        print(f"{scenario:<14} {per_request:12,.0f} instructions per request", flush=True)


if __name__ == "__main__":
    main()
