"""Operators learn that the rate-limit storage came back, not only that it went away.

Both "Rate limit storage unreachable" and "Rate limit storage recovered" are
logged at WARNING, so with ``LOG_LEVEL=WARNING`` operators learn both. Tested
with a Redis server of the test's own, on a free loopback port, stopped by the
test.
"""

import json
import logging
import shutil
import subprocess
import time

import pytest

from tests.conftest import skip_or_fail
from tests.servers import free_port

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture
def stdout_log(capsys):
    def read():
        return [
            json.loads(line) for line in capsys.readouterr().out.splitlines() if line[:1] == "{"
        ]

    return read


def test_recovery_is_logged_at_warning(make_app, stdout_log, tmp_path):
    if REDIS_SERVER is None:
        skip_or_fail("needs redis-server")
    port = free_port()
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}",
        LOG_LEVEL="WARNING",
    )
    client = app.test_client()
    assert client.get("/api/products").status_code == 200  # storage down: fails open
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(tmp_path)]
    server = subprocess.Popen(  # noqa: S603 -- the installed redis-server, on loopback
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        recovered = []
        deadline = time.monotonic() + 20  # the limiter re-checks with a back-off
        lines = []
        while not recovered and time.monotonic() < deadline:
            assert client.get("/api/products").status_code == 200
            lines += stdout_log()
            recovered = [
                line for line in lines if line["message"] == "Rate limit storage recovered"
            ]
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert [line["level"] for line in recovered] == ["WARNING"]
    unreachable = [line for line in lines if "unreachable" in line["message"]]
    assert unreachable and all(line["level"] == "WARNING" for line in unreachable)
    # LOG_LEVEL still holds for the rest of the limiter's records.
    assert all(logging.getLevelName(line["level"]) >= logging.WARNING for line in lines)
