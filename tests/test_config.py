"""Settings are checked at start; a bad value stops the start and names itself."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from config import ConfigError, load_settings

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
    settings = load_settings({"APP_ENV": "production", "SECRET_KEY": "x" * 32}, str(tmp_path))
    assert settings["SECRET_KEY"] == "x" * 32


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
    assert settings["RATELIMIT_DEFAULT"] == "600 per minute"
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
