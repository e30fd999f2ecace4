"""The production topology on one machine, from the files in deploy/ as shipped.

    python3 dev.py stack [--postgres URL] [--redis URL] [--port N]

nginx (deploy/nginx.conf) -> two gunicorn instances (deploy/flask-api.env.example,
APP_ENV=production) -> PgBouncer (deploy/pgbouncer.ini) -> PostgreSQL, with Redis
for the rate limits and the server cache. The files are changed only in ports,
paths and the secrets a copy gets by hand (SECRET_KEY, the database's address).

It uses the PostgreSQL and Redis it is given (default 127.0.0.1:5432 as
``postgres`` and 127.0.0.1:6379/0), creates a database of its own there,
``flask_api_stack_<random>``, marked with a comment, and drops that one database
when it stops; it never drops one it did not create. Ctrl+C (or SIGTERM) stops
every process it started. ``tests/test_topology.py`` templates the same files
with the functions below.
"""

import argparse
import configparser
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent  # the virtual environment's programs
INSTANCE_PORTS = (8001, 8002)  # as shipped in nginx.conf and the systemd unit
DATABASE_MARKER = "flask-api stack: created by deploy/stack.py, dropped when it stops"
START_TIMEOUT = 60
STOP_GRACE = 40  # above gunicorn's graceful_timeout (30 s)
UNPRIVILEGED = "postgres"  # PgBouncer refuses to run as root


class Missing(Exception):
    """Something the stack needs is not there; the message says what and how to get it."""


# --- the shipped files, with this machine's ports and paths ---------------------------


def _sub_once(pattern, replacement, text, flags=re.M):
    result, count = re.subn(pattern, replacement, text, flags=flags)
    if count != 1:
        raise ValueError(f"deploy file changed: {pattern!r} matched {count} times")
    return result


