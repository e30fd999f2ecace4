"""Settings (config.SETTINGS): checked at start, a bad value stops the start and
names itself; the documentation's table and .env.example list them all."""

import gc
import logging
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from limits import parse_many

from app import create_app
from config import SETTINGS, ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCESS_TOKEN_TTL", "soon"),
        ("ACCESS_TOKEN_TTL", "0"),
        ("MAX_CONTENT_LENGTH", "-5"),
        ("ALLOW_REGISTRATION", "maybe"),
        ("LOG_LEVEL", "LOUD"),
        ("APP_ENV", "staging"),
        ("DB_POOL_SIZE", "0"),
        ("DB_POOL_TIMEOUT", "1.5"),
        ("RATELIMIT_ENABLED", "sometimes"),
        ("RATELIMIT_DEFAULT", "lots"),
        ("RATELIMIT_LOGIN", "10 per fortnight"),
        ("RATELIMIT_STORAGE_URI", "memcached://localhost"),
        ("TRUSTED_PROXIES", "-1"),
        ("ALLOWED_ORIGINS", "*"),
        ("ALLOWED_ORIGINS", "https://ok.example.com,not-an-origin"),
        ("DATABASE_URL", "::not a url::"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318"),
        ("PORT", "eighty"),
        ("WEB_CONCURRENCY", "0"),
        ("GUNICORN_WORKER_CLASS", "eventlet"),
        ("GUNICORN_THREADS", "many"),
        ("GUNICORN_TIMEOUT", "0"),
    ],
)
def test_bad_value_names_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value}, str(tmp_path))
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}:")


def test_production_needs_a_long_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"APP_ENV": "production"}, str(tmp_path))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"APP_ENV": "production", "SECRET_KEY": "x" * 31}, str(tmp_path))
    settings = load_settings({"APP_ENV": "production", "SECRET_KEY": GOOD_KEY}, str(tmp_path))
    assert settings["SECRET_KEY"] == GOOD_KEY


GOOD_KEY = "Zq3-vN8_pLr2WxY7kT0mBc5dHs9fJg4a"  # 32 characters, all distinct
PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": GOOD_KEY, "MAIL_URL": "smtp://mail:25"}


# 32 characters, 2 distinct; 36 characters, 9 distinct
@pytest.mark.parametrize("key", ["ab" * 16, "abcdefghi" * 4])
def test_production_refuses_a_repetitive_secret_key(tmp_path, key):
    with pytest.raises(ConfigError, match="distinct") as caught:
        load_settings({**PRODUCTION, "SECRET_KEY": key}, str(tmp_path))
    assert caught.value.name == "SECRET_KEY"
    assert key not in str(caught.value)  # the secret is never echoed
    ten = "0123456789" * 4
    assert load_settings({**PRODUCTION, "SECRET_KEY": ten}, str(tmp_path))["SECRET_KEY"] == ten


def _example_secret_keys():
    """Every ``SECRET_KEY=value`` the project's example files and docs write, but
    shell substitutions (``"$(python3 -c ...)"``), which make a real key."""
    files = [
        ROOT / ".env.example",
        ROOT / "README.md",
        *sorted((ROOT / "deploy").glob("*.example")),
        *sorted((ROOT / "docs").glob("*.md")),
    ]
    found = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for value in re.findall(r"SECRET_KEY=([^\s#]*)", text):
            value = value.strip("\"'")
            if value and not value.startswith("$"):
                found[value] = path.relative_to(ROOT)
    return found


def test_the_example_files_hold_placeholder_keys():
    """A guard on the next test: the deploy example's key is found."""
    assert any(str(path).startswith("deploy") for path in _example_secret_keys().values())


@pytest.mark.parametrize(("key", "where"), sorted(_example_secret_keys().items()))
def test_production_refuses_every_secret_key_of_the_example_files(tmp_path, key, where):
    with pytest.raises(ConfigError) as caught:
        load_settings({**PRODUCTION, "SECRET_KEY": key}, str(tmp_path))
    assert caught.value.name == "SECRET_KEY", where


