"""Settings read from the environment, checked once at start.

Every setting is parsed by one small function; a bad value raises ``ConfigError``
naming the variable, so a misconfigured process stops before it serves anything.
"""

import os
import secrets
from urllib.parse import urlsplit

from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

APP_NAME = "Flask API Service"
VERSION = "1.0.0"
ENVIRONMENTS = ("development", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_SECRET_KEY_LENGTH = 32
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting has a value the service cannot run with."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name


def _integer(name, raw, *, minimum):
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def _boolean(name, raw):
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


def _choice(name, raw, choices):
    value = str(raw).strip()
    normalised = value.upper() if name == "LOG_LEVEL" else value.lower()
    if normalised not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, got {raw!r}")
    return normalised


def _rate_limit(name, raw):
    text = str(raw).strip()
    try:
        parse_many(text)
    except ValueError:
        raise ConfigError(name, f"is not a rate limit like '10 per minute', got {raw!r}") from None
    return text


def _database_url(raw):
    url = str(raw).strip()
    # Heroku-style and plain URLs would pick psycopg2, which is not installed.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    try:
        make_url(url)
    except ArgumentError:
        raise ConfigError("DATABASE_URL", "is not a database URL") from None
    return url


def _storage_uri(raw):
    uri = str(raw).strip()
    if urlsplit(uri).scheme not in {"memory", "redis", "rediss", "redis+sentinel", "redis+cluster"}:
        raise ConfigError("RATELIMIT_STORAGE_URI", "must be memory:// or a redis:// URI")
    return uri


def _origins(raw):
    origins = []
    for item in str(raw).split(","):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        if origin == "*":
            raise ConfigError(
                "ALLOWED_ORIGINS", "'*' is refused: list the exact origins that may call the API"
            )
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ConfigError(
                "ALLOWED_ORIGINS", f"{item.strip()!r} is not an origin like https://app.example.com"
            )
        origins.append(origin)
    return origins


def _secret_key(raw, app_env, instance_path):
    if raw:
        key = str(raw)
        if app_env == "production" and len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                "SECRET_KEY", f"must be at least {MIN_SECRET_KEY_LENGTH} characters in production"
            )
        return key
    if app_env == "production":
        raise ConfigError("SECRET_KEY", "is required when APP_ENV=production")
    return _development_secret_key(instance_path)


def _development_secret_key(instance_path):
    """Generate a key once and keep it, so tokens survive a restart in development."""
    path = os.path.join(instance_path, "secret_key")
    os.makedirs(instance_path, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="ascii") as existing:
            return existing.read().strip()
    with os.fdopen(fd, "w", encoding="ascii") as new:
        key = secrets.token_urlsafe(48)
        new.write(key)
    return key


def load_settings(environ, instance_path):
    """Return Flask config values parsed from ``environ`` (a mapping of strings).

    Keys that are not settings of this service are ignored here; ``create_app``
    passes explicit overrides through untouched.
    """

    def get(name, default):
        value = environ.get(name)
        return default if value is None or value == "" else value

    app_env = _choice("APP_ENV", get("APP_ENV", "development"), ENVIRONMENTS)
    default_db = "sqlite:///" + os.path.join(instance_path, "app.db")
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": _secret_key(environ.get("SECRET_KEY"), app_env, instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(get("DATABASE_URL", default_db)),
        "ACCESS_TOKEN_TTL": _integer("ACCESS_TOKEN_TTL", get("ACCESS_TOKEN_TTL", 3600), minimum=1),
        "MAX_CONTENT_LENGTH": _integer(
            "MAX_CONTENT_LENGTH", get("MAX_CONTENT_LENGTH", 1024 * 1024), minimum=1
        ),
        "ALLOW_REGISTRATION": _boolean("ALLOW_REGISTRATION", get("ALLOW_REGISTRATION", True)),
        "LOG_LEVEL": _choice("LOG_LEVEL", get("LOG_LEVEL", "INFO"), LOG_LEVELS),
        "DB_POOL_SIZE": _integer("DB_POOL_SIZE", get("DB_POOL_SIZE", 5), minimum=1),
        "DB_MAX_OVERFLOW": _integer("DB_MAX_OVERFLOW", get("DB_MAX_OVERFLOW", 10), minimum=0),
        "DB_POOL_RECYCLE": _integer("DB_POOL_RECYCLE", get("DB_POOL_RECYCLE", 1800), minimum=-1),
        "DB_POOL_TIMEOUT": _integer("DB_POOL_TIMEOUT", get("DB_POOL_TIMEOUT", 30), minimum=1),
        "RATELIMIT_ENABLED": _boolean("RATELIMIT_ENABLED", get("RATELIMIT_ENABLED", True)),
        "RATELIMIT_STORAGE_URI": _storage_uri(get("RATELIMIT_STORAGE_URI", "memory://")),
        "RATELIMIT_DEFAULT": _rate_limit(
            "RATELIMIT_DEFAULT", get("RATELIMIT_DEFAULT", "600 per minute")
        ),
        "RATELIMIT_LOGIN": _rate_limit("RATELIMIT_LOGIN", get("RATELIMIT_LOGIN", "10 per minute")),
        "RATELIMIT_REGISTER": _rate_limit(
            "RATELIMIT_REGISTER", get("RATELIMIT_REGISTER", "10 per hour")
        ),
        "RATELIMIT_FEEDBACK": _rate_limit(
            "RATELIMIT_FEEDBACK", get("RATELIMIT_FEEDBACK", "10 per minute")
        ),
        "TRUSTED_PROXIES": _integer("TRUSTED_PROXIES", get("TRUSTED_PROXIES", 0), minimum=0),
        "ALLOWED_ORIGINS": _origins(get("ALLOWED_ORIGINS", "")),
    }


def engine_options(config):
    """SQLAlchemy engine options: a bounded, pre-pinged pool for server databases."""
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return {"connect_args": {"timeout": 5}}
    return {
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": config["DB_MAX_OVERFLOW"],
        "pool_recycle": config["DB_POOL_RECYCLE"],
        "pool_timeout": config["DB_POOL_TIMEOUT"],
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": 5},
    }