def nginx_conf(workdir, port, upstream_ports):
    """deploy/nginx.conf listening on ``port`` in front of ``upstream_ports``; its
    pid, logs and temporary files in ``workdir``; everything else as shipped."""
    conf = (DEPLOY / "nginx.conf").read_text()
    if os.geteuid() != 0:
        conf = _sub_once(r"^user .*;\n", "", conf)
    conf = _sub_once(r"^pid .*;$", f"pid {workdir}/nginx.pid;", conf)
    conf = _sub_once(r"^error_log .*;$", f"error_log {workdir}/nginx-error.log notice;", conf)
    conf = _sub_once(r"access_log \S+ api;", f"access_log {workdir}/nginx-access.log api;", conf)
    conf = _sub_once(r"listen 80;", f"listen 127.0.0.1:{port};", conf)
    for shipped, port_here in zip(INSTANCE_PORTS, upstream_ports, strict=True):
        conf = _sub_once(rf"server 127\.0\.0\.1:{shipped} ", f"server 127.0.0.1:{port_here} ", conf)
    temp_paths = "".join(
        f"    {kind}_temp_path {workdir}/nginx-{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return _sub_once(r"^http \{\n", "http {\n" + temp_paths, conf)


def pgbouncer_ini(workdir, port, database_url, **overrides):
    """deploy/pgbouncer.ini on ``port`` in front of ``database_url``'s database.

    The auth_file holds the URL's user with its password in plain text (PgBouncer
    accepts that beside SCRAM secrets); a URL without a password means a server
    that trusts loopback clients, so PgBouncer trusts them too. ``overrides``
    are further [pgbouncer] settings (the test's smaller pools)."""
    from sqlalchemy.engine import make_url

    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read(DEPLOY / "pgbouncer.ini")
    settings = parser["pgbouncer"]
    url = make_url(database_url)
    parser.remove_section("databases")
    server = f"host={url.host or '127.0.0.1'} port={url.port or 5432}"
    parser["databases"] = {url.database: f"{server} dbname={url.database}"}
    settings.update(
        {
            "listen_addr": "127.0.0.1",
            "listen_port": str(port),
            "unix_socket_dir": "",
            "logfile": "",
            "pidfile": "",
            "auth_file": f"{workdir}/userlist.txt",
            "stats_users": url.username,
        }
    )
    if not url.password:
        settings["auth_type"] = "trust"
    settings.update({key: str(value) for key, value in overrides.items()})
    userlist = workdir / "userlist.txt"
    userlist.write_text(f'"{url.username}" "{url.password or ""}"\n')
    path = workdir / "pgbouncer.ini"
    with open(path, "w") as out:
        parser.write(out)
    if os.geteuid() == 0:  # readable by PgBouncer's own user only
        shutil.chown(userlist, UNPRIVILEGED)
        shutil.chown(path, UNPRIVILEGED)
        userlist.chmod(0o600)
    return path


def instance_settings(pooled_url, redis_url=None):
    """deploy/flask-api.env.example's settings, with a real key and these addresses.

    Without ``redis_url`` (a one-off command such as a migration) limits and cache
    stay in the process."""
    settings = {}
    for line in (DEPLOY / "flask-api.env.example").read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.lstrip().startswith("#"):
            settings[name.strip()] = value.strip()
    settings.update(
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=pooled_url,
        RATELIMIT_STORAGE_URI=redis_url or "memory://",
        CACHE_URL=redis_url or "simple://",
        FLASK_SKIP_DOTENV="1",
    )
    return settings


def first_trusted_host(settings):
    """The name a client of these settings sends as Host (as rolling-restart.sh picks it)."""
    first = settings.get("TRUSTED_HOSTS", "").split(",")[0].strip()
    return first.removeprefix(".") or "localhost"


def unprivileged(argv):
    """``argv`` run as an unprivileged user when this process is root."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}", "--init-groups", *argv]


def binary(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the command ---------------------------------------------------------------------


def _check_tools():
    missing = [name for name in ("nginx", "pgbouncer") if not binary(name)]
    if os.geteuid() == 0 and not binary("setpriv"):
        missing.append("util-linux (setpriv)")
    if missing:
        raise Missing(
            f"missing: {', '.join(missing)}. On Debian or Ubuntu: "
            f"sudo apt-get install {' '.join(m.split()[0] for m in missing)}"
        )


def create_database(postgres_url):
    """A new database ``flask_api_stack_<random>`` on that server, marked as the stack's."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from deploy.marked_databases import create_marked

    url = make_url(postgres_url).set(drivername="postgresql+psycopg")
    try:
        return create_marked(url, f"flask_api_stack_{secrets.token_hex(3)}", DATABASE_MARKER)
    except OperationalError as exc:
        where = f"{url.host or '127.0.0.1'}:{url.port or 5432}"
        raise Missing(
            f"PostgreSQL at {where} does not answer as user {url.username!r} "
            f"({type(exc.orig).__name__}). Start it, or name another with "
            "--postgres postgresql://USER[:PASSWORD]@HOST:PORT"
        ) from None
    except ProgrammingError:
        raise Missing(
            f"user {url.username!r} may not create databases; give one with CREATEDB "
            "(--postgres postgresql://USER[:PASSWORD]@HOST:PORT)"
        ) from None


def drop_database(database_url):
    """Drop the stack's database; any database without its marker is left alone."""
    from sqlalchemy.engine import make_url

    from deploy.marked_databases import drop_marked

    if drop_marked(database_url, DATABASE_MARKER):
        return True
    name = make_url(database_url).database
    print(f"Not dropping {name}: the stack did not create it.", file=sys.stderr)
    return False


def _check_redis(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Missing(
            f"Redis at {redis_url} does not answer ({exc}). Start it (apt-get install "
            "redis-server), or name another with --redis redis://HOST:PORT/DB"
        ) from None
    finally:
        client.close()


class Stack:
    """PgBouncer, two gunicorn instances and nginx; ``stop()`` ends what ``start()`` began."""

    def __init__(self, workdir, database_url, redis_url, port, settings=None):
        """``settings`` are added to the env file's (the CI stage turns every
        optional feature on with them)."""
        from sqlalchemy.engine import make_url

        self.workdir = workdir
        self.database_url = database_url
        self.port = port
        self.pgbouncer_port = free_port()
        self.ports = [free_port(), free_port()]
        pooled = make_url(database_url).set(host="127.0.0.1", port=self.pgbouncer_port)
        self.settings = instance_settings(pooled.render_as_string(hide_password=False), redis_url)
        self.settings.update(settings or {})
        self.host = first_trusted_host(self.settings)
        self.processes = []  # (name, Popen), stopped in reverse order

    def _spawn(self, name, argv, env=None):
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 -- the child keeps it
        with log:
            process = subprocess.Popen(  # noqa: S603 -- the stack's own programs
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append((name, process))
        return process

    def _wait(self, name, process, ready):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if ready():
                return
            time.sleep(0.2)
        log = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
        raise Missing(f"{name} did not start; the end of its log:\n{log}")

    def _listening(self, port):
        def check():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        return check

    def _ready(self, port):
        def check():
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/readyz", headers={"Host": self.host}
            )
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(request, timeout=5) as answer,  # noqa: S310 -- loopback
            ):
                return answer.status == 200
            return False

        return check

    def env_file(self):
        """The instances' settings as /etc/flask-api/env would hold them (for the scripts)."""
        return self.workdir / "flask-api.env"

    def start_pgbouncer(self):
        ini = pgbouncer_ini(self.workdir, self.pgbouncer_port, self.database_url)
        process = self._spawn("pgbouncer", unprivileged([binary("pgbouncer"), str(ini)]))
        self._wait("pgbouncer", process, self._listening(self.pgbouncer_port))
        return process

    def start(self):
        self.start_pgbouncer()
        env = {**os.environ, **self.settings}
        self.env_file().write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))
        self.env_file().chmod(0o600)
        migrate = [str(BIN / "flask"), "--app", "app", "db", "upgrade"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)  # noqa: S603
        for port in self.ports:
            instance_env = {
                **env,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_PIDFILE": str(self.pidfile(port)),
            }
            gunicorn = [str(BIN / "gunicorn"), "app:create_app()", "--config", "gunicorn.conf.py"]
            self._spawn(f"instance-{port}", gunicorn, instance_env)
        for port, (name, process) in zip(self.ports, self.processes[1:], strict=True):
            self._wait(name, process, self._ready(port))
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_conf(self.workdir, self.port, self.ports))
        nginx = [binary("nginx"), "-c", str(conf), "-p", f"{self.workdir}/", "-g", "daemon off;"]
        self._wait("nginx", self._spawn("nginx", nginx), self._ready(self.port))

    def pidfile(self, port):
        return self.workdir / f"{port}.pid"

    def masters(self):
        """The current gunicorn masters: a rolling restart replaces the ones started."""
        found = []
        for port in self.ports:
            for path in (self.pidfile(port), Path(f"{self.pidfile(port)}.2")):
                with contextlib.suppress(OSError, ValueError):
                    found.append(int(path.read_text().strip()))
        return found

    def stop(self):
        """Stop every process started, the last started first; bounded waits."""
        started = {process.pid for _, process in self.processes}
        for pid in set(self.masters()) - started:  # re-executed masters: not our children
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 dev.py stack", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("STACK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="a PostgreSQL server and a user that may create databases "
        "(default $STACK_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("STACK_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the Redis database for rate limits and cache "
        "(default $STACK_REDIS_URL or redis://127.0.0.1:6379/0)",
    )
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    options = parser.parse_args(argv)

    stopping = []

    def stop_signal(signum, _frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_signal)
    signal.signal(signal.SIGHUP, stop_signal)
    workdir = Path(tempfile.mkdtemp(prefix="flask-api-stack-"))
    workdir.chmod(0o755)  # read by PgBouncer's and nginx's unprivileged users
    database_url = stack = None
    try:
        _check_tools()
        _check_redis(options.redis)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", options.port), 1):
            raise Missing(f"port {options.port} is in use: pick another with --port")
        database_url = create_database(options.postgres)
        stack = Stack(workdir, database_url, options.redis, options.port)
        stack.start()
        url = f"http://127.0.0.1:{options.port}"
        ports = " ".join(map(str, stack.ports))
        print(
            f"\nThe production topology is up: {url}  (send Host: {stack.host})\n"
            f"  nginx :{options.port} -> gunicorn :{stack.ports[0]} and :{stack.ports[1]}"
            f" -> PgBouncer :{stack.pgbouncer_port} -> database {database_url.rsplit('/', 1)[1]}"
            f"\n  Redis {options.redis}; logs and settings in {workdir}\n"
            f"  curl -s -H 'Host: {stack.host}' {url}/readyz\n"
            f"  rolling restart: PIDFILE_TEMPLATE={workdir}/%i.pid "
            f"ENV_FILE={stack.env_file()} deploy/rolling-restart.sh {ports}\n"
            "Stop everything with Ctrl+C (the database is dropped).\n",
            flush=True,
        )
        while all(
            process.poll() is None for _, process in stack.processes[:1] + stack.processes[3:]
        ):
            time.sleep(0.5)
        print("A process of the stack ended by itself; stopping the rest.", file=sys.stderr)
        return 1
    except Missing as exc:
        print(f"dev.py stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...", file=sys.stderr, flush=True)
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # nothing cuts the cleanup
            signal.signal(sig, signal.SIG_IGN)
        if stack is not None:
            stack.stop()
        if database_url is not None:
            drop_database(database_url)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
