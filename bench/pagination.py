"""Time product list pages: offset vs cursor, near the start and deep in the list.

Not a test. Seed a large catalog first, then run against the same database:

    python3 dev.py flask seed-demo --products 1000000
    .venv/bin/python -m bench.pagination        # from the project root; DATABASE_URL as for the app

Each request goes through the full app (test client, no network) and the
median of several runs is printed in milliseconds.
"""

import os
import statistics
import time

from sqlalchemy import func, select

from app import create_app
from extensions import db
from models import PRODUCT_ORDER, Product
from plumbing import pagination

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
LIMIT = 20


def median_ms(client, url):
    client.get(url)  # warm the page cache and the statement cache
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_json()
    return statistics.median(timings)


def cursor_at(app, order_by, position):
    """The cursor a client would hold after walking ``position`` rows in."""
    column = PRODUCT_ORDER[order_by]
    keys = [column] if order_by == "id" else [column, Product.id]
    with app.app_context():
        row = db.session.execute(
            select(*keys).order_by(*(key.asc() for key in keys)).offset(position - 1).limit(1)
        ).one()
    with app.test_request_context():
        binding = pagination.query_binding({"sort": "asc", "order_by": order_by})
        return pagination.encode_cursor(binding, row)


def main():
    app = create_app()
    client = app.test_client()
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Product))
        dialect = db.engine.dialect.name
    print(f"{dialect}, {total} products, limit {LIMIT}, median of {RUNS} runs (ms)")
    depths = [1, total // 2, total - LIMIT]
    print(f"{'order_by':<10} {'mode':<7}" + "".join(f"{f'row {d}':>14}" for d in depths))
    for order_by in ("id", "price", "created_at"):
        base = f"/api/products?order_by={order_by}&limit={LIMIT}"
        offset = [median_ms(client, f"{base}&page={d // LIMIT + 1}") for d in depths]
        cursor = [
            median_ms(client, f"{base}&cursor=" + ("" if d == 1 else cursor_at(app, order_by, d)))
            for d in depths
        ]
        print(f"{order_by:<10} {'offset':<7}" + "".join(f"{ms:>14.1f}" for ms in offset))
        print(f"{order_by:<10} {'cursor':<7}" + "".join(f"{ms:>14.1f}" for ms in cursor))


if __name__ == "__main__":
    main()
