"""Throughput and latency of the real service: gunicorn on a loopback port.

Starts gunicorn with the project's gunicorn.conf.py on a free 127.0.0.1 port
against the database named by DATABASE_URL (default: a fresh SQLite file), seeds
the demo data, and for each scenario keeps CONCURRENCY keep-alive connections
busy for a fixed number of requests. Prints requests per second, latency
percentiles and the count of each status (a 5xx is a bug). A benchmark, not a
test: numbers depend on the machine.

    .venv/bin/python -m bench.http_load                        # SQLite, 2 workers
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/test_bench \\
    RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/11 WEB_CONCURRENCY=2 \\
        .venv/bin/python -m bench.http_load --requests 3000 --concurrency 8

Rate limits are switched off for the run (they would be the thing measured).
"""

import argparse
import collections
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def call(conn, method, path, body=None, headers=None):
    payload = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json"} if payload else {}
    all_headers.update(headers or {})
    conn.request(method, path, body=payload, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, response.headers, data


def login(port, email, password):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    status, _, data = call(conn, "POST", "/api/auth/login", {"email": email, "password": password})
    assert status == 200, data
    return {"Authorization": f"Bearer {json.loads(data)['access_token']}"}


def conditional_patch(conn, headers):
    """Read product 1 and write it back with its ETag: many writers race for it,
    so some must get 412 (their ETag went stale); none may get a 5xx."""
    _, response_headers, _ = call(conn, "GET", "/api/products/1")
    precondition = {**headers, "If-Match": response_headers["ETag"]}
    return call(conn, "PATCH", "/api/products/1", {"description": "updated"}, precondition)


def deep_cursor(port, pages):
    """The cursor a client holds after walking ``pages`` pages of 100 by price."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    cursor = ""
    for _ in range(pages):
        status, _, data = call(
            conn, "GET", f"/api/products?order_by=price&limit=100&cursor={cursor}"
        )
        assert status == 200, data
        cursor = json.loads(data)["meta"]["next_cursor"]
    return cursor


def run_scenario(port, name, requests_total, concurrency, make_request):
    latencies, statuses, lock = [], collections.Counter(), threading.Lock()
    per_worker = requests_total // concurrency

    def worker():
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine = []
        for _ in range(per_worker):
            started = time.perf_counter()
            status, _, _ = make_request(conn)
            mine.append(time.perf_counter() - started)
            with lock:
                statuses[status] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started
    latencies.sort()
    ms = [value * 1000 for value in latencies]
    quantiles = statistics.quantiles(ms, n=100)
    print(
        f"{name:<44} {len(ms) / elapsed:8.0f} req/s   p50 {quantiles[49]:6.1f} ms"
        f"   p95 {quantiles[94]:6.1f} ms   p99 {quantiles[98]:6.1f} ms   {dict(statuses)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--products", type=int, default=100_000, help="bulk rows to seed")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-")
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir}/bench.db"),
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": f"{HOST}:{port}",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
        "FLASK_SKIP_DOTENV": "1",
    }
    flask = [str(BIN / "flask"), "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*flask, "seed-demo", "--products", str(args.products)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "app:create_app()", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                call(http.client.HTTPConnection(HOST, port, timeout=1), "GET", "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not come up") from None
                time.sleep(0.2)

        viewer = login(port, "viewer@example.com", "viewer-demo-pass")
        editor = login(port, "editor@example.com", "editor-demo-pass")
        deep = deep_cursor(port, 50)
        print(
            f"{args.products + 294} products, {env['WEB_CONCURRENCY']} workers, "
            f"{args.concurrency} connections, {args.requests} requests per scenario\n"
        )
        scenarios = {
            "GET /healthz": lambda c: call(c, "GET", "/healthz"),
            "GET /api/config": lambda c: call(c, "GET", "/api/config"),
            "GET /api/auth/me (token)": lambda c: call(c, "GET", "/api/auth/me", headers=viewer),
            "GET /api/products/{id}": lambda c: call(c, "GET", "/api/products/42"),
            "GET /api/products?page=1": lambda c: call(c, "GET", "/api/products?page=1"),
            "GET /api/products?cursor= (first)": lambda c: call(
                c, "GET", "/api/products?order_by=price&cursor="
            ),
            "GET /api/products?cursor= (row 5000)": lambda c: call(
                c, "GET", f"/api/products?order_by=price&cursor={deep}"
            ),
            "GET /api/products?ids= (20 ids)": lambda c: call(
                c, "GET", "/api/products?ids=" + ",".join(str(i) for i in range(100, 120))
            ),
            "POST /api/feedback": lambda c: call(
                c,
                "POST",
                "/api/feedback",
                {"name": "Load", "email": "load@example.com", "message": "A load test message."},
            ),
            "PATCH /api/products/1 (If-Match, contended)": lambda c: conditional_patch(c, editor),
        }
        for name, make_request in scenarios.items():
            run_scenario(port, name, args.requests, args.concurrency, make_request)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
