"""Faults under load: every create a retrying client means happens exactly once.

gunicorn (three workers) serves a bounded concurrent write load: client threads
create products and feedback, each create with its own ``Idempotency-Key`` and a
unique marker in its body, and retry on ANY failure (connection error, timeout,
5xx, 409 IDEMPOTENCY_KEY_IN_USE) with the same key and a growing pause. Meanwhile
one worker is killed with SIGKILL, PostgreSQL is restarted and Redis (the rate
limits' storage) is stopped and started again.

Afterwards: every create the client meant exists exactly once in the database
(found by its marker), no answer was a 500 or not JSON (503 while PostgreSQL
restarts is expected, and retried), and the service recovered by itself: the same
gunicorn master answers /readyz 200 and a final create succeeds.

This restarts the machine's PostgreSQL and Redis, so it runs only in
``.ci/run``'s PostgreSQL + Redis stage (``TEST_DATABASE_URL`` a local
PostgreSQL, ``TEST_REDIS_URL`` the local Redis on port 6379); elsewhere it is
skipped, and failed instead under ``TEST_REQUIRE_SERVICES=1``. Whatever happens,
PostgreSQL and Redis are running at the end and gunicorn is stopped. The figures
(requests, retries, creates intended and found, answers by status) are written to
``bench/results/faults.txt``, which ``.ci/run`` prints.
"""

import http.client
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from extensions import db
from models import Feedback, Product, User
from tests.conftest import skip_or_fail
from tests.helpers import PASSWORD
from tests.servers import ROOT, Gunicorn

pytestmark = [pytest.mark.faults, pytest.mark.redis]

FIGURES = ROOT / "bench" / "results" / "faults.txt"

WORKERS = 3
CLIENT_THREADS = 8
LOAD_SECONDS = 26  # new creates start until then; retries of started ones go on
PAUSE = 0.05  # seconds between one thread's creates
REQUEST_TIMEOUT = 10
MAX_ATTEMPTS = 60  # per create; the pause between attempts grows to 2 s: about 2 minutes
READY_TIMEOUT = 30
STOP_GRACE = 20  # seconds for gunicorn to stop before it is killed
# Seconds into the load at which each fault strikes.
KILL_WORKER_AT = 4
RESTART_POSTGRESQL_AT = 8
STOP_REDIS_AT, START_REDIS_AT = 16, 19

REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]
JSON_TYPES = {"application/json", "application/problem+json"}


# -- the machine's servers ---------------------------------------------------


def _run(*argv, timeout=60):
    return subprocess.run(  # noqa: S603 -- fixed commands of the machine's own servers
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )


def _postgresql_version():
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    return versions[-1] if versions else None


def _postgresql_ready():
    return _run("pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", timeout=10).returncode == 0


def _redis_ready():
    answer = _run("redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping", timeout=10)
    return answer.stdout.strip() == "PONG"


def _wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def restart_postgresql():
    """Restart the cluster; returns pg_ctlcluster's exit status."""
    version = _postgresql_version()
    done = _run(
        "pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", timeout=120
    )
    _wait_for(_postgresql_ready)
    return done.returncode


def _postgresql_started_at(database_url, seconds=60):
    """When the server process started: it changes with every restart.

    Asked again for a bounded time: a server that pg_isready calls ready may
    still refuse a connection for a moment after a restart.
    """
    engine = create_engine(database_url, poolclass=NullPool)
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                with engine.connect() as connection:
                    return connection.execute(text("SELECT pg_postmaster_start_time()")).scalar()
            except OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        engine.dispose()


def stop_redis():
    _run("redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave", timeout=10)
    _wait_for(lambda: not _redis_ready(), 10)


def start_redis():
    if not _redis_ready():
        _run(*REDIS_START, timeout=30)
    _wait_for(_redis_ready)


def leave_servers_running():
    """PostgreSQL and Redis up again, whatever happened."""
    if not _postgresql_ready():
        version = _postgresql_version()
        _run("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start", timeout=120)
        _wait_for(_postgresql_ready)
    start_redis()


