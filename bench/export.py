#!/usr/bin/env python3
"""The product export over HTTP: rows per second and the worker's peak memory.

    python3 bench/export.py                       # SQLite, 1,000,000 products (seeded once)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench python3 bench/export.py
    python3 bench/export.py --direct              # to gunicorn itself, without nginx

Starts the service under gunicorn with the project's ``gunicorn.conf.py`` as
it ships (its worker class, ``GUNICORN_TIMEOUT`` 30 s) and one worker, behind
the shipped ``deploy/nginx.conf`` (only its addresses and paths changed, as
``tests/test_topology.py`` does), seeds the database like ``bench/compare.py``
(demo data plus bulk products, kept for the next run), and downloads ``GET
/api/products/export`` through nginx as an editor in each format, for the
whole catalog and for one category (a seventh of it). A download that is cut
off (a worker killed by its timeout, nginx giving up) shows as fewer rows than
the catalog holds and stops the run.
For each download it prints the rows, the time to the first byte and to the
last, rows per second, and the worker's resident memory before the download
and at its peak (``VmHWM``, reset before each download), so a flat memory
shows as the same peak whatever the number of rows, and the worker's CPU time
per row (steadier than rows/s on a busy machine: 1,000,000 / CPU µs per row is
the rate one idle core would reach). A benchmark, not a test.
"""

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
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


def nginx_conf(workdir, port, upstream_port):
    """deploy/nginx.conf in front of one instance on ``upstream_port``; everything
    else (buffering, timeouts) as shipped."""
    conf = (compare.ROOT / "deploy" / "nginx.conf").read_text()
    if os.geteuid() != 0:
        conf = re.sub(r"(?m)^user .*;\n", "", conf)
    conf = re.sub(r"(?m)^pid .*;$", f"pid {workdir}/nginx.pid;", conf)
    conf = re.sub(r"(?m)^error_log .*;$", f"error_log {workdir}/error.log warn;", conf)
    conf = re.sub(r"access_log \S+ api;", f"access_log {workdir}/access.log api;", conf)
    conf = conf.replace("listen 80;", f"listen {HOST}:{port};")
    conf = re.sub(r"server 127\.0\.0\.1:800\d ", f"server {HOST}:{upstream_port} ", conf)
    temp_paths = "".join(
        f"    {kind}_temp_path {workdir}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return conf.replace("http {\n", "http {\n" + temp_paths, 1)


class Nginx:
    """A private nginx on a free loopback port in front of ``upstream_port``."""

    def __init__(self, upstream_port):
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.port = compare.free_port()
        self.workdir = tempfile.mkdtemp(prefix="bench-export-nginx-")
        conf = Path(self.workdir) / "nginx.conf"
        conf.write_text(nginx_conf(self.workdir, self.port, upstream_port))
        self.process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", f"{self.workdir}/", "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                compare.http(self.port, "GET", "/healthz")
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit("nginx did not start")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            self.process.wait(timeout=30)
        shutil.rmtree(self.workdir, ignore_errors=True)


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
    parser.add_argument("--direct", action="store_true", help="to gunicorn, without nginx")
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
        "TRUSTED_PROXIES": "0" if args.direct else "1",
    }
    env.pop("GUNICORN_TIMEOUT", None)  # the shipped timeout: what an export must live with
    count = compare.prepare_database(env, args.products)
    server = compare.Server("service", "app:create_app()", env)
    proxy = None
    try:
        server.wait_ready("/healthz")
        proxy = None if args.direct else Nginx(server.port)
        port = server.port if args.direct else proxy.port
        editor = compare.login(port, "editor@example.com", "editor-demo-pass")
        (worker,) = server.worker_pids()
        engine = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        route = "directly" if args.direct else "through deploy/nginx.conf"
        print(
            f"{engine}, {count:,} products, one gunicorn worker (pid {worker}, gunicorn.conf.py"
            f" as shipped), {route}; load average: {os.getloadavg()[0]:.1f}\n"
        )
        print(
            f"{'export':<34} {'rows':>9} {'MiB':>7} {'first byte':>11} {'total':>8}"
            f" {'rows/s':>8} {'RSS before':>11} {'peak RSS':>9} {'CPU us/row':>10}"
        )
        download(port, "/api/products/export?category=books", editor["auth"])  # warm-up
        for query in ("", "&category=books"):
            for fmt in ("ndjson", "csv"):
                path = f"/api/products/export?format={fmt}{query}"
                before = _memory_kib(worker, "VmRSS")
                peak_known = _reset_peak(worker)
                cpu_before = server.cpu_seconds()
                rows, size, first_byte, total = download(port, path, editor["auth"])
                cpu = server.cpu_seconds() - cpu_before
                if fmt == "csv":
                    rows -= 1  # the header row
                if not query and rows != count:
                    sys.exit(f"{path}: {rows:,} rows of {count:,}: the export was cut off")
                peak = _memory_kib(worker, "VmHWM") if peak_known else float("nan")
                print(
                    f"{path.removeprefix('/api/products/export'):<34} {rows:9,}"
                    f" {size / 2**20:7.1f} {first_byte * 1000:8.0f} ms {total:7.1f}s"
                    f" {rows / total:8,.0f} {before / 1024:8.1f} MiB {peak / 1024:5.1f} MiB"
                    f" {cpu / rows * 1e6:10.1f}"
                )
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()


if __name__ == "__main__":
    if not compare._in_venv():
        compare._reexec_in_venv(__file__)
    sys.exit(main())
