"""The production topology: nginx -> two instances -> PgBouncer -> PostgreSQL, + Redis.

The main test runs the files in ``deploy/`` as they are, with only addresses and
paths changed (templated by ``deploy/stack.py``, which ``python3 dev.py stack``
runs): PgBouncer in transaction pooling in front of the test database, two
gunicorn instances (two workers each) with the settings of
``deploy/flask-api.env.example`` (production, ``DB_POOLER=pgbouncer``,
``TRUSTED_PROXIES=1``, ``TRUSTED_HOSTS``) and the test Redis, and nginx in front
of both. A mixed load runs through nginx while ``deploy/rolling-restart.sh``
re-executes each instance in turn; nothing may be lost. Another test kills the
workers in the middle of an export: curl, through nginx, must report it
incomplete.

It runs in ``.ci/run``'s PostgreSQL and Redis stage and needs the ``nginx`` and
``pgbouncer`` binaries (Debian packages of those names); it is skipped without
them, and fails instead under ``TEST_REQUIRE_SERVICES=1``. Everything listens on
loopback ports the test picks; every loop and wait is bounded; the test stops
the processes it started (by pid), also when it fails.
"""

import contextlib
import ctypes
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from config import ConfigError, load_settings
from deploy.stack import first_trusted_host, instance_settings, nginx_conf, pgbouncer_ini
from extensions import db
from models import Product
from models.engine import engine_options
from tests.conftest import skip_or_fail
from tests.helpers import PASSWORD
from tests.servers import Gunicorn, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

START_TIMEOUT = 60  # seconds for an instance to answer /readyz
RESTART_TIMEOUT = 240  # seconds for the whole rolling restart
REQUEST_TIMEOUT = 40  # above nginx's proxy_read_timeout: nginx answers first
WARMUP = 3  # seconds of load before the restarts begin
TAIL = 3  # seconds of load after they end
LOAD_CAP = RESTART_TIMEOUT + WARMUP + TAIL + 30  # no load thread runs longer
CREATE_ATTEMPTS = 5
LOGIN_LIMIT = 30  # RATELIMIT_LOGIN per minute for the instances
LOAD_LOGINS = 15  # logins the load makes from 127.0.0.1, well under the limit
SERVER_POOL = 3  # PgBouncer server connections: fewer than the clients, so they rotate
# The instances run with deploy/flask-api.env.example's settings, TRUSTED_HOSTS
# included: clients send its first name, as they would send the real one.
HOST = first_trusted_host(instance_settings("unused"))
OTHER_CLIENT = "127.0.0.2"  # a second client address on loopback
FORGED_ADDRESS = "198.51.100.7"  # what that client claims to be in X-Forwarded-For


# --- DB_POOLER: the setting alone (runs everywhere) ------------------------------


def test_db_pooler_defaults_to_none_and_names_itself_when_wrong(tmp_path):
    assert load_settings({}, str(tmp_path))["DB_POOLER"] == "none"
    assert load_settings({"DB_POOLER": " PgBouncer "}, str(tmp_path))["DB_POOLER"] == "pgbouncer"
    with pytest.raises(ConfigError) as caught:
        load_settings({"DB_POOLER": "pgpool"}, str(tmp_path))
    assert caught.value.name == "DB_POOLER"


@pytest.mark.parametrize(("pooler", "prepares"), [("none", True), ("pgbouncer", False)])
def test_db_pooler_pgbouncer_turns_prepared_statements_off(make_app, pooler, prepares):
    """psycopg prepares a query it has run 5 times on one connection, unless told not to."""
    app = make_app(DB_POOLER=pooler)
    options = engine_options(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert "prepare_threshold" not in options["connect_args"]
        return
    assert "pool_pre_ping" not in options  # a round trip per checkout; FastRead recovers
    with app.app_context(), db.engine.connect() as connection:
        for _ in range(8):
            connection.execute(text("SELECT count(*) FROM products WHERE price > :p"), {"p": 1})
        prepared = connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))
        assert (prepared.scalar() > 0) is prepares