def _needs_local_servers(database_url, redis_url):
    """This test restarts the servers it runs against: they must be this machine's."""
    database, cache = urlsplit(database_url), urlsplit(redis_url)
    if not database.scheme.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    if (database.hostname, database.port or 5432) not in {("127.0.0.1", 5432), ("localhost", 5432)}:
        skip_or_fail("restarts the local PostgreSQL: TEST_DATABASE_URL must be 127.0.0.1:5432")
    if (cache.hostname, cache.port or 6379) not in {("127.0.0.1", 6379), ("localhost", 6379)}:
        skip_or_fail("restarts the local Redis: TEST_REDIS_URL must be 127.0.0.1:6379")
    missing = [
        tool
        for tool in ("pg_ctlcluster", "pg_isready", "redis-cli", "redis-server")
        if shutil.which(tool) is None
    ]
    if missing or _postgresql_version() is None:
        skip_or_fail(f"needs the PostgreSQL and Redis tools: missing {missing or 'a cluster'}")


# -- gunicorn ----------------------------------------------------------------


class Service(Gunicorn):
    """One gunicorn master and its workers on a loopback port, under the load."""

    def kill_a_worker(self):
        workers = self.workers()
        if not workers:
            return None
        victim = random.choice(workers)
        os.kill(victim, signal.SIGKILL)
        return victim

    def request(self, method, path, body=None, headers=None):
        """(status, headers, raw body); raises OSError or HTTPException on a transport failure."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            data = json.dumps(body) if body is not None else None
            sent = {"Content-Type": "application/json", **(headers or {})} if data else {}
            connection.request(method, path, body=data, headers=sent or headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


# -- the client --------------------------------------------------------------


class Figures:
    """What the client saw, counted across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.statuses = Counter()
        self.transport_errors = Counter()
        self.replays = 0
        self.non_json = []
        self.intended = {"product": [], "feedback": []}
        self.confirmed = set()
        self.given_up = []
        self.unexpected = []
        self.faults = {}

    def answer(self, status, content_type, replayed):
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1
            self.replays += bool(replayed)
            if content_type not in JSON_TYPES:
                self.non_json.append((status, content_type))

    def transport_error(self, exc):
        with self.lock:
            self.requests += 1
            self.transport_errors[type(exc).__name__] += 1

    def summary(self):
        intended = sum(len(markers) for markers in self.intended.values())
        return {
            "requests": self.requests,
            "retries": self.retries,
            "creates_intended": intended,
            "creates_answered_201": len(self.confirmed),
            "replayed_answers": self.replays,
            "answers_by_status": dict(sorted(self.statuses.items())),
            "transport_errors": dict(self.transport_errors),
            "non_json_answers": len(self.non_json),
            "given_up": len(self.given_up),
            "unexpected": self.unexpected[:10],
            "faults": self.faults,
        }


def create(service, figures, kind, marker, token):
    """One create, retried with the same key until it is answered 201."""
    if kind == "product":
        path, headers = "/api/products", {"Authorization": f"Bearer {token}"}
        body = {"name": "Fault test", "price": "1.00", "category": "faults", "description": marker}
    else:
        path, headers = "/api/feedback", {}
        body = {"name": "Fault test", "email": "faults@example.com", "message": marker}
    headers["Idempotency-Key"] = str(uuid.uuid4())
    with figures.lock:
        figures.intended[kind].append(marker)
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            with figures.lock:
                figures.retries += 1
            time.sleep(min(0.1 * 2 ** (attempt - 1), 2.0) * random.uniform(0.8, 1.2))
        try:
            status, answer_headers, raw = service.request("POST", path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            figures.transport_error(exc)
            continue
        content_type = (answer_headers.get("Content-Type") or "").partition(";")[0].strip()
        figures.answer(status, content_type, answer_headers.get("Idempotent-Replayed"))
        if status == 201:
            with figures.lock:
                figures.confirmed.add(marker)
            return
        if status not in (409, 503) and status < 500:
            with figures.lock:
                figures.unexpected.append((status, raw[:300].decode(errors="replace")))
            return  # the service refused the request itself: retrying cannot help
    with figures.lock:
        figures.given_up.append(marker)


def load(service, figures, token, thread_number, until):
    number = 0
    while time.monotonic() < until:
        kind = "product" if number % 2 == 0 else "feedback"
        create(service, figures, kind, f"fault-{thread_number}-{number}-{uuid.uuid4().hex}", token)
        number += 1
        time.sleep(PAUSE)


def strike(service, figures, started, database_url):
    """The faults, each at its moment into the load; ``figures.faults`` records
    what each one did, so the test can check that every fault took effect."""

    def at(seconds):
        time.sleep(max(0.0, started + seconds - time.monotonic()))

    at(KILL_WORKER_AT)
    victim = service.kill_a_worker()
    figures.faults["worker_killed"] = victim is not None
    at(RESTART_POSTGRESQL_AT)
    before, begun = _postgresql_started_at(database_url), time.monotonic()
    exit_status = restart_postgresql()
    figures.faults["postgresql_restart_seconds"] = round(time.monotonic() - begun, 1)
    after = _postgresql_started_at(database_url)
    figures.faults["postgresql_restarted"] = exit_status == 0 and after > before
    at(STOP_REDIS_AT)
    stop_redis()
    figures.faults["redis_stopped"] = not _redis_ready()
    at(START_REDIS_AT)
    start_redis()
    figures.faults["redis_started"] = _redis_ready()


# -- the test ----------------------------------------------------------------


@pytest.fixture
def service(make_app, database_url, redis_url, tmp_path):
    _needs_local_servers(database_url, redis_url)
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        # The load is one editor and one address: limits would only get in the way.
        "RATELIMIT_DEFAULT": "100000 per minute",
        "RATELIMIT_FEEDBACK": "100000 per minute",
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        "LOG_LEVEL": "WARNING",
    }
    running = None
    try:
        running = Service(settings, workers=WORKERS, log_path=tmp_path / "gunicorn.log")
        running.wait_ready("/healthz", READY_TIMEOUT)
        yield running
    finally:
        try:
            if running is not None:
                running.stop(grace=STOP_GRACE)
        finally:
            leave_servers_running()


