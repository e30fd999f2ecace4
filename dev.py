#!/usr/bin/env python3
"""Set up and run the service or its tests on a fresh machine with only Python 3.11+.

    python3 dev.py serve [flask run options]   # venv, dependencies, migrations, demo data, run
    python3 dev.py test [pytest options]       # venv, dev dependencies, the whole test suite
    python3 dev.py reset                       # delete the development database, migrate, seed
                                               # (refused while `serve` runs: stop it first)
    python3 dev.py flask COMMAND [options]     # any `flask --app app` command, from .venv
    python3 dev.py clients [--check]           # regenerate the typed clients (or check them)
    python3 dev.py traces [--port 4318]        # print the spans a traced server sends
    python3 dev.py stack [--postgres URL] [--redis URL] [--port N]
                                               # the production topology from deploy/:
                                               # nginx, two gunicorn instances, PgBouncer
    python3 dev.py lock                        # regenerate the lock files from requirements*.txt

The virtual environment lives in .venv. Dependencies are installed from the lock
files (requirements.lock, requirements-dev.lock: every package, pinned with its
hashes, ``pip install --require-hashes``), again only when a lock file changes.
The loose requirements*.txt (direct dependencies) are the lock files' input:
after changing one, run ``python3 dev.py lock``. Stop the server with Ctrl+C; a dev.py that is
stopped any other way stops the server with it.
"""

import ctypes
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
# The lock file each command installs, and the requirements file it is made from.
REQUIREMENTS = {
    "serve": "requirements.lock",
    "test": "requirements-dev.lock",
    "reset": "requirements.lock",
    "flask": "requirements.lock",
    "clients": "requirements.lock",
    "traces": "requirements.lock",
    "stack": "requirements.lock",
    "lock": "requirements-dev.lock",  # pip-tools is a development requirement
}
LOCKS = {"requirements.lock": "requirements.txt", "requirements-dev.lock": "requirements-dev.txt"}
PIP_COMPILE_OPTIONS = [
    "--quiet",
    "--generate-hashes",
    "--allow-unsafe",  # pin pip and setuptools too, when something needs them
    "--strip-extras",
    "--no-emit-index-url",  # the lock names packages, not this machine's indexes
    "--no-emit-find-links",
]
DEFAULT_DATABASE = ROOT / "instance" / "app.db"
# Written by a running `serve` (its own pid), so `reset` can refuse to delete the
# database under it: the server would go on serving the deleted file.
SERVE_PIDFILE = ROOT / "instance" / "dev-serve.pid"
# The guides log in a few times each, one after another; production's 10 per
# minute (contract section 6) would trip them. Only `serve` raises it, and only
# when RATELIMIT_LOGIN is not set in the environment or .env.
DEVELOPMENT_LOGIN_LIMIT = "100 per minute"
# Builds the app as `flask` will, and opens the database: a bad setting or a
# database that cannot be reached is one line (exit 1) instead of a traceback
# from the first `flask` step. Prints the database URL for `reset`.
APP_CHECK = """
import sys
from config import ConfigError
try:
    from app import create_app
    app = create_app()
except ConfigError as error:
    sys.exit(f"Error: {error}")
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from extensions import db
url = app.config["SQLALCHEMY_DATABASE_URI"]
try:
    with app.app_context(), db.engine.connect():
        pass
except SQLAlchemyError as error:
    shown = make_url(url).render_as_string(hide_password=True)
    sys.exit(
        f"Error: DATABASE_URL: cannot connect to {shown} "
        f"({type(error.orig or error).__name__}); is the database running?"
    )
print(url)
"""
STOP_SIGNALS = [
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
]
GRACE_SECONDS = 5  # how long a child may take to stop before a stronger signal
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _requirements_digest(name):
    digest = hashlib.sha256((ROOT / name).read_bytes())
    return f"{name}:{digest.hexdigest()}"


def _pins(path):
    """``{normalized name: version}`` of the ``name==version`` lines of ``path``."""
    pins = {}
    for line in path.read_text().splitlines():
        name, equals, version = line.split("#", 1)[0].strip().partition("==")
        if equals and not name.startswith("-"):
            name = name.split("[", 1)[0].strip().lower().replace("_", "-").replace(".", "-")
            pins[name] = version.split(";", 1)[0].split()[0] if version.split() else ""
    return pins


