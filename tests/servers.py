"""Real servers for the tests that need more than Flask's test client.

- ``free_port()``: a free loopback port.
- ``Gunicorn``: the service under gunicorn as production starts it
  (``gunicorn.conf.py``, ``app:create_app()``) on a loopback port, its output in a
  log file. The constructor starts it; ``wait_ready()`` waits (bounded) until a
  path answers 200; ``stop()`` terminates it, and kills it if it lingers; ``with``
  stops it too. Tests that need more (their own requests, worker kills) subclass it.
- ``http_json(method, url, ...)``: one request, answered ``(status, headers, JSON or None)``.
- ``stop_process(process)``: terminate, wait, kill.
- ``serve_in_thread(app)``: an app on werkzeug's server in a thread of the test process.
- ``post_sink()``: a loopback HTTP server in a thread that accepts any POST (a
  stand-in OTLP collector or Sentry for in-process apps), counting them by path.
- ``require_chromium()``, ``run_headless_chromium(url, profile_dir)``: the installed
  Chromium loading a page and dumping its DOM.

Every wait here is bounded, and whoever starts a server stops it.
"""

import contextlib
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.helpers import services_required

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"  # the venv's own
READY_TIMEOUT = 30  # seconds for a server to answer
REQUEST_TIMEOUT = 10
STOP_GRACE = 15  # seconds between SIGTERM and SIGKILL
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port():
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process, grace=STOP_GRACE):
    """Terminate ``process``; kill it if it has not ended after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def http_json(method, url, *, body=None, headers=None, timeout=REQUEST_TIMEOUT):
    """Send ``body`` (if any) as JSON; return (status, headers, parsed JSON body or None).

    An error status is returned like any other; a network failure raises OSError.
    """
    data = json.dumps(body).encode() if body is not None else None
    sent = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 -- http
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    return status, answer_headers, json.loads(raw) if raw else None


class Gunicorn:
    """A gunicorn master of the service and its ``workers`` workers on a loopback port.

    ``settings`` are the service's settings, added to this process's environment;
    ``port`` is a free one unless given, on ``host`` (loopback unless given; it is
    reached through loopback either way); ``cwd`` is the code it runs (this checkout),
    ``app`` the application gunicorn loads from it.
    """

    def __init__(
        self,
        settings,
        *,
        workers,
        log_path,
        port=None,
        cwd=ROOT,
        host="127.0.0.1",
        app="app:create_app()",
    ):
        self.port = port or free_port()
        self.log_path = log_path
        env = {
            **os.environ,
            **settings,
            "GUNICORN_BIND": f"{host}:{self.port}",
            "WEB_CONCURRENCY": str(workers),
        }
        with open(log_path, "w") as log:  # gunicorn writes through a descriptor of its own
            self.process = subprocess.Popen(  # noqa: S603 -- the venv's own gunicorn
                [str(GUNICORN), app, "--config", "gunicorn.conf.py"],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def answers(self, path="/healthz", host=None):
        """Whether ``GET path`` (with ``host`` as its Host, if given) is answered 200
        now (False while nothing listens)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("GET", path, headers={"Host": host} if host else {})
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def wait_until_answers(self, path="/healthz", timeout=READY_TIMEOUT, host=None):
        """Whether ``path`` answers 200 within ``timeout`` seconds (False once gunicorn exits)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if self.answers(path, host):
                return True
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return False

    def wait_ready(self, path="/healthz", timeout=READY_TIMEOUT, host=None):
        """Wait until ``path`` answers 200, or fail the test with gunicorn's log."""
        if not self.wait_until_answers(path, timeout, host):
            pytest.fail(f"gunicorn on port {self.port} did not answer {path}:\n{self.log()}")

    def request_json(self, method, path, body=None, headers=None):
        """``http_json`` to this server."""
        return http_json(method, self.url + path, body=body, headers=headers)

    def workers(self):
        """Pids of the master's child processes, its workers (read from Linux's /proc)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # a process that ended while we looked
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return sorted(found)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines=60):
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, grace=STOP_GRACE):
        stop_process(self.process, grace)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


class _Sink(http.server.ThreadingHTTPServer):
    """Answers every POST 200 ``{}`` and counts them by path."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.received = {}
        self.lock = threading.Lock()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received[self.path] = self.server.received.get(self.path, 0) + 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def post_sink():
    """A loopback HTTP server in a thread that accepts any POST (an OTLP/HTTP
    collector's or Sentry's ingest endpoint, for an app that only needs one to
    send to): ``sink.url``, ``sink.received`` (POSTs by path)."""
    sink = _Sink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_in_thread(app):
    """Serve ``app`` with werkzeug on a free loopback port in a thread; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def require_chromium():
    """Skip the test without Chromium, or fail it where services are required."""
    if CHROMIUM is None:
        if services_required():
            pytest.fail("chromium is required here (TEST_REQUIRE_SERVICES=1); .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")


def run_headless_chromium(url, profile_dir, *flags):
    """Load ``url`` in a headless Chromium and dump its DOM; returns the finished run.

    Background networking is off, so the page can only use what ``url``'s server
    sends; ``flags`` are added to the command (logging, for instance).
    """
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        *flags,
        f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    # The installed browser, on a loopback URL the test made.
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr[-2000:]
    return result


# What a fresh clone does not have: copied projects leave these out.
NOT_IN_A_CLONE = (
    ".git",
    ".venv",
    "instance",
    ".env",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "results",
)


def project_copy(destination):
    """A copy of the project as a fresh clone has it, in ``destination``, sharing
    this project's ``.venv`` (a symlink, so ``dev.py`` installs nothing): its own
    ``instance/`` (database, secret key) and ``.env``-free, so ``dev.py reset``
    and ``serve`` there never touch the developer's own."""
    destination = Path(destination)
    shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE))
    (destination / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return destination


def clean_environment(**extra):
    """The environment of a newcomer's shell: none of the service's settings."""
    from config import SETTINGS

    names = {setting.name for setting in SETTINGS} | {"FLASK_SKIP_DOTENV", "FLASK_APP"}
    environ = {k: v for k, v in os.environ.items() if k not in names}
    environ.pop("VIRTUAL_ENV", None)
    environ["PATH"] = os.pathsep.join(
        p for p in environ.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    return {**environ, **extra}


class DevServer:
    """``python3 dev.py serve --port N`` in ``project`` (see ``project_copy``), its
    output in a log file; started by the constructor, stopped like dev.py's user
    does (SIGINT to the process group, as Ctrl+C sends it)."""

    def __init__(self, project, log_path, *, env=None, port=None):
        self.project = Path(project)
        self.port = port or free_port()
        self.log_path = Path(log_path)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 -- the project's own dev.py
                [sys.executable, "dev.py", "serve", "--port", str(self.port)],
                cwd=self.project,
                env=env or clean_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout=READY_TIMEOUT * 2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                if http_json("GET", f"http://127.0.0.1:{self.port}/healthz")[0] == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"dev.py serve did not answer:\n{self.log}")

    @property
    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self):
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 2)  # SIGINT: Ctrl+C in its terminal
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
