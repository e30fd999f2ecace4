#!/usr/bin/env python3
"""``GET /api/products?q=`` on a large catalog: latency of selective and broad
terms, and what a search-heavy client does to another client's reads.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench python3 bench/search.py
    DATABASE_URL=... python3 bench/search.py --cache none    # every answer computed

Starts the service under gunicorn with the project's ``gunicorn.conf.py`` (its
default worker class, 2 workers) on a loopback port, seeds the database like
``bench/compare.py`` (demo data plus bulk products named ``Bulk product N``,
kept for the next run), then, one client at a time, page 1 (with its total):

- selective terms: ``12345`` and ``product 12345``-like terms, each a
  different one (at most 20 matches), so neither the server cache nor the total
  cache helps. The second holds a word every row holds: the trigram index reads
  its long posting lists along with the number's short ones;
- broad terms (every or most rows match): the first request of each term (its
  total counted) and the same terms again (the total known for this catalog
  version; with the server cache on, the whole answer is a hit);
- interference: one client sends broad searches at ``--rate`` per second,
  cycling through a set of broad terms, while another reads
  ``GET /api/products/{id}`` for random ids back to back; its p99 is compared
  with the same reads alone.

Prints p50 and p99 of each and the targets of issue 21. A benchmark, not a test.
"""

import argparse
import http.client
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
import urllib.parse

import compare

HOST = compare.HOST
TARGETS_MS = {"selective": 20, "broad": 50, "read under search": 50}
BROAD_TERMS = [
    "product",
    "bulk",
    "BULK PRODUCT",
    "duct",
    "ulk pro",
    *(f"product {digit}" for digit in range(1, 10)),
    *(f"Bulk product {digit}" for digit in range(1, 10)),
]


class Client:
    """One keep-alive connection, as one client would hold."""

    def __init__(self, port):
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)

    def get(self, path):
        started = time.perf_counter()
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            sys.exit(f"{path} answered {response.status}: {body[:300]!r}")
        return elapsed * 1000, body


def search_path(term):
    return "/api/products?" + urllib.parse.urlencode({"q": term, "limit": 20})


def percentiles(samples):
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


def report(name, samples, target=None, extra=""):
    p50, p99 = percentiles(samples)
    verdict = ""
    if target is not None:
        measured = p99 if name.startswith("read") else p50
        kind = "p99" if name.startswith("read") else "p50"
        verdict = f"{kind} target <= {target} ms: {'met' if measured <= target else 'MISSED'}"
    print(f"{name:<44} n={len(samples):<5} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  {verdict}{extra}")


def selective(client, count, template):
    samples, matches = [], []
    for number in random.sample(range(10000, 99999), count):
        elapsed, body = client.get(search_path(template.format(number)))
        samples.append(elapsed)
        matches.append(json.loads(body)["meta"]["total"])
    return samples, max(matches)


def broad(client, terms):
    first, again, totals = [], [], []
    for term in terms:
        elapsed, body = client.get(search_path(term))
        first.append(elapsed)
        totals.append(json.loads(body)["meta"]["total"])
    for _ in range(3):
        for term in terms:
            again.append(client.get(search_path(term))[0])
    return first, again, min(totals)


def reads(port, seconds, stop=None):
    client, samples = Client(port), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        samples.append(client.get(f"/api/products/{random.randint(1, 1_000_000)}")[0])
    return samples


def searcher(port, rate, stop, samples):
    client, interval, index = Client(port), 1 / rate, 0
    next_at = time.monotonic()
    while not stop.is_set():
        samples.append(client.get(search_path(BROAD_TERMS[index % len(BROAD_TERMS)]))[0])
        index += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--cache", default=None, help="CACHE_URL (default: the service's own)")
    parser.add_argument("--rate", type=float, default=5.0, help="broad searches per second")
    parser.add_argument("--seconds", type=int, default=20, help="of the interference phase")
    parser.add_argument("--port", type=int, default=None, help="the server's (default: a free one)")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgresql"):
        sys.exit("bench/search.py measures PostgreSQL: set DATABASE_URL=postgresql+psycopg://...")
    env = {
        **{k: v for k, v in os.environ.items() if k != "CACHE_URL"},
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "INFO",
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_DEFAULT": compare.HIGH_LIMIT,
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
    }
    if args.cache is not None:
        env["CACHE_URL"] = args.cache
    count = compare.prepare_database(env, args.products)
    # A fresh catalog version: no total or answer of an earlier run is known.
    compare.flask(env, "bump-catalog-version")
    server = compare.Server("service", "app:create_app()", env, port=args.port)
    try:
        server.wait_ready("/healthz")
        load = os.getloadavg()[0]
        print(
            f"PostgreSQL, {count:,} products, CACHE_URL={args.cache or 'the default'},"
            f" {env['WEB_CONCURRENCY']} workers (gunicorn.conf.py's worker class);"
            f" load average before: {load:.1f}\n"
        )
        client = Client(server.port)
        client.get(search_path("warm-up"))
        for template in ("{}", "product {}"):
            samples, most = selective(client, 40, template)
            report(f"selective term {template.format('NNNNN')!r}, page 1 + total", samples,
                   TARGETS_MS["selective"], f"  (at most {most} matches)")  # fmt: skip
        first, again, fewest = broad(client, BROAD_TERMS)
        report("broad term, first request (total counted)", first,
               extra=f"  (at least {fewest:,} matches)")  # fmt: skip
        report("broad term, again (total known)", again, TARGETS_MS["broad"])

        compare.flask(env, "bump-catalog-version")  # the searcher's totals are cold again
        alone = reads(server.port, args.seconds / 2)
        report("read GET /api/products/{id}, alone", alone)
        stop, searched = threading.Event(), []
        thread = threading.Thread(target=searcher, args=(server.port, args.rate, stop, searched))
        thread.start()
        try:
            busy = reads(server.port, args.seconds)
        finally:
            stop.set()
            thread.join()
        report(f"read GET /api/products/{{id}}, {args.rate:g} broad q/s beside", busy,
               TARGETS_MS["read under search"])  # fmt: skip
        report("  the broad searches themselves", searched)
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    finally:
        server.stop()


if __name__ == "__main__":
    if not compare._in_venv():
        compare._reexec_in_venv(__file__)
    main()
