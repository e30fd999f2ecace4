"""The product as shipped, whole: the stack of ``python3 dev.py stack`` with every
optional feature on, driven through nginx (marked ``stack``: ``.ci/run``'s own stage).

``deploy/stack.py`` starts nginx, two gunicorn instances and PgBouncer from the
files in ``deploy/`` on a PostgreSQL cluster and a Redis server that this module
starts itself on free loopback ports (so it may restart them; the machine's own
servers are never touched), with ``TRUSTED_HOSTS`` (the env file's), metrics
behind a token, traces to a local OTLP receiver, Sentry to a fake, mail to a
local SMTP server, and Redis for limits and cache. Then, through nginx:

- every feature answers as configured;
- the conformance run of tests/test_api_conformance.py, over HTTP (the five rate
  limits set wide through the env, as a deployer would for a load test);
- the hostile-input corpus;
- two rolling restarts (``deploy/rolling-restart.sh`` as shipped) under a mixed
  load: no failed request;
- an export cut by a killed worker and by a PostgreSQL restart: curl reports an
  incomplete transfer (exit 18) both times;
- a retrying create load through a worker kill, a PostgreSQL restart, a
  PgBouncer restart and a Redis stop: every create is in the database once;
- 60 clients sending bodies at 1 byte/s while ``/healthz`` and a product read are
  timed (the latency is printed, not asserted: timings are measured, not tested).

The figures go to ``bench/results/stack.txt`` and to the terminal.
"""

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from deploy.stack import Stack, create_database, drop_database, free_port, unprivileged
from tests import test_api_conformance as conformance
from tests.helpers import PASSWORD, skip_or_fail
from tests.mail_server import smtp_server
from tests.servers import ROOT, stop_process
from tests.test_error_reports import FakeSentry
from tests.test_topology import (
    CURL_PARTIAL_FILE,
    CUT_AFTER_BYTES,
    EXPORT_ROWS,
    HOST,
    Load,
    _children,
    call,
    raw_exchange,
    start_export_download,
    wait_for_bytes,
)
from tests.test_tracing import Receiver

pytestmark = pytest.mark.stack

FIGURES = ROOT / "bench" / "results" / "stack.txt"
RESULTS = {}
START_TIMEOUT = 60
FAULT_CLIENTS = 6
FAULT_SECONDS = 30
MAX_ATTEMPTS = 60
SLOW_CLIENTS = 60
SLOW_SECONDS = 12
LOAD_SECONDS_BEFORE, LOAD_SECONDS_AFTER = 3, 3
WIDE_LIMITS = (
    "RATELIMIT_DEFAULT",
    "RATELIMIT_LOGIN",
    "RATELIMIT_REGISTER",
    "RATELIMIT_FEEDBACK",
    "RATELIMIT_PASSWORD_RESET",
)


def _postgresql_bin():
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        skip_or_fail("needs PostgreSQL's server programs (/usr/lib/postgresql/*/bin)")
    return versions[-1].parent


