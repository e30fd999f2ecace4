#!/usr/bin/env python3
"""The product export over HTTP: rows per second and the worker's peak memory.

    python3 bench/export.py                       # SQLite, 1,000,000 products (seeded once)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench python3 bench/export.py

Starts the service under gunicorn with one sync worker on a loopback port,
seeds the database like ``bench/compare.py`` (demo data plus bulk products,
kept for the next run), and downloads ``GET /api/products/export`` as an editor
in each format, for the whole catalog and for one category (a seventh of it).
For each download it prints the rows, the time to the first byte and to the
last, rows per second, and the worker's resident memory before the download
and at its peak (``VmHWM``, reset before each download), so a flat memory
shows as the same peak whatever the number of rows. A benchmark, not a test.
"""

import argparse
import http.client
import os
import secrets
import sys
import time
from pathlib import Path

import compare

HOST = compare.HOST


def _memory_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def _reset_peak(pid):
    """Start the worker's peak-memory count afresh (Linux: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def download(port, path, auth):
    """GET ``path`` and read it to the end; (rows, bytes, first byte s, total s)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": auth})
    response = connection.getresponse()
    assert response.status == 200, response.read()[:500]
    first = response.read1(65536)
    first_byte = time.perf_counter() - started
    lines, size = first.count(b"\n"), len(first)
    while chunk := response.read1(1 << 20):
        lines += chunk.count(b"\n")
        size += len(chunk)
    total = time.perf_counter() - started
    connection.close()
    return lines, size, first_byte, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    args = parser.parse_args()

    compare.RESULTS.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{compare.RESULTS}/compare.db"
    env = {
        **os.environ,
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_TIMEOUT": "600",  # one request streams the whole catalog
    }
    count = compare.prepare_database(env, args.products)
    server = compare.Server("service", "app:create_app()", env)
    try:
        server.wait_ready("/healthz")
        editor = compare.login(server.port, "editor@example.com", "editor-demo-pass")
        (worker,) = server.worker_pids()
        engine = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        print(f"{engine}, {count:,} products, one gunicorn sync worker (pid {worker})\n")
        print(
            f"{'export':<34} {'rows':>9} {'MiB':>7} {'first byte':>11} {'total':>8}"
            f" {'rows/s':>8} {'RSS before':>11} {'peak RSS':>9}"
        )
        download(server.port, "/api/products/export?category=books", editor["auth"])  # warm-up
        for query in ("", "&category=books"):
            for fmt in ("ndjson", "csv"):
                path = f"/api/products/export?format={fmt}{query}"
                before = _memory_kib(worker, "VmRSS")
                peak_known = _reset_peak(worker)
                rows, size, first_byte, total = download(server.port, path, editor["auth"])
                if fmt == "csv":
                    rows -= 1  # the header row
                peak = _memory_kib(worker, "VmHWM") if peak_known else float("nan")
                print(
                    f"{path.removeprefix('/api/products/export'):<34} {rows:9,}"
                    f" {size / 2**20:7.1f} {first_byte * 1000:8.0f} ms {total:7.1f}s"
                    f" {rows / total:8,.0f} {before / 1024:8.1f} MiB {peak / 1024:5.1f} MiB"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    if not compare._in_venv():
        compare._reexec_in_venv(__file__)
    sys.exit(main())