def test_a_placeholder_key_stops_the_start_non_zero(tmp_path):
    env = {
        **os.environ,
        **PRODUCTION,
        "SECRET_KEY": "generate-with-python3-c-import-secrets-print-secrets-token_urlsafe-48",
        "FLASK_SKIP_DOTENV": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "routes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY: is the placeholder" in result.stderr + result.stdout


def test_production_refuses_console_mail(tmp_path):
    with pytest.raises(ConfigError, match="console://") as caught:
        load_settings({**PRODUCTION, "MAIL_URL": "console://"}, str(tmp_path))
    assert caught.value.name == "MAIL_URL"


def test_mail_url_defaults_to_the_console_in_development_only(tmp_path):
    assert load_settings({}, str(tmp_path))["MAIL_URL"] == "console://"
    production = {key: value for key, value in PRODUCTION.items() if key != "MAIL_URL"}
    assert load_settings(production, str(tmp_path))["MAIL_URL"] is None


def test_production_without_mail_url_warns_at_start_naming_it(make_app, caplog):
    caplog.set_level("WARNING", logger="api.config")
    app = make_app(APP_ENV="production", SECRET_KEY=GOOD_KEY, TRUSTED_HOSTS="localhost")
    assert app.config["MAIL_URL"] is None
    assert [r.getMessage() for r in caplog.records if "MAIL_URL" in r.getMessage()]
    caplog.clear()
    make_app(APP_ENV="production", SECRET_KEY=GOOD_KEY, MAIL_URL="smtp://mail:25")
    assert not [r for r in caplog.records if "MAIL_URL" in r.getMessage()]


def test_production_refuses_metrics_without_a_token(tmp_path):
    with pytest.raises(ConfigError, match="METRICS_ENABLED") as caught:
        load_settings({**PRODUCTION, "METRICS_ENABLED": "true"}, str(tmp_path))
    assert caught.value.name == "METRICS_TOKEN"
    with_token = {**PRODUCTION, "METRICS_ENABLED": "true", "METRICS_TOKEN": "t0ken-for-scrapes"}
    assert load_settings(with_token, str(tmp_path))["METRICS_ENABLED"] is True
    # Development keeps the open /metrics a developer's Prometheus can scrape.
    assert load_settings({"METRICS_ENABLED": "true"}, str(tmp_path))["METRICS_ENABLED"] is True


def test_development_key_is_generated_once_and_kept(tmp_path):
    first = load_settings({}, str(tmp_path))["SECRET_KEY"]
    second = load_settings({}, str(tmp_path))["SECRET_KEY"]
    assert first == second and len(first) >= 32
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == first
    assert key_file.stat().st_mode & 0o077 == 0


def test_defaults(tmp_path):
    settings = load_settings({}, str(tmp_path))
    assert settings["ACCESS_TOKEN_TTL"] == 3600
    assert settings["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert settings["ALLOW_REGISTRATION"] is True
    assert settings["RATELIMIT_DEFAULT"] == tuple(parse_many("600 per minute"))
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["TRUSTED_PROXIES"] == 0
    assert settings["ALLOWED_ORIGINS"] == []
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")


def test_postgres_urls_use_psycopg_3(tmp_path):
    settings = load_settings({"DATABASE_URL": "postgres://u@db/app"}, str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/app"


def test_create_app_refuses_a_bad_override():
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_TTL"):
        create_app({"ACCESS_TOKEN_TTL": "never", "SECRET_KEY": "k" * 40})


def test_flask_cli_exits_non_zero_naming_the_variable(tmp_path):
    env = {**os.environ, "ACCESS_TOKEN_TTL": "forever", "FLASK_SKIP_DOTENV": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "routes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ACCESS_TOKEN_TTL" in result.stderr + result.stdout


# --- the documents that list the settings --------------------------------------------


def _configuration_table(group):
    """The rows of ``group``'s settings table, from docs/configuration.md where the
    documentation has it, else from the README's "## Configuration" section."""
    page = ROOT / "docs" / "configuration.md"
    if page.exists():
        text = page.read_text(encoding="utf-8")
    else:
        readme = ROOT / "README.md"
        text = readme.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
        text = text.split("\n## ", 1)[0]
    tables, rows = [], None
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if rows is None:
                rows = []  # the header row
            elif not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows is not None:
            tables.append(rows)
            rows = None
    names = {setting.name for setting in SETTINGS if setting.group == group}
    # The page holds a table per group, and maybe others: the group's table is
    # the one naming the most of its settings.
    return max(tables, key=lambda table: sum(_unquote(row[0]) in names for row in table))


def _unquote(cell):
    return cell.strip().strip("`")


def _documented_settings(group):
    """(name, default) pairs in the table's order; a row may list two settings
    as "`A` / `B` | `1` / `2`"."""
    pairs = []
    for row in _configuration_table(group):
        names = row[0].split(" / ")
        defaults = row[1].split(" / ") if len(names) > 1 else [row[1]]
        assert len(defaults) == len(names), row
        pairs.extend(zip(map(_unquote, names), map(_unquote, defaults), strict=True))
    return pairs


@pytest.mark.parametrize("group", ["service", "gunicorn"])
def test_documented_table_is_the_settings_table(group):
    declared = [setting for setting in SETTINGS if setting.group == group]
    documented = _documented_settings(group)
    assert [name for name, _ in documented] == [setting.name for setting in declared]
    assert documented == [
        (setting.name, setting.shown_default or setting.default) for setting in declared
    ]


def test_env_example_lists_every_setting():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    missing = [setting.name for setting in SETTINGS if setting.name not in listed]
    assert missing == []


# --- the other readers of the same table ------------------------------------------


def _gunicorn_conf(monkeypatch, **environ):
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_takes_its_settings_from_the_table(monkeypatch):
    conf = _gunicorn_conf(
        monkeypatch,
        PORT="8123",
        WEB_CONCURRENCY="3",
        GUNICORN_WORKER_CLASS=" GThread ",
        GUNICORN_THREADS="2",
        GUNICORN_TIMEOUT="45",
        GUNICORN_PIDFILE="/tmp/settings-test.pid",
    )
    assert conf["bind"] == "127.0.0.1:8123"
    assert (conf["workers"], conf["worker_class"], conf["threads"]) == (3, "gthread", 2)
    assert (conf["timeout"], conf["pidfile"]) == (45, "/tmp/settings-test.pid")
    assert _gunicorn_conf(monkeypatch, GUNICORN_BIND="0.0.0.0:9000")["bind"] == "0.0.0.0:9000"


def test_sync_workers_are_sync_whatever_the_threads_setting(monkeypatch):
    # gunicorn itself turns a sync worker with threads > 1 into gthread.
    conf = _gunicorn_conf(monkeypatch, GUNICORN_WORKER_CLASS="sync", GUNICORN_THREADS="4")
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)


def test_a_worker_of_another_flask_app_boots(monkeypatch):
    """The service's mail sender starts only with the service's app: the bare
    Flask ceiling of bench/compare.py has no MAIL_SENDER setting."""
    conf = _gunicorn_conf(monkeypatch)
    monkeypatch.delenv("GUNICORN_PID", raising=False)
    log = SimpleNamespace(error_log=logging.getLogger("settings-test.gunicorn.error"))
    worker = SimpleNamespace(cfg=SimpleNamespace(pidfile=None), wsgi=Flask("ceiling"), log=log)
    try:
        conf["post_worker_init"](worker)
    finally:
        gc.unfreeze()


def test_gunicorn_defaults_are_the_tables(monkeypatch):
    for name in ("GUNICORN_BIND", "PORT", "WEB_CONCURRENCY", "GUNICORN_PIDFILE"):
        monkeypatch.delenv(name, raising=False)
    conf = _gunicorn_conf(monkeypatch)
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["workers"] == min(2 * (os.cpu_count() or 1) + 1, 8)
    assert (conf["worker_class"], conf["threads"], conf["timeout"]) == ("gthread", 4, 30)
    assert conf["pidfile"] is None


def test_a_bad_gunicorn_setting_stops_it_with_one_line(monkeypatch):
    with pytest.raises(SystemExit) as stopped:
        _gunicorn_conf(monkeypatch, GUNICORN_THREADS="many")
    assert str(stopped.value.code) == "Error: GUNICORN_THREADS: must be a whole number, got 'many'"


def test_tracing_takes_its_urls_from_the_table(tmp_path):
    """Checked in a process of its own: this one must not load OpenTelemetry
    (test_observability.py)."""
    script = (
        "import sys\n"
        "from config import load_settings\n"
        "from observability.tracing import traces_url\n"
        "for environ in ({'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://collector:4318/'},\n"
        "                {'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://collector:4318/',\n"
        "                 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT': 'https://traces.example.com/in'}):\n"
        "    print(traces_url(load_settings(environ, sys.argv[1])))\n"
    )
    run = subprocess.run(  # noqa: S603 -- the script above, run by this Python
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://ignored.example.com/"},
    )
    assert run.stdout.splitlines() == [
        "http://collector:4318/v1/traces",
        "https://traces.example.com/in",
    ]
