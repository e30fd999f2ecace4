"""gunicorn's default worker is gthread: several requests run at once in one process.

One gunicorn master with one worker and the ``gunicorn.conf.py`` defaults (its
threads), on the test database, is sent requests from many client threads at
once. What is shared between the threads of a worker (the database pool, the
SQLite writer queue, the idempotency records, the list totals, per-request
state) must come out as if the requests had run one after another.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Feedback, Product
from tests.helpers import SECRET_KEY
from tests.servers import Gunicorn

pytestmark = pytest.mark.servers

CLIENTS = 8


@pytest.fixture
def server(app, database_url, tmp_path):
    """One worker of the default class on the test database (the ``app`` fixture
    empties its tables afterwards)."""
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("GUNICORN_WORKER_CLASS", "GUNICORN_THREADS"):
        settings[name] = ""  # the defaults of gunicorn.conf.py
    instance = Gunicorn(settings, workers=1, log_path=tmp_path / "gunicorn.log")
    try:
        instance.wait_ready()
        yield instance
    finally:
        instance.stop()


def _at_once(count, call):
    """``call(i)`` for i in range(count), each in its own thread, released together."""
    barrier = threading.Barrier(count)

    def run(number):
        barrier.wait(timeout=30)
        return call(number)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_one_idempotency_key_from_many_threads_creates_one_product(server, app, editor_headers):
    body = {"name": "Threaded lamp", "price": "12.50", "category": "lighting"}
    headers = {**editor_headers, "Idempotency-Key": "threads-1"}
    answers = _at_once(
        CLIENTS, lambda _: server.request_json("POST", "/api/products", body, headers)
    )
    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {201, 409}, answers
    created = [answer for answer in answers if answer[0] == 201]
    assert created
    assert len({answer[2]["id"] for answer in created}) == 1
    assert sum(answer[1].get("Idempotent-Replayed") != "true" for answer in created) == 1
    for status, _, problem in answers:
        if status == 409:
            assert problem["code"] == "IDEMPOTENCY_KEY_IN_USE"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Product)) == 1


def test_concurrent_writes_are_all_stored(server, app):
    def send(number):
        body = {
            "name": "Threaded sender",
            "email": "threads@example.com",
            "message": f"Written by client thread {number}",
        }
        return [server.request_json("POST", "/api/feedback", body)[0] for _ in range(5)]

    statuses = [status for per_thread in _at_once(CLIENTS, send) for status in per_thread]
    assert statuses == [201] * CLIENTS * 5
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Feedback)) == CLIENTS * 5


def test_each_request_sees_its_own_caller(server, create_user, login):
    users = [create_user("viewer") for _ in range(CLIENTS)]
    headers = [login(user.email) for user in users]

    def me(number):
        return [
            server.request_json("GET", "/api/auth/me", headers=headers[number])[2]["email"]
            for _ in range(10)
        ]

    for number, emails in enumerate(_at_once(CLIENTS, me)):
        assert emails == [users[number].email] * 10


def test_list_totals_stay_exact_while_products_are_written(
    server, app, add_products, editor_headers
):
    add_products(*({"name": f"Desk {number}"} for number in range(30)))

    def write_or_read(number):
        if number % 2:
            body = {"name": f"Desk extra {number}", "price": "5", "category": "desks"}
            return server.request_json("POST", "/api/products", body, editor_headers)[0]
        return server.request_json("GET", "/api/products?q=desk&limit=5")[0]

    assert set(_at_once(CLIENTS, write_or_read)) <= {200, 201}
    # Once every write is answered, every total counts them all.
    for query in ("q=desk&limit=5", "q=DESK&limit=5", "limit=5"):
        status, _, body = server.request_json("GET", f"/api/products?{query}")
        assert status == 200
        assert body["meta"]["total"] == 30 + CLIENTS // 2