# --- the guide shows the shipped nginx configuration --------------------------------


def _proxy_directives(text):
    return [line.strip() for line in text.splitlines() if line.strip().startswith("proxy_")]


def test_the_guides_nginx_snippet_is_the_shipped_location_block():
    """A snippet without X-Forwarded-Host/-Port let clients pick the host: the
    guide shows every proxy_ directive of deploy/nginx.conf's location, no other."""
    shipped = (DEPLOY / "nginx.conf").read_text().split("location / {", 1)[1]
    shipped = shipped.split("\n        }", 1)[0]
    guide = (ROOT / "docs" / "topology.md").read_text()
    snippets = [block.split("```", 1)[0] for block in guide.split("```nginx\n")[1:]]
    assert len(snippets) == 1
    assert _proxy_directives(snippets[0]) == _proxy_directives(shipped)
    assert "proxy_set_header X-Forwarded-Host $host;" in snippets[0]


# --- behind PgBouncer: why DB_POOLER exists ---------------------------------------


@pytest.mark.parametrize("pooler", ["none", "pgbouncer"])
@pytest.mark.servers
def test_behind_pgbouncer_a_connection_outlives_its_transaction_only_with_db_pooler(
    bouncer, tmp_path, pooler
):
    """A connection that commits and goes on works through PgBouncer with DB_POOLER.

    Transaction pooling hands each transaction whichever server connection is
    free. psycopg prepares a statement it has run five times, on the server of
    that transaction, and later transactions of the same client connection
    assume it is still there; with ``DB_POOLER=none`` the next one lands on
    another server, where it is not. (PgBouncer 1.18, Debian 12's, cannot
    carry prepared statements; 1.21+ can with ``max_prepared_statements``.)
    """
    settings = load_settings(
        {"DATABASE_URL": bouncer.pooled_url, "DB_POOLER": pooler}, str(tmp_path)
    )
    engine = create_engine(settings["SQLALCHEMY_DATABASE_URI"], **engine_options(settings))
    query = text("SELECT count(*) FROM users WHERE id > :n")
    try:
        with engine.connect() as first, engine.connect() as second:
            for _ in range(6):  # prepared on its server from the 5th run on
                first.execute(query, {"n": 0})
            first.commit()
            second.execute(text("SELECT 1"))  # holds that server in a transaction
            if pooler == "none":
                with pytest.raises(DBAPIError, match="prepared statement"):
                    first.execute(query, {"n": 0})  # another server: not prepared there
            else:
                assert first.execute(query, {"n": 0}).scalar() == 0
            first.rollback()
            second.rollback()
    finally:
        engine.dispose()


# --- helpers ----------------------------------------------------------------------


def _binary(name):
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        skip_or_fail(f"needs the {name} binary (Debian package {name})")
    return found


def _alive(pid):
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reap(pid):
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _stop_pid(pid, sig=signal.SIGTERM, timeout=45):
    """Signal a process this test started (directly or by re-exec) and wait for it."""
    if not pid:
        return
    if not _alive(pid):
        _reap(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    _reap(pid)


@contextlib.contextmanager
def _subreaper():
    """Adopt the re-executed gunicorn masters (orphaned when the old master exits)."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    set_subreaper = 36  # PR_SET_CHILD_SUBREAPER
    adopted = prctl is not None and prctl(set_subreaper, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        if adopted:
            prctl(set_subreaper, 0, 0, 0, 0)


def _children(pid):
    """The pids of a process's children (from Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _read_pid(path):
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_for_port(port, process, log_path, what):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    pytest.fail(f"{what} did not start:\n{log_path.read_text()}")


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "")


