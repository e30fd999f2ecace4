"""gunicorn.conf.py's start-up warnings, from a real gunicorn master's log.

Sync workers must sit behind a buffering proxy: in production, a bind address
other people can reach is warned about at start, naming the setting and the page
that explains it.
"""

import secrets

import pytest

from tests.servers import Gunicorn

pytestmark = pytest.mark.servers

# What the warning is about; each server lives for one test (and is reached on loopback).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


@pytest.fixture
def start(database_url, tmp_path):
    started = []

    def run(host, **settings):
        settings = {
            "FLASK_SKIP_DOTENV": "1",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_ENABLED": "false",
            **settings,
        }
        server = Gunicorn(
            settings, workers=1, log_path=tmp_path / f"gunicorn-{len(started)}.log", host=host
        )
        started.append(server)
        server.wait_ready()
        return server.log()

    yield run
    for server in started:
        server.stop()


def test_production_warns_when_gunicorn_listens_beyond_loopback(start):
    log = start(ALL_INTERFACES, APP_ENV="production")
    [warning] = [line for line in log.splitlines() if "GUNICORN_BIND" in line]
    assert "[WARNING]" in warning
    assert "docs/topology.md" in warning and "buffering reverse proxy" in warning


@pytest.mark.parametrize(
    ("host", "env"), [("127.0.0.1", "production"), (ALL_INTERFACES, "development")]
)
def test_loopback_or_development_starts_without_the_warning(start, host, env):
    assert "GUNICORN_BIND" not in start(host, APP_ENV=env)
