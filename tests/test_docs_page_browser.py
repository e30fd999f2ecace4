"""The docs page in a real headless Chromium: Swagger UI renders the served document.

The app runs on a real server on a free loopback port; Chromium loads /api/docs
with background networking off, so the page can only work from what the app serves.
"""

import shutil
import subprocess
import threading

import pytest
from werkzeug.serving import make_server

from tests.helpers import services_required

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _rendered_dom(url, profile_dir):
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
        f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    # The installed browser, on a loopback URL this test made.
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_docs_page_renders_every_operation(client, live_server, tmp_path):
    if CHROMIUM is None:
        if services_required():
            pytest.fail("chromium is required here (TEST_REQUIRE_SERVICES=1); .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    document = client.get("/api/openapi.json").get_json()

    dom = _rendered_dom(f"{live_server}/api/docs", tmp_path / "profile")

    assert "swagger-ui" in dom
    assert document["info"]["title"] in dom
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["operationId"] in dom, f"{method.upper()} {path} is not rendered"
            assert f'data-path="{path}"' in dom
    assert "Authorize" in dom  # the bearer scheme is offered
