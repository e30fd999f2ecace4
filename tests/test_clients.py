"""The generated clients (clients/) proven against a live server.

Each client's example program (the one docs/using-the-api-from-code.md quotes)
runs against the service under gunicorn, as a consumer would run it: log in,
refresh, two cursor pages, a create sent twice with one Idempotency-Key, a
problem+json error read as a typed value. The TypeScript example is type-checked
with ``tsc --strict`` first, so a change to the API that breaks its types fails
here. That the committed clients match the API's document is ``python3 dev.py
clients --check`` (.ci/run).
"""

import os
import re
import secrets
import shutil
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Product
from tests.helpers import PASSWORD, skip_or_fail
from tests.servers import ROOT, Gunicorn

CLIENTS = ROOT / "clients"
GUIDE = ROOT / "docs" / "using-the-api-from-code.md"
QUOTED_BLOCK = re.compile(r"<!-- quoted from (\S+) -->\n```\w+\n(.*?)```", re.DOTALL)
TYPESCRIPT = CLIENTS / "typescript"
RUN_TIMEOUT = 120  # seconds for tsc or an example


@pytest.fixture
def server(database_url, tmp_path):
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
    with Gunicorn(settings, workers=1, log_path=tmp_path / "gunicorn.log") as started:
        started.wait_ready()
        yield started


@pytest.fixture
def tour_account(app, create_user, add_products):
    """An editor to log in as and three products to page through; the example's
    environment (API_EMAIL, API_PASSWORD)."""
    editor = create_user("editor")
    add_products({"name": "Desk"}, {"name": "Chair"}, {"name": "Shelf"})
    return {**os.environ, "API_EMAIL": editor.email, "API_PASSWORD": PASSWORD}


def products_named(app, name):
    with app.app_context():
        return db.session.scalar(select(func.count()).where(Product.name == name))


def run(argv, *, env, cwd=ROOT):
    result = subprocess.run(  # noqa: S603 -- the project's own examples and tools
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.servers
def test_the_python_client_tour_runs_against_a_live_server(app, server, tour_account):
    env = {**tour_account, "PYTHONPATH": str(CLIENTS / "python")}
    output = run(
        [sys.executable, str(CLIENTS / "python" / "examples" / "tour.py"), server.url], env=env
    )

    assert "page 1: Desk, Chair\npage 2: Shelf\n" in output
    assert "refused: 400 VALIDATION_ERROR" in output
    assert output.endswith("tour complete\n")
    assert products_named(app, "Brass lamp") == 1  # sent twice, created once


@pytest.mark.servers
def test_the_typescript_client_tour_type_checks_and_runs_against_a_live_server(
    app, server, tour_account
):
    node = shutil.which("node")
    tsc = TYPESCRIPT / "node_modules" / ".bin" / "tsc"
    if node is None or not tsc.exists():
        skip_or_fail("node and clients/typescript/node_modules are needed (npm ci there)")
    run([str(tsc), "--strict"], env=tour_account, cwd=TYPESCRIPT)
    output = run([node, "dist/examples/tour.js", server.url], env=tour_account, cwd=TYPESCRIPT)

    assert "page 1: Desk, Chair\npage 2: Shelf\n" in output
    assert "refused: 400 VALIDATION_ERROR" in output
    assert output.endswith("tour complete\n")
    assert products_named(app, "Brass lamp") == 1


def test_the_guide_quotes_the_tested_examples_verbatim():
    quotes = QUOTED_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))
    assert {source for source, _ in quotes} == {
        "clients/typescript/examples/tour.ts",
        "clients/python/examples/tour.py",
    }
    for source, code in quotes:
        assert code in (ROOT / source).read_text(encoding="utf-8"), (source, code)