def stale_pins(lock):
    """The pins of ``lock``'s input files that ``lock`` does not hold as given."""
    locked = _pins(ROOT / lock)
    stale = []
    inputs = [LOCKS[lock]] + (["requirements.txt"] if lock == "requirements-dev.lock" else [])
    for source in inputs:
        for name, version in _pins(ROOT / source).items():
            if locked.get(name) != version:
                stale.append(f"{name}=={version} ({source})")
    return stale


def ensure_environment(command):
    """Create .venv and install the requirements the command needs, if not done yet."""
    if sys.version_info < (3, 11):  # noqa: UP036 -- a clear message for older Pythons
        sys.exit("Python 3.11 or newer is required.")
    python = BIN / "python"
    if not python.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    requirements = REQUIREMENTS[command]
    if command == "lock" and not (ROOT / requirements).exists():
        requirements = LOCKS[requirements]  # no lock yet: pip-tools from the loose pins
    stale = stale_pins(requirements) if requirements in LOCKS else []
    if stale and command != "lock":
        sys.exit(
            f"{requirements} does not hold {', '.join(stale)}: a requirements file changed "
            "after the lock files were made.\nRun `python3 dev.py lock`, then try again."
        )
    stamp = VENV / f".installed-{Path(requirements).stem}"
    wanted = _requirements_digest(requirements)
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"Installing {requirements} ...", flush=True)
        install = [str(python), "-m", "pip", "install", "--quiet"]
        if requirements in LOCKS:
            install.append("--require-hashes")
        subprocess.run([*install, "-r", str(ROOT / requirements)], check=True)
        stamp.write_text(wanted)
    return python


def _die_with_parent():
    """A ``preexec_fn`` that has Linux send the child SIGTERM when dev.py dies,
    even by SIGKILL, when nothing is left to pass a signal on; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec():
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # dev.py died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def run(argv, *, interactive=False, env=None):
    """Run ``argv`` in the project folder and return its exit code; it stops with dev.py.

    Ctrl+C reaches the child from the terminal by itself, so dev.py only waits for
    it, and sends SIGTERM if it is still running ``GRACE_SECONDS`` later (unless
    ``interactive``: Ctrl+C in ``flask shell`` must not end the shell). SIGTERM and
    SIGHUP sent to dev.py are passed on as SIGTERM; SIGKILL follows if the child
    still does not stop.
    """
    received = []
    previous = {
        sig: signal.signal(sig, lambda signum, _: received.append(signum)) for sig in STOP_SIGNALS
    }
    try:
        child = subprocess.Popen(argv, cwd=ROOT, env=env, preexec_fn=_die_with_parent())
        escalate_at, stronger = None, [signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM)]
        while True:
            try:
                code = child.wait(timeout=0.2)
                return code if code >= 0 else 128 - code  # killed by a signal: 128 + its number
            except subprocess.TimeoutExpired:
                pass
            while received:
                if received.pop(0) != signal.SIGINT:
                    child.terminate()
                    stronger[:1] = []
                    escalate_at = time.monotonic() + GRACE_SECONDS
                elif not interactive and escalate_at is None:
                    escalate_at = time.monotonic() + GRACE_SECONDS
            if escalate_at is not None and time.monotonic() >= escalate_at and stronger:
                child.send_signal(stronger.pop(0))
                escalate_at = time.monotonic() + GRACE_SECONDS
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _flask(python):
    return [str(python), "-m", "flask", "--app", "app"]


def _address(extra):
    """The host and port ``flask run`` will listen on, from its options or environment."""
    options = {"host": os.environ.get("FLASK_RUN_HOST", "127.0.0.1")}
    options["port"] = os.environ.get("FLASK_RUN_PORT", "5000")
    names = {"--host": "host", "-h": "host", "--port": "port", "-p": "port"}
    for index, argument in enumerate(extra):
        name, equals, value = argument.partition("=")
        if name in names:
            if not equals:
                value = extra[index + 1] if index + 1 < len(extra) else ""
            options[names[name]] = value
    return options["host"], int(options["port"])


def _port_taken(host, port):
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError):
        return False  # let flask run report it
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        try:
            probe.bind(address)
        except OSError:
            return True
    return False


def _check_app(python, env=None):
    """The app's database URL, or None after printing why the app cannot start."""
    checked = subprocess.run(
        [str(python), "-c", APP_CHECK], cwd=ROOT, capture_output=True, text=True, env=env
    )
    if checked.returncode:
        lines = checked.stderr.strip().splitlines()
        print(lines[-1] if lines else "The app could not be built.", file=sys.stderr)
        return None
    return checked.stdout.strip().splitlines()[-1]


