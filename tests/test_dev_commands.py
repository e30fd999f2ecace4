"""What a newcomer meets on the command line: dev.py, flask and gunicorn starting
(or refusing to), the development server's banner, and the service's root URLs.

Commands run as a reader runs them, from a copy of the project
(``tests.servers.project_copy``), so ``dev.py reset`` never touches the
developer's own ``instance/``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import GUNICORN, DevServer, clean_environment, free_port, http_json, project_copy

VENV_BIN = Path(sys.executable).parent
FLASK = VENV_BIN / "flask"
TIMEOUT = 120


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return project_copy(tmp_path_factory.mktemp("newcomer") / "project")


def run(argv, project, **env):
    return subprocess.run(  # noqa: S603 -- the project's own commands
        [str(a) for a in argv],
        cwd=project,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result, *words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("ACCESS_TOKEN_TTL", "soon", ["ACCESS_TOKEN_TTL", "whole number"]),
        ("DATABASE_URL", "mysql://app:secret@db/app", ["DATABASE_URL", "sqlite", "postgresql"]),
    ],
)
def test_flask_stops_on_a_bad_setting_with_one_line(project, name, value, words):
    result = run([FLASK, "--app", "app", "routes"], project, **{name: value})
    line = assert_one_line_error(result, *words)
    assert result.returncode == 1
    assert "secret" not in line  # a URL may hold a password: only its scheme is named


@pytest.mark.servers
def test_gunicorn_stops_on_a_bad_setting_with_one_line(project):
    port = free_port()
    result = run(
        [GUNICORN, "app:create_app()", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        project,
        ACCESS_TOKEN_TTL="soon",
    )
    assert_one_line_error(result, "ACCESS_TOKEN_TTL")
    assert "Booting worker" not in result.stderr


@pytest.mark.servers
def test_dev_serve_stops_on_a_bad_setting_with_one_line(project):
    result = run(
        [sys.executable, "dev.py", "serve", "--port", free_port()], project, ACCESS_TOKEN_TTL="soon"
    )
    assert_one_line_error(result, "ACCESS_TOKEN_TTL")
    assert "Running upgrade" not in result.stdout  # nothing migrated


@pytest.mark.servers
def test_dev_serve_names_an_unreachable_database_in_one_line(project):
    url = f"postgresql+psycopg://app:hunter2@127.0.0.1:{free_port()}/app"
    result = run(
        [sys.executable, "dev.py", "serve", "--port", free_port()], project, DATABASE_URL=url
    )
    line = assert_one_line_error(result, "DATABASE_URL", "cannot connect")
    assert "hunter2" not in result.stderr + result.stdout
    assert "127.0.0.1" in line


def test_dev_py_refuses_an_unknown_command(project):
    result = run([sys.executable, "dev.py", "bogus"], project)
    assert result.returncode == 2
    assert "Unknown command 'bogus'" in result.stderr
    assert "python3 dev.py serve" in result.stderr  # and says what there is


def test_dev_serve_help_shows_flask_runs_options(project):
    result = run([sys.executable, "dev.py", "serve", "--help"], project)
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout
    assert "in use" not in result.stdout + result.stderr


@pytest.mark.servers  # a whole dev.py reset in a subprocess: seconds of CPU
def test_migrations_print_no_reflection_warning(project):
    result = run([sys.executable, "dev.py", "reset"], project)
    assert result.returncode == 0, result.stderr
    assert "SAWarning" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def dev_server(project, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with DevServer(project, log) as server:
        yield server.wait_ready()


@pytest.mark.servers
def test_banner_is_plain_text_without_escapes(dev_server):
    """Under a pipe (a log file here), the development server's banner is neither
    wrapped in JSON nor full of ANSI colour codes."""
    banner = [line for line in dev_server.log.splitlines() if "Running on" in line]
    assert banner == [f" * Running on http://127.0.0.1:{dev_server.port}"], dev_server.log


@pytest.mark.servers
def test_reset_refuses_while_serve_runs(dev_server, project):
    database = project / "instance" / "app.db"
    before = database.stat().st_ino
    result = run([sys.executable, "dev.py", "reset"], project)
    assert result.returncode == 1
    assert "dev.py serve" in result.stderr
    assert str(dev_server.process.pid) in result.stderr
    assert database.stat().st_ino == before  # not deleted under the server
    assert http_json("GET", f"http://127.0.0.1:{dev_server.port}/readyz")[0] == 200


@pytest.mark.servers
def test_development_login_limit_lets_the_guides_run(dev_server):
    """The guides log in a dozen times in a row; production's 10 per minute would stop them."""
    url = f"http://127.0.0.1:{dev_server.port}/api/auth/login"
    body = {"email": "viewer@example.com", "password": "viewer-demo-pass"}
    statuses = {http_json("POST", url, body=body)[0] for _ in range(12)}
    assert statuses == {200}
    _, headers, _ = http_json("POST", url, body=body)
    assert headers["RateLimit-Limit"] == "100"


@pytest.mark.servers
def test_dev_server_login_limit_can_be_set(project, tmp_path):
    with DevServer(
        project, tmp_path / "serve.log", env=clean_environment(RATELIMIT_LOGIN="3 per minute")
    ) as server:
        server.wait_ready()
        url = f"http://127.0.0.1:{server.port}/api/auth/login"
        _, headers, _ = http_json("POST", url, body={"email": "x@example.com", "password": "x"})
    assert headers["RateLimit-Limit"] == "3"


def test_root_says_where_things_are(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_json() == {
        "name": "Flask API Service",
        "version": "1.0.0",
        "links": {"docs": "/api/docs", "openapi": "/api/openapi.json", "health": "/healthz"},
    }


def test_docs_redirects_to_the_docs_page(client):
    response = client.get("/docs", headers={"Host": "evil.example"})
    assert response.status_code == 308
    assert response.headers["Location"] == "/api/docs"
    assert response.data == b""
    assert "Content-Type" not in response.headers
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.servers
def test_trace_printer_prints_spans(project):
    """``dev.py traces``: a local stand-in for a collector (docs/operations.md)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    port = free_port()
    printer = subprocess.Popen(  # noqa: S603 -- the project's own dev.py
        [sys.executable, "dev.py", "traces", "--port", str(port)],
        cwd=project,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert "Printing the spans" in printer.stdout.readline()
        export = ExportTraceServiceRequest()
        span = export.resource_spans.add().scope_spans.add().spans.add()
        span.trace_id, span.span_id, span.name = bytes(range(16)), bytes(8), "GET /api/products"
        status, _, _ = _post_protobuf(f"http://127.0.0.1:{port}/v1/traces", export)
        assert status == 200
        assert "000102030405060708090a0b0c0d0e0f" in printer.stdout.readline()
    finally:
        os.killpg(printer.pid, 2)
        printer.wait(timeout=15)


def _post_protobuf(url, message):
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 -- a loopback URL
        url,
        data=message.SerializeToString(),
        method="POST",
        headers={"Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, response.headers, response.read()
