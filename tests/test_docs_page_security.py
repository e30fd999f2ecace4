"""The docs page runs under a strict Content-Security-Policy and cannot be framed.

Only the service's own scripts, styles and images load; the page's inline start-up
script and Swagger UI's one <style> element are allowed by hash. Swagger UI does
not keep a pasted token in localStorage. A real headless Chromium loads the page
and reports no policy violation.
"""

import base64
import hashlib
import re

import pytest

from tests.servers import require_chromium, run_headless_chromium, serve_in_thread

PAGES = ["/api/docs", "/api/docs/", "/api/docs/index.html"]


def _directives(policy):
    return {
        name: values
        for name, _, values in (part.strip().partition(" ") for part in policy.split(";"))
    }


@pytest.mark.parametrize("path", PAGES)
def test_the_page_sends_a_strict_policy_and_no_framing(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    for directive in ("script-src", "style-src", "img-src", "connect-src"):
        sources = policy[directive].split()
        assert sources[0] == "'self'"
        assert all(s.startswith("'sha256-") or s in ("'self'", "data:") for s in sources)
    html = response.get_data(as_text=True)
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy["script-src"].split()


def test_the_oauth2_redirect_page_is_served_under_the_same_policy(client):
    """The page points Swagger UI at it (``oauth2RedirectUrl``): a file of the
    package, sent as it is, whose policy still needs its text."""
    assert "/api/docs/oauth2-redirect.html" in client.get("/api/docs").get_data(as_text=True)
    response = client.get("/api/docs/oauth2-redirect.html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'src="oauth2-redirect.js"' in response.get_data(as_text=True)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'none'" and policy["script-src"].split() == ["'self'"]
    assert client.get("/api/docs/oauth2-redirect.js").status_code == 200


def test_the_token_is_not_kept_in_local_storage(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert '"persistAuthorization": false' in html


def test_assets_and_the_document_carry_no_page_policy(client):
    assert "Content-Security-Policy" not in client.get("/api/docs/swagger-ui.css").headers
    assert "Content-Security-Policy" not in client.get("/api/openapi.json").headers


@pytest.fixture
def live_server(app):
    with serve_in_thread(app) as url:
        yield url


@pytest.mark.servers
def test_chromium_renders_the_page_without_a_policy_violation(live_server, tmp_path):
    require_chromium()
    result = run_headless_chromium(
        f"{live_server}/api/docs", tmp_path / "profile", "--enable-logging=stderr", "--v=0"
    )
    assert "opblock" in result.stdout  # operations were rendered
    violations = [line for line in result.stderr.splitlines() if "Content Security Policy" in line]
    assert violations == []