def test_every_create_happens_once_through_worker_kill_and_server_restarts(
    make_app, database_url, service
):
    app = make_app()
    with app.app_context():
        editor = User(name="Fault editor", email="faults@example.com", role="editor")
        editor.set_password(PASSWORD)
        db.session.add(editor)
        db.session.commit()
    status, _, raw = service.request(
        "POST", "/api/auth/login", {"email": "faults@example.com", "password": PASSWORD}
    )
    assert status == 200, raw
    token = json.loads(raw)["access_token"]
    master = service.process.pid

    figures = Figures()
    started = time.monotonic()
    clients = [
        threading.Thread(target=load, args=(service, figures, token, n, started + LOAD_SECONDS))
        for n in range(CLIENT_THREADS)
    ]
    faults = threading.Thread(target=strike, args=(service, figures, started, database_url))
    for thread in [*clients, faults]:
        thread.start()
    for thread in [*clients, faults]:
        thread.join(timeout=LOAD_SECONDS + MAX_ATTEMPTS * 2 * REQUEST_TIMEOUT)
    assert not any(thread.is_alive() for thread in [*clients, faults]), "the load did not end"

    # Recovered without a restart: the same master, a full set of workers again,
    # /readyz answers 200, and a new create works.
    recovered = (
        service.wait_until_answers("/readyz", READY_TIMEOUT)
        and service.process.pid == master
        and _wait_for(lambda: len(service.workers()) == WORKERS, 10)
    )
    create(service, figures, "product", f"fault-final-{uuid.uuid4().hex}", token)
    summary_seconds = round(time.monotonic() - started, 1)

    with app.app_context():
        # This checker's own pool still holds its connection from before the
        # restart (the service's recovery is what is under test, not this pool's).
        for engine in db.engines.values():  # the session's and the autocommit engine
            engine.dispose()
        found = Counter(db.session.scalars(select(Product.description)))
        found.update(db.session.scalars(select(Feedback.message)))
    intended = [marker for markers in figures.intended.values() for marker in markers]
    missing = [marker for marker in intended if found[marker] == 0]
    duplicated = {marker: found[marker] for marker in intended if found[marker] > 1}
    strays = set(found) - set(intended)

    summary = figures.summary()
    summary.update(
        seconds=summary_seconds,
        creates_found=sum(1 for marker in intended if found[marker] == 1),
        missing=len(missing),
        duplicated=len(duplicated),
        recovered=recovered,
    )
    report = json.dumps(summary, indent=2)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(report + "\n")
    print(report)  # shown by pytest -rA, and with a failure
    context = f"{report}\n--- gunicorn log (tail) ---\n{service.log_tail()}"

    took_effect = ("worker_killed", "postgresql_restarted", "redis_stopped", "redis_started")
    assert all(figures.faults.get(name) for name in took_effect), context
    assert recovered, context
    assert not figures.non_json, context
    assert not any(status >= 500 and status != 503 for status in figures.statuses), context
    assert not figures.unexpected and not figures.given_up, context
    assert not missing and not duplicated and not strays, context
    assert len(figures.confirmed) == len(intended), context
