"""Observability settings, and what an unconfigured service loads: no OpenTelemetry,
no Sentry.

What a service loads is checked in a child process: the test run itself loads
OpenTelemetry and Sentry for its "all features on" app (conftest.py).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from tests.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent

# The quick start's app, with every setting at its default, serving a few requests;
# gunicorn.conf.py is read too, as `gunicorn 'app:create_app()'` would.
QUICK_START = r"""
import json, runpy, sys
from app import create_app

runpy.run_path("gunicorn.conf.py")
app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
statuses = [
    client.get("/healthz").status_code,
    client.get("/api/products").status_code,
    client.post("/api/auth/login", json={"email": "a@example.com", "password": "x" * 12})
    .status_code,
    client.get("/metrics").status_code,
]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"opentelemetry", "sentry_sdk"}
                or m in {"observability.tracing", "observability.error_reports"})
print(json.dumps({"statuses": statuses, "loaded": loaded}))
"""


def test_the_quick_start_loads_neither_opentelemetry_nor_sentry(database_url):
    settings = {"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY}
    run = subprocess.run(  # noqa: S603 -- this interpreter, the script above
        [sys.executable, "-c", QUICK_START, json.dumps(settings)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "FLASK_SKIP_DOTENV": "1", "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [200, 200, 401, 404]
    assert result["loaded"] == []


def test_the_default_test_app_has_no_tracing_or_error_reports(app, client):
    assert client.get("/healthz").status_code == 200
    assert "tracing" not in app.extensions and "error_reports" not in app.extensions
    hooks = [f.__module__ for funcs in app.before_request_funcs.values() for f in funcs]
    assert not [module for module in hooks if module.startswith(("opentelemetry", "sentry"))]


def test_everything_is_off_by_default(tmp_path):
    settings = load_settings({}, str(tmp_path))
    assert settings["METRICS_ENABLED"] is False
    assert settings["METRICS_TOKEN"] == ""
    assert settings["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""
    assert settings["OTEL_SERVICE_NAME"] == "flask-api-service"
    assert settings["SENTRY_DSN"] == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("METRICS_ENABLED", "maybe"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
        ("SENTRY_DSN", "https://o0.ingest.example.com/42"),  # no key
        ("SENTRY_DSN", "https://secretkey@sentry.example.com"),  # no project
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value}, str(tmp_path))
    assert caught.value.name == name
    if name == "SENTRY_DSN":  # a DSN holds a key: the message never repeats it
        assert value not in str(caught.value) and "secretkey" not in str(caught.value)


def test_an_endpoint_is_kept_without_its_trailing_slash(tmp_path):
    endpoint = " http://127.0.0.1:4318/ "
    settings = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, str(tmp_path))
    assert settings["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