def _set_in_dotenv(name):
    dotenv = ROOT / ".env"
    if not dotenv.exists():
        return False
    for line in dotenv.read_text(encoding="utf-8", errors="replace").splitlines():
        key = line.strip().removeprefix("export ").partition("=")[0].strip()
        if key == name and line.partition("=")[2].strip():
            return True
    return False


def _running_server():
    """The pid of a `python3 dev.py serve` running in this folder, or None."""
    try:
        pid = int(SERVE_PIDFILE.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def serve(python, extra):
    if {"--help", "-h"} & set(extra) and "--" not in extra:
        return run([*_flask(python), "run", "--help"])  # flask run's options, nothing else
    host, port = _address(extra)
    if _port_taken(host, port):
        print(
            f"Port {port} on {host} is in use: is another `python3 dev.py serve` running?\n"
            "Stop it with Ctrl+C in its terminal, or serve on another port:\n"
            f"    python3 dev.py serve --port {port + 1}",
            file=sys.stderr,
        )
        return 1
    env = dict(os.environ)
    if not env.get("RATELIMIT_LOGIN") and not _set_in_dotenv("RATELIMIT_LOGIN"):
        env["RATELIMIT_LOGIN"] = DEVELOPMENT_LOGIN_LIMIT
    if _check_app(python, env) is None:
        return 1
    for step in (["db", "upgrade"], ["seed-demo"]):
        code = run(_flask(python) + step)
        if code:
            return code
    # What to open in a browser; 0.0.0.0 is an address to bind, not to visit.
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    url = f"http://{shown}:{port}"
    print(f"\nServing the API on {url}  (docs: {url}/api/docs; stop with Ctrl+C)", flush=True)
    if env["RATELIMIT_LOGIN"] == DEVELOPMENT_LOGIN_LIMIT:
        print(
            f"Login limit: {DEVELOPMENT_LOGIN_LIMIT} per address in development "
            "(RATELIMIT_LOGIN; production's default is 10 per minute)",
            flush=True,
        )
    print(flush=True)
    SERVE_PIDFILE.parent.mkdir(exist_ok=True)
    SERVE_PIDFILE.write_text(str(os.getpid()))
    try:
        return run([*_flask(python), "run", *extra], env=env)
    finally:
        SERVE_PIDFILE.unlink(missing_ok=True)


def reset(python, extra):
    """Delete the development SQLite database, then migrate and seed it again."""
    if extra:
        print("reset takes no options.", file=sys.stderr)
        return 2
    pid = _running_server()
    if pid is not None:
        print(
            f"`python3 dev.py serve` is running (pid {pid}) on the development database;\n"
            "it would go on serving the deleted file. Stop it with Ctrl+C in its\n"
            "terminal, run `python3 dev.py reset` again, then start it again.",
            file=sys.stderr,
        )
        return 1
    url = _check_app(python)
    if url is None:
        return 1
    if url != f"sqlite:///{DEFAULT_DATABASE}":
        print(
            "reset only deletes the development database, instance/app.db; DATABASE_URL\n"
            "names another one. Empty that yourself, then run:\n"
            "    python3 dev.py flask db upgrade && python3 dev.py flask seed-demo",
            file=sys.stderr,
        )
        return 1
    for suffix in ("", "-wal", "-shm", "-writers"):
        DEFAULT_DATABASE.with_name(DEFAULT_DATABASE.name + suffix).unlink(missing_ok=True)
    print(f"Deleted {DEFAULT_DATABASE.relative_to(ROOT)}; creating it again ...", flush=True)
    for step in (["db", "upgrade"], ["seed-demo"]):
        code = run(_flask(python) + step)
        if code:
            return code
    print("Done. Start the server with `python3 dev.py serve`.")
    return 0


# A stand-in for an OpenTelemetry collector in development: it accepts OTLP/HTTP
# (what the service exports with OTEL_EXPORTER_OTLP_ENDPOINT) and prints one line
# per span, so traces can be seen without installing a collector.
TRACE_PRINTER = r"""
import gzip, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

SHOWN = ("http.route", "http.status_code", "enduser.id", "db.statement")

def value(any_value):
    return getattr(any_value, any_value.WhichOneof("value"))

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {kv.key: value(kv.value) for kv in span.attributes}
                    shown = " ".join(f"{k}={attributes[k]!r}" for k in SHOWN if k in attributes)
                    took = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
                    print(f"trace {span.trace_id.hex()} span {span.span_id.hex()} "
                          f"parent {span.parent_span_id.hex() or '-'} {took:8.2f} ms "
                          f"{span.name!r} {shown}", flush=True)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass

port = int(sys.argv[1])
server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
print(f"Printing the spans sent to http://127.0.0.1:{port} (stop with Ctrl+C). Start the "
      f"server with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{port}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
"""


def traces(python, extra):
    """Print the spans a server started with OTEL_EXPORTER_OTLP_ENDPOINT sends."""
    port = "4318"
    if extra[:1] == ["--port"] and len(extra) == 2 and extra[1].isdigit():
        port = extra[1]
    elif extra:
        print("usage: python3 dev.py traces [--port 4318]", file=sys.stderr)
        return 2
    return run([str(python), "-c", TRACE_PRINTER, port])


def flask(python, extra):
    return run([*_flask(python), *extra], interactive=True)


def test(python, extra):
    # One pytest-xdist worker per core, a test file per worker (see tests/README.md).
    env = dict(os.environ)
    # pytest rewrites the asserts of its plugins' packages (all of hypothesis and
    # schemathesis) in every worker; without bytecode it does so again on every run,
    # seconds of each worker's start. A shell that writes no bytecode (to keep
    # __pycache__ out of the source tree) gets it written inside .venv instead.
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env.setdefault("PYTHONPYCACHEPREFIX", str(VENV / "pycache"))
    return run([str(python), "-m", "pytest", "-n", "auto", "--dist", "loadgroup", *extra], env=env)


def clients(python, extra):
    # clients/generate.py says what it writes and where its generators come from.
    return run([str(python), str(ROOT / "clients" / "generate.py"), *extra])


def stack(python, extra):
    """deploy/stack.py, as a module of the project (it imports its neighbours in
    deploy/): it stops what it started on Ctrl+C itself, so no escalation."""
    return run([str(python), "-m", "deploy.stack", *extra], interactive=True)


def lock(python, extra):
    """Make each lock file again from its requirements file, with pip-tools."""
    if extra:
        print("lock takes no options.", file=sys.stderr)
        return 2
    compile_ = [str(BIN / "pip-compile"), *PIP_COMPILE_OPTIONS]
    for lock_file, source in LOCKS.items():
        print(f"Locking {source} into {lock_file} ...", flush=True)
        # Relative names, so the command recorded in the lock's header is the same anywhere.
        code = run([*compile_, "--output-file", lock_file, source])
        if code:
            return code
    return 0


COMMANDS = {
    "serve": serve,
    "test": test,
    "reset": reset,
    "flask": flask,
    "clients": clients,
    "traces": traces,
    "stack": stack,
    "lock": lock,
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        asked = sys.argv[1:2] in (["-h"], ["--help"], ["help"])
        if len(sys.argv) >= 2 and not asked:
            print(f"Unknown command {sys.argv[1]!r}.\n", file=sys.stderr)
        print(__doc__.strip(), file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    command, extra = sys.argv[1], sys.argv[2:]
    try:
        python = ensure_environment(command)
        return COMMANDS[command](python, extra)
    except KeyboardInterrupt:  # Ctrl+C while setting up: no traceback
        print("\nInterrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
