"""The docs page in a real headless Chromium: Swagger UI renders the served document.

The app runs on a real server on a free loopback port; Chromium loads /api/docs
with background networking off, so the page can only work from what the app serves.
"""

import pytest

from tests.servers import require_chromium, run_headless_chromium, serve_in_thread

pytestmark = pytest.mark.servers


@pytest.fixture
def live_server(app):
    with serve_in_thread(app) as url:
        yield url


def test_docs_page_renders_every_operation(client, live_server, tmp_path):
    require_chromium()
    document = client.get("/api/openapi.json").get_json()

    dom = run_headless_chromium(f"{live_server}/api/docs", tmp_path / "profile").stdout

    assert "swagger-ui" in dom
    assert document["info"]["title"] in dom
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["operationId"] in dom, f"{method.upper()} {path} is not rendered"
            assert f'data-path="{path}"' in dom
    assert "Authorize" in dom  # the bearer scheme is offered