def call(port, method, path, *, body=None, headers=None, source="127.0.0.1"):
    """One request on a fresh connection from ``source``; raises on a network error."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=REQUEST_TIMEOUT, source_address=(source, 0)
    )
    try:
        sent = {"Connection": "close", "Host": HOST, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def raw_exchange(port, data):
    """Send bytes as they are and read the answer until nginx closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):  # nginx may answer before reading it all
            sock.sendall(data)
        received = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return Response(int(lines[0].split()[1]), headers, body)


def assert_nginx_problem(response, status, code):
    assert response.status == status, response.body
    assert response.content_type == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["code"] == code
    assert problem["type"] == "about:blank" and problem["title"] and problem["detail"]
    assert problem["request_id"] == response.headers["X-Request-ID"]


# --- the processes ----------------------------------------------------------------


class Topology:
    """PgBouncer, two gunicorn instances and nginx, as deploy/ describes them."""

    def __init__(self, workdir, database_url):
        self.workdir = workdir
        self.processes = []  # (name, Popen), stopped in reverse order
        self.logs = []
        self.pgbouncer_port = free_port()
        self.ports = [free_port(), free_port()]
        self.nginx_port = free_port()
        pooled = make_url(database_url).set(host="127.0.0.1", port=self.pgbouncer_port)
        self.pooled_url = pooled.render_as_string(hide_password=False)
        # deploy/flask-api.env.example's settings (APP_ENV=production, DB_POOLER,
        # TRUSTED_PROXIES, TRUSTED_HOSTS ...), with the test's addresses and limits.
        self.settings = {
            **instance_settings(self.pooled_url),
            "RATELIMIT_DEFAULT": "100000 per minute",
            "RATELIMIT_LOGIN": f"{LOGIN_LIMIT} per minute",
            "LOG_LEVEL": "WARNING",
        }
        self.database_url = database_url

    def _spawn(self, name, argv, **kwargs):
        log_path = self.workdir / f"{name}.log"
        log = open(log_path, "w")  # noqa: SIM115 -- closed in stop()
        self.logs.append(log)
        process = subprocess.Popen(  # noqa: S603 -- the test's own argv
            argv, stdout=log, stderr=subprocess.STDOUT, **kwargs
        )
        self.processes.append((name, process))
        return process, log_path

    def start_pgbouncer(self):
        ini = pgbouncer_ini(
            self.workdir,
            self.pgbouncer_port,
            self.database_url,
            default_pool_size=SERVER_POOL,
            reserve_pool_size=0,
        )
        argv = [_binary("pgbouncer"), str(ini)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            argv = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]
        process, log_path = self._spawn("pgbouncer", argv)
        _wait_for_port(self.pgbouncer_port, process, log_path, "PgBouncer")

    def migrate(self):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, **self.settings},
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def env_file(self):
        return self.workdir / "flask-api.env"

    def pidfile(self, port):
        return self.workdir / f"{port}.pid"

    def start_instances(self, redis_url):
        instances = []
        self.settings.update(RATELIMIT_STORAGE_URI=redis_url, CACHE_URL=redis_url)
        # What /etc/flask-api/env holds; rolling-restart.sh takes its Host from it.
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))
        for port in self.ports:
            settings = {
                **self.settings,
                "GUNICORN_PIDFILE": str(self.pidfile(port)),
            }
            log_path = self.workdir / f"instance-{port}.log"
            instance = Gunicorn(settings, workers=2, log_path=log_path, port=port)
            # Stopped by pid with the other processes: a rolling restart replaces its master.
            self.processes.append((f"instance-{port}", instance.process))
            instances.append(instance)
        for instance in instances:
            instance.wait_ready("/readyz", START_TIMEOUT, host=HOST)

    def start_nginx(self):
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_conf(self.workdir, self.nginx_port, self.ports))
        argv = [_binary("nginx"), "-c", str(conf), "-p", f"{self.workdir}/", "-g", "daemon off;"]
        process, log_path = self._spawn("nginx", argv)
        _wait_for_port(self.nginx_port, process, log_path, "nginx")

    def masters(self):
        """The current gunicorn master of each instance, as its pid file says."""
        return [_read_pid(self.pidfile(port)) for port in self.ports]

    def kill_workers(self):
        """SIGKILL every worker of every instance (their masters start new ones)."""
        killed = []
        for master in filter(None, self.masters()):
            for worker in _children(master):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
                    killed.append(worker)
        return killed

    def stop_instances(self):
        for port in self.ports:
            pidfile = self.pidfile(port)
            for pid in (_read_pid(Path(f"{pidfile}.2")), _read_pid(pidfile)):
                _stop_pid(pid)
        for name, process in self.processes:
            if name.startswith("instance-"):
                _stop_pid(process.pid)
                process.poll()

    def stop(self):
        try:
            self.stop_instances()
        finally:
            for name, process in reversed(self.processes):
                if process.poll() is None:
                    _stop_pid(process.pid, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
                process.poll()
            for log in self.logs:
                log.close()


@pytest.fixture
def bouncer(make_app, database_url):
    """PgBouncer from deploy/pgbouncer.ini in front of the test database."""
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    _binary("pgbouncer")
    make_app()  # its teardown empties the tables the tests fill
    # Readable by the unprivileged users PgBouncer and nginx's workers run as.
    workdir = Path(tempfile.mkdtemp(prefix="topology-"))
    workdir.chmod(0o755)
    stack = Topology(workdir, database_url)
    try:
        with _subreaper():
            try:
                stack.start_pgbouncer()
                yield stack
            finally:
                stack.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def topology(bouncer, redis_url):
    """And two instances using it and Redis, behind nginx (stopped by ``bouncer``)."""
    _binary("nginx")
    bouncer.migrate()  # through PgBouncer, as a deployment would (the schema is current)
    bouncer.start_instances(redis_url)
    bouncer.start_nginx()
    return bouncer


# --- a release that cannot start -------------------------------------------------


@pytest.mark.servers
def test_a_release_that_cannot_start_leaves_the_old_master_serving(database_url, tmp_path):
    """gunicorn-reexec.sh retires the old master only once the new one has loaded the app."""
    for tool in ("bash", "ps", "pgrep"):
        if not shutil.which(tool):
            skip_or_fail(f"deploy/gunicorn-reexec.sh needs {tool}")
    release = tmp_path / "release"  # a copy of the code, so this test can break it
    shutil.copytree(
        ROOT,
        release,
        ignore=shutil.ignore_patterns(".*", "instance", "__pycache__", "tests", "docs", "bench"),
    )
    pidfile = tmp_path / "gunicorn.pid"
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "false",
        "GUNICORN_PIDFILE": str(pidfile),
    }
    with _subreaper():
        server = Gunicorn(settings, workers=2, log_path=tmp_path / "gunicorn.log", cwd=release)
        master, port = server.process, server.port
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _read_pid(pidfile) or not server.answers("/healthz"):
                assert time.monotonic() < deadline and master.poll() is None, "no start"
                time.sleep(0.2)

            with open(release / "app.py", "a") as app_py:
                app_py.write("\nraise RuntimeError('a release that cannot start')\n")
            reexec = subprocess.run(  # noqa: S603 -- the script in deploy/
                [str(DEPLOY / "gunicorn-reexec.sh"), str(pidfile)],
                env={**os.environ, "BOOT_TIMEOUT": "30"},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert reexec.returncode == 1, reexec.stderr
            assert "keeps serving" in reexec.stderr
            assert _read_pid(pidfile) == master.pid and master.poll() is None
            assert call(port, "GET", "/readyz").status == 200
            assert not Path(f"{pidfile}.2").exists()
        finally:
            _stop_pid(_read_pid(Path(f"{pidfile}.2")))
            _stop_pid(master.pid)
            master.poll()


# --- the load ---------------------------------------------------------------------


class Load:
    """Client threads hitting nginx until told to stop; every outcome is counted."""

    def __init__(self, port, editor_token, viewer_email, product_ids, update_id):
        self.port = port
        self.editor = {"Authorization": f"Bearer {editor_token}"}
        self.viewer_email = viewer_email
        self.product_ids = product_ids
        self.update_id = update_id
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.requests = Counter()
        self.failures = []
        self.intended = {}  # product name -> (Idempotency-Key, body) the creators sent
        self.last_price = None
        self.deadline = time.monotonic() + LOAD_CAP

    def running(self):
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def request(self, kind, method, path, expected, **kwargs):
        """Send, count and check one request; return the response or None on failure."""
        try:
            response = call(self.port, method, path, **kwargs)
        except (OSError, http.client.HTTPException) as exc:
            self.fail(f"{kind} {method} {path}: {type(exc).__name__}: {exc}")
            return None
        with self.lock:
            self.requests[kind] += 1
        html = b"<html" in response.body[:200].lower() or "html" in response.content_type
        if html or response.status not in expected:
            self.fail(f"{kind} {method} {path}: {response.status} {response.body[:200]!r}")
            return None
        return response

    def fail(self, what):
        with self.lock:
            self.requests["failed"] += 1
            self.failures.append(what)

    def reader(self, number):
        paths = ["/api/products?limit=5", "/api/config", "/healthz", "/readyz"]
        paths += [f"/api/products/{product_id}" for product_id in self.product_ids]
        step = number
        while self.running():
            self.request("read", "GET", paths[step % len(paths)], {200})
            step += 1

    def creator(self, number):
        while self.running():
            key = str(uuid.uuid4())
            body = {"name": f"load {key}", "price": "9.99", "category": f"load-{number}"}
            with self.lock:
                self.intended[body["name"]] = (key, body)
            headers = {**self.editor, "Idempotency-Key": key}
            for attempt in range(CREATE_ATTEMPTS):
                # A failed create is retried with the same key: with
                # Idempotency-Key the write still happens exactly once.
                kind = "create" if attempt == 0 else "create-retry"
                if self.request(kind, "POST", "/api/products", {201}, body=body, headers=headers):
                    break
                time.sleep(0.2)

    def updater(self):
        path = f"/api/products/{self.update_id}"
        price = 0
        while self.running():
            current = self.request("update", "GET", path, {200})
            if current is None:
                continue
            price += 1
            headers = {**self.editor, "If-Match": current.headers["ETag"]}
            body = {"price": f"{price}.00"}
            if self.request("update", "PATCH", path, {200}, body=body, headers=headers):
                self.last_price = f"{price}.00"

    def logger_in(self):
        for _ in range(LOAD_LOGINS):
            if not self.running():
                break
            body = {"email": self.viewer_email, "password": PASSWORD}
            login = self.request("login", "POST", "/api/auth/login", {200}, body=body)
            if login:
                token = login.json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                self.request("login", "GET", "/api/auth/me", {200}, headers=auth)
            self.stop.wait(1.0)

    def threads(self):
        targets = [(self.reader, 0), (self.reader, 1), (self.creator, 0), (self.creator, 1)]
        targets += [(self.updater,), (self.logger_in,)]
        return [threading.Thread(target=t[0], args=t[1:], daemon=True) for t in targets]


def _login_keys(redis_url):
    """Client address -> hits, from the rate limiter's counters of the login limit."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        found = {}
        for key in client.scan_iter(match="*login*", count=1000):
            match = re.search(r"LIMITER/([^/]+)/[^/]*login[^/]*/", key.decode())
            if match:
                found[match.group(1)] = int(client.get(key) or 0)
        return found
    finally:
        client.close()


@pytest.mark.servers
def test_rolling_restart_behind_nginx_and_pgbouncer_loses_nothing(
    topology, app, create_user, redis_url, capsys
):
    # Users and products, straight into the database.
    editor = create_user("editor")
    viewer = create_user("viewer")
    with app.app_context():
        products = [
            Product(name=f"seed {n}", price=Decimal("5.00"), category="seed") for n in range(4)
        ]
        db.session.add_all(products)
        db.session.commit()
        product_ids = [product.id for product in products]
    port = topology.nginx_port
    login = call(
        port, "POST", "/api/auth/login", body={"email": editor.email, "password": PASSWORD}
    )
    assert login.status == 200, login.body
    load = Load(port, login.json()["access_token"], viewer.email, product_ids[:3], product_ids[3])
    masters_before = topology.masters()

    # The load, and the documented restart procedure in the middle of it.
    threads = load.threads()
    for thread in threads:
        thread.start()
    time.sleep(WARMUP)
    served_before = sum(load.requests.values())
    started = time.monotonic()
    restart = subprocess.run(  # noqa: S603 -- the script in deploy/
        [str(DEPLOY / "rolling-restart.sh"), *map(str, topology.ports)],
        env={
            **os.environ,
            "PIDFILE_TEMPLATE": f"{topology.workdir}/%i.pid",
            "ENV_FILE": str(topology.env_file),
        },
        capture_output=True,
        text=True,
        timeout=RESTART_TIMEOUT,
    )
    restart_seconds = time.monotonic() - started
    served_during = sum(load.requests.values()) - served_before
    time.sleep(TAIL)
    load.stop.set()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT * CREATE_ATTEMPTS)
    assert not any(thread.is_alive() for thread in threads)
    masters_after = topology.masters()
    restarts = sum(
        1 for old, new in zip(masters_before, masters_after, strict=True) if new and new != old
    )

    total = sum(count for kind, count in load.requests.items() if kind != "failed")
    with capsys.disabled():
        print(
            f"\ntopology load: {total} requests ({dict(load.requests)}), "
            f"{served_during} served during {restart_seconds:.1f} s of restarts, "
            f"{restarts} restarts, {len(load.failures)} failures, "
            f"{len(load.intended)} creates"
        )
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert restarts == 2, (masters_before, masters_after, restart.stderr)
    assert served_during > 0
    # No connection reset, no 502/503/504, no HTML answer, no other surprise.
    assert load.failures == [], load.failures[:20]

    # Every intended create is in the database exactly once, and the last
    # conditional update is the one that stuck.
    with app.app_context():
        rows = db.session.execute(
            text("SELECT name, count(*) FROM products WHERE category LIKE 'load-%' GROUP BY name")
        ).all()
        final_price = db.session.get(Product, product_ids[3]).price
    assert load.intended and dict(rows) == {name: 1 for name in load.intended}
    assert load.last_price and str(final_price) == load.last_price

    # A create sent again with its key, to whichever instance nginx picks, is
    # answered from the stored response and writes nothing.
    name, (key, body) = next(iter(load.intended.items()))
    headers = {**load.editor, "Idempotency-Key": key}
    replay = call(port, "POST", "/api/products", body=body, headers=headers)
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["name"] == name
    with app.app_context():
        same_name = text("SELECT count(*) FROM products WHERE name = :n")
        count = db.session.scalar(same_name, {"n": name})
    assert count == 1

    # Ready at the end: through nginx and on each instance.
    assert call(port, "GET", "/readyz").status == 200
    for instance_port in topology.ports:
        assert call(instance_port, "GET", "/readyz").status == 200

    # Rate limits count the real client address, which nginx passes on, not
    # nginx's own address nor one the client makes up: a second client
    # (127.0.0.2, claiming another address) has its own login budget...
    forged = {"X-Forwarded-For": FORGED_ADDRESS}
    body = {"email": viewer.email, "password": PASSWORD}
    for attempt in range(LOGIN_LIMIT):
        response = call(
            port, "POST", "/api/auth/login", body=body, headers=forged, source=OTHER_CLIENT
        )
        assert response.status == 200, response.body
        assert response.headers["RateLimit-Remaining"] == str(LOGIN_LIMIT - 1 - attempt)
    response = call(port, "POST", "/api/auth/login", body=body, headers=forged, source=OTHER_CLIENT)
    assert response.status == 429 and response.json()["code"] == "RATE_LIMITED"
    # ... which, spent, leaves 127.0.0.1's (used by the load) untouched.
    assert call(port, "POST", "/api/auth/login", body=body).status == 200
    counters = _login_keys(redis_url)
    assert set(counters) == {"127.0.0.1", OTHER_CLIENT}, counters
    assert counters[OTHER_CLIENT] > LOGIN_LIMIT

    # nginx's own answers are problem details too: a body above
    # MAX_CONTENT_LENGTH, a request line it cannot read...
    big = b"x" * (1024 * 1024 + 1)
    too_large = raw_exchange(
        port,
        b"POST /api/products HTTP/1.1\r\nHost: "
        + HOST.encode()
        + b"\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(big)}\r\nConnection: close\r\n\r\n".encode()
        + big,
    )
    assert_nginx_problem(too_large, 413, "PAYLOAD_TOO_LARGE")
    assert_nginx_problem(raw_exchange(port, b"NONSENSE\r\n\r\n"), 400, "MALFORMED_REQUEST")
    # ... and no instance left to answer.
    topology.stop_instances()
    assert_nginx_problem(call(port, "GET", "/api/products"), 502, "BAD_GATEWAY")


# --- an export cut part-way, through nginx ------------------------------------------

EXPORT_ROWS = 100_000  # seconds of streaming: long enough to be cut in the middle
CUT_AFTER_BYTES = 256 * 1024
CURL_PARTIAL_FILE = 18  # curl's exit status for "transfer closed with data remaining"


def start_export_download(port, token, target, *, host=HOST):
    """curl downloading the NDJSON export through nginx into ``target``."""
    curl = shutil.which("curl") or skip_or_fail("needs curl")
    return subprocess.Popen(  # noqa: S603 -- curl on the test's own loopback URL
        [
            curl,
            "-sS",
            "--max-time",
            str(REQUEST_TIMEOUT),
            "-o",
            str(target),
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            f"Host: {host}",
            f"http://127.0.0.1:{port}/api/products/export",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_bytes(path, size, process, timeout=REQUEST_TIMEOUT):
    """Wait until ``path`` holds ``size`` bytes (False if ``process`` ended first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and path.stat().st_size >= size:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.servers
def test_an_export_cut_by_a_killed_worker_is_incomplete_for_the_client_behind_nginx(
    topology, app, create_user, tmp_path
):
    """Contract section 4: a cut export never ends cleanly, also through deploy/nginx.conf.

    Over HTTP/1.0 to gunicorn nginx took the closed upstream connection for the
    end of the answer and finished it cleanly (curl exit 0, part of the rows).
    """
    from demo import add_bulk_products

    editor = create_user("editor")
    with app.app_context():
        add_bulk_products(EXPORT_ROWS)
    port = topology.nginx_port
    login = call(
        port, "POST", "/api/auth/login", body={"email": editor.email, "password": PASSWORD}
    )
    token = login.json()["access_token"]

    target = tmp_path / "export.ndjson"
    curl = start_export_download(port, token, target)
    try:
        assert wait_for_bytes(target, CUT_AFTER_BYTES, curl), curl.stderr
        killed = topology.kill_workers()
        _, error = curl.communicate(timeout=REQUEST_TIMEOUT + 5)
    finally:
        stop_process(curl)
    lines = target.read_bytes().count(b"\n")
    assert killed
    assert 0 < lines < EXPORT_ROWS
    assert curl.returncode == CURL_PARTIAL_FILE, (curl.returncode, error, lines)
    # The instances come back by themselves (gunicorn replaces its workers).
    assert call(port, "GET", "/readyz").status == 200