def _wait(check, seconds=START_TIMEOUT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _listening(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own in a temporary folder, on a free port."""

    def __init__(self, workdir):
        self.bin = _postgresql_bin()
        self.data = workdir / "pgdata"
        self.port = free_port()
        self.log = workdir / "postgresql.log"
        self.data.mkdir()
        if os.geteuid() == 0:  # initdb refuses root; the cluster belongs to postgres
            shutil.chown(self.data, "postgres", "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, program, *args, timeout=120):
        return subprocess.run(  # noqa: S603 -- PostgreSQL's own programs
            unprivileged([str(self.bin / program), *args]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def _ctl(self, action):
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w")

    def start(self):
        self._ctl("start")

    def restart(self):
        self._ctl("restart")

    def stop(self):
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")


class PrivateRedis:
    """A Redis server of this test's own on a free port, stopped and started at will."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.process = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        redis_server = shutil.which("redis-server") or skip_or_fail("needs redis-server")
        self.process = subprocess.Popen(  # noqa: S603 -- the installed redis-server
            [
                *(redis_server, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert _wait(lambda: _listening(self.port)), "redis-server did not start"

    def stop(self):
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture(scope="module")
def stack():
    for name in ("nginx", "pgbouncer", "curl", "redis-server"):
        if not (shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")):
            skip_or_fail(f"needs {name}")
    workdir = Path(tempfile.mkdtemp(prefix="stack-test-"))
    workdir.chmod(0o755)
    postgres, cache = PrivatePostgres(workdir), PrivateRedis(workdir)
    receiver = Receiver(workdir / "spans.jsonl")
    sentry = FakeSentry()
    threading.Thread(target=sentry.serve_forever, daemon=True).start()
    running = database = None
    try:
        with smtp_server() as mail:
            postgres.start()
            cache.start()
            database = create_database(postgres.url)
            features = {
                "METRICS_ENABLED": "true",
                "METRICS_TOKEN": secrets.token_urlsafe(24),
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
                "OTEL_SERVICE_NAME": "stack-test",
                "OTEL_BSP_SCHEDULE_DELAY": "100",
                "SENTRY_DSN": f"http://publickey@127.0.0.1:{sentry.server_address[1]}/42",
                "MAIL_URL": f"smtp://127.0.0.1:{mail.port}",
                "MAIL_FROM": "api@example.com",
                # The shipped default (a sender thread per worker): the suite's own
                # environment turns it off for the in-process tests (conftest.py).
                "MAIL_SENDER": "thread",
                # One client address drives the whole load and the conformance run
                # (registrations, resets, logins by the hundred): the limits stay on,
                # wide, as a deployer would set them for a load test.
                **{name: "100000 per minute" for name in WIDE_LIMITS},
                "LOG_LEVEL": "WARNING",
            }
            running = Stack(workdir, database, cache.url, free_port(), settings=features)
            running.start()
            running.postgres, running.cache, running.mail = postgres, cache, mail
            running.receiver, running.sentry, running.database = receiver, sentry, database
            yield running
    finally:
        try:
            if running is not None:
                running.stop()
        finally:
            if database is not None:
                with contextlib.suppress(Exception):
                    drop_database(database)
            stop_process(receiver.process)
            sentry.shutdown()
            sentry.server_close()
            cache.stop()
            postgres.stop()
            shutil.rmtree(workdir, ignore_errors=True)
            _write_figures()


def _write_figures():
    if RESULTS:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(RESULTS, indent=2) + "\n")


def _direct_engine(stack):
    """Straight to the stack's database (not through PgBouncer), for the checks."""
    return create_engine(stack.database, poolclass=NullPool)


def _app(stack):
    """An app of this process on the stack's database, with the instances' key (so
    the tokens and cursors it signs are the instances' own)."""
    from app import create_app

    return create_app({"DATABASE_URL": stack.database, "SECRET_KEY": stack.settings["SECRET_KEY"]})


def _add_user(stack, role):
    from extensions import db
    from models import User

    with _app(stack).app_context():
        user = User(name=f"Stack {role}", email=f"{role}-{uuid.uuid4().hex[:8]}@example.com")
        user.role = role
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        email = user.email
        for engine in db.engines.values():  # the session's and the autocommit engine
            engine.dispose()
    return email


def _token(stack, email):
    login = call(stack.port, "POST", "/api/auth/login", body={"email": email, "password": PASSWORD})
    assert login.status == 200, login.body
    return login.json()["access_token"]


def _kill_workers(stack):
    killed = []
    for master in stack.masters():
        for worker in _children(master):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
                killed.append(worker)
    return killed


# --- every optional feature is on -------------------------------------------------------


def test_every_optional_feature_answers_through_nginx(stack):
    port = stack.port
    token = stack.settings["METRICS_TOKEN"]
    assert call(port, "GET", "/metrics").status == 401
    metrics = call(port, "GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert metrics.status == 200 and b"http_requests_total" in metrics.body
    forged = call(port, "GET", "/api/products", headers={"Host": "evil.example.net"})
    assert forged.status == 400 and forged.json()["code"] == "INVALID_HOST"

    trace_id = secrets.token_hex(16)
    traced = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    assert call(port, "GET", "/api/products", headers=traced).status == 200
    assert _wait(lambda: any(s["trace_id"] == trace_id for s in stack.receiver.spans()), 30)

    email = _add_user(stack, "viewer")
    reset = call(port, "POST", "/api/auth/password-reset", body={"email": email})
    assert reset.status == 202
    assert _wait(lambda: any(email in m.rcpt_tos for m in stack.mail.inbox), 30)
    # Redis holds the limits and the cache.
    import redis

    client = redis.Redis.from_url(stack.cache.url)
    try:
        keys = [key.decode() for key in client.scan_iter(count=1000)]
    finally:
        client.close()
    assert any("LIMITER" in key for key in keys), keys[:20]
    RESULTS["features"] = "metrics with token, TRUSTED_HOSTS, OTLP traces, SMTP mail, Redis"


def test_a_trace_request_is_refused_by_nginx_as_problem_details(stack):
    """nginx refuses TRACE itself, before any instance sees it; its own page was HTML
    without ``Allow`` (found by the conformance run below)."""
    request = f"TRACE /api/config HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(stack.port, request.encode())
    assert answer.status == 405
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert json.loads(answer.body)["code"] == "METHOD_NOT_ALLOWED"
    assert "TRACE" not in answer.headers["Allow"] and "GET" in answer.headers["Allow"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


# --- the conformance run, through nginx -------------------------------------------------

# tests/test_api_conformance.py's run (same document, settings, callers, seeded world
# and hooks for real tokens, ids, ETags and cursors), sent over HTTP to nginx with the
# Host the stack trusts. The world is reset in the stack's own database, directly.
STACK_SCHEMA = schemathesis.openapi.from_dict(
    conformance.APP_UNDER_TEST.app.test_client().get("/api/openapi.json").get_json(),
    config=schemathesis.Config.from_dict(conformance.CONFIG),
)
stack_public = STACK_SCHEMA.include(lambda ctx: not ctx.operation.definition.raw.get("security"))
stack_protected = STACK_SCHEMA.include(
    lambda ctx: bool(ctx.operation.definition.raw.get("security"))
)


class StackWorld(conformance.World):
    """The conformance run's world, its requests addressed to the stack's host."""

    def __init__(self, app, host, base_url):
        super().__init__(app)
        self.host, self.base_url = host, base_url

    def prepare(self, caller):
        return {"Host": self.host, **super().prepare(caller)}


@pytest.fixture(scope="module")
def stack_world(stack):
    app = _app(stack)
    yield StackWorld(app, stack.host, f"http://127.0.0.1:{stack.port}")
    with app.app_context():
        from extensions import db

        for engine in db.engines.values():  # the session's and the autocommit engine
            engine.dispose()


@pytest.mark.parametrize("caller", ["anonymous"])
@stack_public.parametrize()
@conformance.ONE_APP_PER_OPERATION
def test_conformance_through_nginx_public(case, caller, stack_world):
    conformance.call_and_validate(case, caller, stack_world)


@pytest.mark.parametrize("caller", ["anonymous", *conformance.SEEDED_ROLES])
@stack_protected.parametrize()
@conformance.ONE_APP_PER_OPERATION
def test_conformance_through_nginx_protected(case, caller, stack_world):
    conformance.call_and_validate(case, caller, stack_world)


# --- the hostile-input corpus, through nginx -------------------------------------------


def _raw_request(method, probe, headers):
    target = probe.path + (f"?{probe.query}" if probe.query else "")
    sent = {"Host": HOST, "Connection": "close", **headers, **probe.headers}
    body = probe.body or b""
    if probe.body is not None:
        sent["Content-Length"] = str(len(body))
        if probe.content_type:
            sent["Content-Type"] = probe.content_type
    head = f"{method.upper()} {target} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in sent.items())
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


def test_the_hostile_input_corpus_through_nginx_gets_no_5xx_no_html_and_writes_nothing(stack):
    """tests/test_hostile_input.py's corpus, sent as raw bytes to nginx, as an admin
    and anonymously (the in-process test also checks each exact code)."""
    from tests.test_hostile_input import OPERATIONS, corpus

    admin = {"Authorization": f"Bearer {_token(stack, _add_user(stack, 'admin'))}"}
    tables = ("users", "products", "feedback")
    count = text(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM products),"
        " (SELECT count(*) FROM feedback)"
    )
    with _direct_engine(stack).connect() as connection:
        before = tuple(connection.execute(count).one())
    sent, statuses, bad = 0, Counter(), []
    limit = int(stack.settings.get("MAX_CONTENT_LENGTH", 1024 * 1024))
    for path, method, operation in OPERATIONS:
        for probe in corpus(path, method, operation, limit):
            if probe.stream is not None:
                continue  # a chunked body: nginx reads it whole first (buffered)
            for headers in (admin, {}):
                answer = raw_exchange(stack.port, _raw_request(method, probe, headers))
                sent += 1
                statuses[answer.status] += 1
                kind = answer.headers.get("Content-Type", "")
                if (
                    answer.status >= 500
                    or "html" in kind
                    or (answer.status >= 400 and not kind.startswith("application/problem+json"))
                ):
                    bad.append((method, probe.name, answer.status, kind, answer.body[:200]))
    with _direct_engine(stack).connect() as connection:
        after = tuple(connection.execute(count).one())
    RESULTS["hostile_input"] = {
        "requests": sent,
        "failures": len(bad),
        "answers_by_status": dict(sorted(statuses.items())),
    }
    assert bad == [], bad[:10]
    assert dict(zip(tables, after, strict=True)) == dict(zip(tables, before, strict=True))


# --- rolling restarts under load ---------------------------------------------------------


def test_two_rolling_restarts_under_load_fail_no_request(stack):
    editor, viewer = _add_user(stack, "editor"), _add_user(stack, "viewer")
    token = _token(stack, editor)
    auth = {"Authorization": f"Bearer {token}"}
    ids = []
    for number in range(4):
        body = {"name": f"rolling {number}", "price": "5.00", "category": "seed"}
        created = call(stack.port, "POST", "/api/products", body=body, headers=auth)
        assert created.status == 201, created.body
        ids.append(created.json()["id"])
    load = Load(stack.port, token, viewer, ids[:3], ids[3])
    threads = load.threads()
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS_BEFORE)
    runs = []
    env = {
        **os.environ,
        "PIDFILE_TEMPLATE": f"{stack.workdir}/%i.pid",
        "ENV_FILE": str(stack.env_file()),
    }
    masters_before = [stack.pidfile(port).read_text().strip() for port in stack.ports]
    for _ in range(2):
        runs.append(
            subprocess.run(  # noqa: S603 -- the script in deploy/, as shipped
                [str(ROOT / "deploy" / "rolling-restart.sh"), *map(str, stack.ports)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        )
    time.sleep(LOAD_SECONDS_AFTER)
    load.stop.set()
    for thread in threads:
        thread.join(timeout=120)
    masters_after = [stack.pidfile(port).read_text().strip() for port in stack.ports]
    restarts = sum(run.stderr.count("gunicorn-reexec: master ") for run in runs)
    total = sum(count for kind, count in load.requests.items() if kind != "failed")
    RESULTS["rolling_restarts"] = {
        "requests": total,
        "failures": len(load.failures),
        "restarts": restarts,
        "by_kind": dict(load.requests),
    }
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    assert restarts == 4 and masters_before != masters_after
    assert load.failures == [], load.failures[:20]
    with _direct_engine(stack).connect() as connection:
        rows = connection.execute(
            text("SELECT name, count(*) FROM products WHERE category LIKE 'load-%' GROUP BY name")
        ).all()
    assert load.intended and dict(rows) == {name: 1 for name in load.intended}


# --- exports cut part-way ------------------------------------------------------------


def _cut_export(stack, token, tmp_path, cut):
    target = tmp_path / f"export-{cut.__name__}.ndjson"
    curl = start_export_download(stack.port, token, target)
    try:
        assert wait_for_bytes(target, CUT_AFTER_BYTES, curl), curl.stderr
        cut(stack)
        _, error = curl.communicate(timeout=60)
    finally:
        stop_process(curl)
    return curl.returncode, target.read_bytes().count(b"\n"), error


def _restart_postgresql(stack):
    stack.postgres.restart()


def test_an_export_cut_by_a_worker_kill_or_a_postgresql_restart_is_incomplete(stack, tmp_path):
    from demo import add_bulk_products
    from extensions import db

    with _app(stack).app_context():
        add_bulk_products(EXPORT_ROWS)
        for engine in db.engines.values():  # the session's and the autocommit engine
            engine.dispose()
    token = _token(stack, _add_user(stack, "editor"))
    outcomes = {}
    for cut in (_kill_workers, _restart_postgresql):
        code, lines, error = _cut_export(stack, token, tmp_path, cut)
        outcomes[cut.__name__] = {
            "curl_exit": code,
            "curl_error": error.strip(),
            "rows": lines,
            "detected": code == CURL_PARTIAL_FILE,
        }
        assert _wait(lambda: call(stack.port, "GET", "/readyz").status == 200)
    RESULTS["exports_cut"] = outcomes
    for outcome in outcomes.values():
        assert outcome["curl_exit"] == CURL_PARTIAL_FILE and outcome["rows"] < EXPORT_ROWS, outcomes


# --- faults under a retrying create load -----------------------------------------------


class Creates:
    """Client threads creating products, each retried with its key until a 201."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.lock = threading.Lock()
        self.requests, self.retries = 0, 0
        self.statuses, self.errors = Counter(), Counter()
        self.intended, self.confirmed, self.given_up, self.unexpected = [], set(), [], []

    def create(self, marker):
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": str(uuid.uuid4())}
        body = {"name": "Stack fault", "price": "1.00", "category": "faults", "description": marker}
        with self.lock:
            self.intended.append(marker)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                with self.lock:
                    self.retries += 1
                time.sleep(min(0.1 * 2 ** (attempt - 1), 2.0))
            try:
                answer = call(self.port, "POST", "/api/products", body=body, headers=headers)
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.requests += 1
                    self.errors[type(exc).__name__] += 1
                continue
            with self.lock:
                self.requests += 1
                self.statuses[answer.status] += 1
            if answer.status == 201:
                with self.lock:
                    self.confirmed.add(marker)
                return
            json_answer = answer.content_type.partition(";")[0] in {
                "application/json",
                "application/problem+json",
            }
            if not json_answer or (
                answer.status not in (409, 502, 503, 504) and answer.status < 500
            ):
                with self.lock:
                    self.unexpected.append((answer.status, answer.body[:200]))
                return
        with self.lock:
            self.given_up.append(marker)

    def run(self, number, until):
        count = 0
        while time.monotonic() < until:
            self.create(f"stack-fault-{number}-{count}-{uuid.uuid4().hex}")
            count += 1
            time.sleep(0.05)


def _restart_pgbouncer(stack):
    process = next(p for n, p in stack.processes if n == "pgbouncer" and p.poll() is None)
    stop_process(process)
    stack.start_pgbouncer()


def test_every_create_happens_once_through_faults_behind_nginx(stack):
    token = _token(stack, _add_user(stack, "editor"))
    creates = Creates(stack.port, token)
    started = time.monotonic()
    until = started + FAULT_SECONDS
    clients = [
        threading.Thread(target=creates.run, args=(n, until), daemon=True)
        for n in range(FAULT_CLIENTS)
    ]
    for thread in clients:
        thread.start()
    faults = {}

    def at(seconds):
        time.sleep(max(0.0, started + seconds - time.monotonic()))

    at(3)
    faults["worker_killed"] = len(_kill_workers(stack))
    at(8)
    stack.postgres.restart()
    faults["postgresql_restarted"] = True
    at(14)
    _restart_pgbouncer(stack)
    faults["pgbouncer_restarted"] = True
    at(20)
    stack.cache.stop()
    faults["redis_stopped"] = True
    at(24)
    stack.cache.start()
    faults["redis_started"] = True
    for thread in clients:
        thread.join(timeout=FAULT_SECONDS + MAX_ATTEMPTS * 3)
    assert not any(thread.is_alive() for thread in clients)

    with _direct_engine(stack).connect() as connection:
        found = Counter(connection.execute(text("SELECT description FROM products")).scalars())
    missing = [m for m in creates.intended if found[m] == 0]
    duplicated = [m for m in creates.intended if found[m] > 1]
    RESULTS["faults"] = {
        "requests": creates.requests,
        "retries": creates.retries,
        "creates_intended": len(creates.intended),
        "creates_found_once": len(creates.intended) - len(missing) - len(duplicated),
        "missing": len(missing),
        "duplicated": len(duplicated),
        "answers_by_status": dict(sorted(creates.statuses.items())),
        "transport_errors": dict(creates.errors),
        "faults": faults,
    }
    assert not creates.unexpected and not creates.given_up, RESULTS["faults"]
    assert creates.intended and not missing and not duplicated, RESULTS["faults"]
    assert _wait(lambda: call(stack.port, "GET", "/readyz").status == 200)


# --- slow clients ---------------------------------------------------------------------


def _slow_client(port, stop, sent):
    body = json.dumps({"name": "Slow client", "email": "slow@example.com", "message": "x" * 40})
    head = (
        f"POST /api/feedback HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(head)
        for byte in body.encode():
            if stop.is_set():
                return
            sock.sendall(bytes([byte]))
            sent[0] += 1
            stop.wait(1.0)


def test_sixty_slow_clients_leave_health_and_reads_answering(stack):
    port = stack.port
    product = call(
        port,
        "POST",
        "/api/products",
        body={"name": "read me", "price": "1.00", "category": "slow"},
        headers={"Authorization": f"Bearer {_token(stack, _add_user(stack, 'editor'))}"},
    ).json()["id"]
    stop, sent = threading.Event(), [0]
    slow = [
        threading.Thread(target=_slow_client, args=(port, stop, sent), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for thread in slow:
        thread.start()
    time.sleep(2)
    timings = {"/healthz": [], f"/api/products/{product}": []}
    failures = 0
    deadline = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < deadline:
        for path, taken in timings.items():
            begun = time.perf_counter()
            status = call(port, "GET", path).status
            taken.append((time.perf_counter() - begun) * 1000)
            failures += status != 200
    stop.set()
    for thread in slow:
        thread.join(timeout=15)

    def p99(values):
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1)

    RESULTS["slow_clients"] = {
        "clients": SLOW_CLIENTS,
        "body_bytes_sent_at_1_per_s": sent[0],
        "requests": sum(map(len, timings.values())),
        "failures": failures,
        "p99_ms": {path: p99(taken) for path, taken in timings.items()},
        "target_p99_ms": 50,
    }
    assert failures == 0, RESULTS["slow_clients"]
    assert sent[0] >= SLOW_CLIENTS * SLOW_SECONDS // 2  # the slow clients were really sending


def test_print_the_figures(stack, capsys):
    with capsys.disabled():
        print("\nstack figures:\n" + json.dumps(RESULTS, indent=2))
    _write_figures()
    assert RESULTS
