"""Settings read from the environment, checked once at start.

``SETTINGS`` is the one table of them: name, parser, default and a line of
documentation. ``load_settings`` parses it; the table in docs/configuration.md,
``.env.example`` and the tests are checked against it. A bad value raises
``ConfigError`` naming the variable, so a misconfigured process stops before it
serves anything.
"""

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import click
from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

APP_NAME = "Flask API Service"
VERSION = "1.0.0"
ENVIRONMENTS = ("development", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
POOLERS = ("none", "pgbouncer")
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_DISTINCT = 10
# Every SECRET_KEY value written in the project's own example files (.env.example,
# deploy/*.example, docs/, README.md) that the checks above would not already
# refuse: a copied example must not become a production key.
# tests/test_settings.py reads those files and fails on any value missing here.
PLACEHOLDER_SECRET_KEYS = frozenset(
    {"generate-with-python3-c-import-secrets-print-secrets-token_urlsafe-48"}
)
# Every Redis client of the service (rate limits, the server cache): a down Redis
# must cost a request milliseconds, not the client library's defaults.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(click.ClickException, ValueError):
    """A setting has a value the service cannot run with.

    A ``ClickException``, so the ``flask`` command (which builds the app) prints it
    as one line, ``Error: NAME: message``, and exits 1 instead of a traceback.
    """

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
    """The limits' items, shortest window first: parsed here once, for every reader."""
    text = str(raw).strip()
    try:
        return tuple(sorted(parse_many(text)))
    except ValueError:
        raise ConfigError(name, f"is not a rate limit like '10 per minute', got {raw!r}") from None


# The drivers requirements.txt installs: any other scheme would only fail later,
# at the first query, with an ImportError about a missing driver.
DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg")


def _database_url(raw):
    url = str(raw).strip()
    # Heroku-style and plain URLs would pick psycopg2, which is not installed.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("DATABASE_URL", "is not a database URL") from None
    if parsed.drivername not in DATABASE_SCHEMES:
        # Only the scheme is named: the URL itself may hold a password.
        raise ConfigError(
            "DATABASE_URL",
            f"the scheme {parsed.drivername}:// is not supported; use sqlite:///path or "
            "postgresql+psycopg://user:password@host/database (postgres:// and "
            "postgresql:// are read as postgresql+psycopg://)",
        )
    return url


def _storage_uri(raw):
    uri = str(raw).strip()
    if urlsplit(uri).scheme not in {"memory", "redis", "rediss", "redis+sentinel", "redis+cluster"}:
        raise ConfigError("RATELIMIT_STORAGE_URI", "must be memory:// or a redis:// URI")
    return uri


def _http_url(name, raw):
    url = str(raw).strip().rstrip("/")
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(name, f"must be an http:// or https:// URL, got {raw!r}")
    return url


def _sentry_dsn(name, raw):
    dsn = str(raw).strip()
    if not dsn:
        return ""
    parts = urlsplit(dsn)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.username
        or not parts.hostname
        or not parts.path.strip("/")
    ):
        # The value itself is a credential: never echo it.
        raise ConfigError(name, "is not a DSN like https://<key>@<host>/<project>")
    return dsn


CACHE_SCHEMES = {"simple", "redis", "rediss"}


def _cache_url(name, raw):
    url = str(raw).strip()
    if url.lower() == "none":
        return "none"
    if urlsplit(url).scheme not in CACHE_SCHEMES:
        raise ConfigError(name, "must be simple:// (in-process), a redis:// URL, or none")
    return url


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


_HOST_NAME = re.compile(r"\.?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")


def _trusted_hosts(name, raw):
    """Comma-separated host names, a port ignored; none (empty) means any host.

    The list becomes Flask's own ``TRUSTED_HOSTS``; a leading dot also accepts
    every subdomain (``.example.com``), as Werkzeug matches it.
    """
    hosts = []
    for item in str(raw).split(","):
        host = item.strip().lower()
        if not host:
            continue
        if host.count(":") == 1 and "/" not in host:
            host, _, port = host.partition(":")
            if not port.isdigit():
                raise ConfigError(name, f"{item.strip()!r} has a port that is not a number")
        if not _HOST_NAME.fullmatch(host):
            raise ConfigError(
                name, f"{item.strip()!r} is not a host name like api.example.com (no scheme or *)"
            )
        hosts.append(host)
    return hosts or None


def _mail_url(name, raw):
    """``console://``, or ``smtp(s)://[user:password@]host[:port]``.

    The value is never echoed in an error: it may hold a password.
    """
    text = str(raw).strip()
    parts = urlsplit(text)
    if parts.scheme == "console":
        return "console://"
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(name, "has a port that is not a number from 0 to 65535") from None
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ConfigError(
            name, "must be console://, smtp://[user:password@]host[:port] or smtps://..."
        )
    return text


def _mail_from(name, raw):
    text = str(raw).strip()
    _display_name, address = parseaddr(text)
    if "\r" in text or "\n" in text or "@" not in address:
        raise ConfigError(
            name, f"must be an address like 'Shop <no-reply@example.com>', got {raw!r}"
        )
    return text


def _reset_url(name, raw):
    """Empty, or an http(s) URL with ``{token}`` where the reset token goes."""
    text = str(raw).strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.netloc or "{token}" not in text:
        raise ConfigError(
            name,
            "must be an http(s) URL containing {token}, e.g. "
            f"https://app.example.com/reset-password?token={{token}}, got {raw!r}",
        )
    return text


def _secret_key(raw, app_env, instance_path):
    if raw:
        key = str(raw)
        if app_env == "production":
            _check_production_secret_key(key)
        return key
    if app_env == "production":
        raise ConfigError("SECRET_KEY", "is required when APP_ENV=production")
    return _development_secret_key(instance_path)


def _check_production_secret_key(key):
    """Refuse a key anyone could guess: short, repetitive, or copied from an example.

    The value is never echoed: it is the secret itself.
    """
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            "SECRET_KEY", f"must be at least {MIN_SECRET_KEY_LENGTH} characters in production"
        )
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT:
        raise ConfigError(
            "SECRET_KEY",
            f"has fewer than {MIN_SECRET_KEY_DISTINCT} distinct characters: generate one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'",
        )
    if key.strip() in PLACEHOLDER_SECRET_KEYS:
        raise ConfigError(
            "SECRET_KEY",
            "is the placeholder from the project's example files: generate one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'",
        )


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


@dataclass(frozen=True)
class Setting:
    """One environment variable: how to read it, its default, and what it does.

    ``parse(name, text)`` turns the variable's text into the value the app uses
    or raises ``ConfigError``; ``default`` is the text used when the variable is
    unset or empty (``None``: no default, see ``load_settings``). ``config_key`` is
    the ``app.config`` name when it differs from the variable's.
    """

    name: str
    parse: Callable[[str, str], Any]
    default: str | None
    doc: str
    shown_default: str = ""  # the docs' default column, where it is not ``default``
    config_key: str = ""
    group: str = "service"  # the docs' table: the service's, or ``gunicorn`` (gunicorn.conf.py)

    @property
    def key(self):
        return self.config_key or self.name


def integer(minimum):
    return lambda name, raw: _integer(name, raw, minimum=minimum)


def choice(*choices):
    return lambda name, raw: _choice(name, raw, choices)


def _text(name, raw):
    return str(raw)


def _password_hash_method(name, raw):
    text = str(raw).strip()
    if not PASSWORD_HASH_METHOD.fullmatch(text):
        raise ConfigError(
            name, f"must be scrypt[:n:r:p] or pbkdf2[:hash][:iterations], got {raw!r}"
        )
    return text


PASSWORD_HASH_METHOD = re.compile(r"scrypt(:\d+:\d+:\d+)?|pbkdf2(:sha256|:sha512)?(:\d+)?")

# Every setting of the service, in the order docs/configuration.md lists them.
SETTINGS = (
    Setting("APP_ENV", choice(*ENVIRONMENTS), "development", "`development` or `production`"),
    Setting(
        "SECRET_KEY",
        _text,
        None,
        "signs tokens and cursors. Required in production: 32+ characters, 10+ of them "
        "distinct, and not a placeholder from the project's example files; in development "
        "one is generated once and kept in `instance/secret_key`",
        shown_default="generated",
    ),
    Setting(
        "DATABASE_URL",
        lambda name, raw: _database_url(raw),
        None,
        "SQLAlchemy URL; `postgresql+psycopg://user:pass@host/db` for several processes or "
        "hosts (`postgres://` and `postgresql://` are read as psycopg 3); any other scheme "
        "is refused",
        shown_default="sqlite:///instance/app.db",
        config_key="SQLALCHEMY_DATABASE_URI",
    ),
    Setting(
        "ACCESS_TOKEN_TTL", integer(1), "3600", "token lifetime in seconds; `expires_in` of a login"
    ),
    Setting(
        "MAX_CONTENT_LENGTH", integer(1), "1048576", "largest request body in bytes (413 above)"
    ),
    Setting(
        "ALLOW_REGISTRATION",
        _boolean,
        "true",
        "`false` makes `POST /api/auth/register` answer 403",
    ),
    Setting("LOG_LEVEL", choice(*LOG_LEVELS), "INFO", ", ".join(f"`{x}`" for x in LOG_LEVELS)),
    Setting(
        "PASSWORD_HASH_METHOD",
        _password_hash_method,
        "scrypt",
        "Werkzeug's password hash method; `scrypt:n:r:p` or `pbkdf2:sha256:iterations` "
        "to tune its cost (existing hashes keep working either way)",
    ),
    Setting(
        "DB_POOL_SIZE",
        integer(1),
        "5",
        "connections kept per pool and process (server databases; two pools: docs/topology.md)",
    ),
    Setting("DB_MAX_OVERFLOW", integer(0), "10", "connections allowed on top of the pool"),
    Setting("DB_POOL_RECYCLE", integer(-1), "1800", "seconds before a connection is replaced"),
    Setting("DB_POOL_TIMEOUT", integer(1), "30", "seconds to wait for a free connection"),
    Setting("RATELIMIT_ENABLED", _boolean, "true", "rate limiting on or off"),
    Setting(
        "RATELIMIT_STORAGE_URI",
        lambda name, raw: _storage_uri(raw),
        "memory://",
        "`redis://host:6379/0` to share limits between processes and hosts",
    ),
    Setting(
        "RATELIMIT_DEFAULT",
        _rate_limit,
        "600 per minute",
        "every `/api` route, per user or client address",
    ),
    Setting(
        "RATELIMIT_LOGIN",
        _rate_limit,
        "10 per minute",
        "login attempts per client address, failed ones included",
    ),
    Setting("RATELIMIT_REGISTER", _rate_limit, "10 per hour", "registrations per client address"),
    Setting(
        "RATELIMIT_FEEDBACK",
        _rate_limit,
        "10 per minute",
        "feedback posts per user or client address",
    ),
    Setting("TRUSTED_PROXIES", integer(0), "0", "how many proxy hops may set `X-Forwarded-For`"),
    Setting(
        "ALLOWED_ORIGINS",
        lambda name, raw: _origins(raw),
        "",
        "comma-separated origins allowed by CORS; `*` is refused",
        shown_default="none",
    ),
    # Observability (docs/operations.md): each part is off until configured.
    Setting(
        "METRICS_ENABLED",
        _boolean,
        "false",
        "`true` serves Prometheus metrics at `GET /metrics` (404 otherwise)",
    ),
    Setting(
        "METRICS_TOKEN",
        _text,
        "",
        "when set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise); "
        "required in production when `METRICS_ENABLED=true`",
        shown_default="none",
    ),
    Setting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        lambda name, raw: _http_url(name, raw),
        "",
        "OTLP/HTTP collector, e.g. `http://127.0.0.1:4318`: every request is exported as a "
        "trace (spans go to its `/v1/traces`); unset: no tracing",
        shown_default="none",
    ),
    Setting(
        "OTEL_SERVICE_NAME",
        _text,
        "flask-api-service",
        "the `service.name` of the exported traces",
    ),
    Setting(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        lambda name, raw: _http_url(name, raw),
        "",
        "the full URL spans are sent to, when it is not `OTEL_EXPORTER_OTLP_ENDPOINT`'s "
        "`/v1/traces`",
        shown_default="none",
    ),
    Setting(
        "OTEL_PYTHON_FLASK_EXCLUDED_URLS",
        _text,
        "",
        "comma-separated URL patterns never traced, on top of `/metrics` and the health checks",
        shown_default="none",
    ),
    Setting(
        "SENTRY_DSN",
        lambda name, raw: _sentry_dsn(name, raw),
        "",
        "Sentry DSN: every 500 is reported there (without bodies, cookies, `Authorization` "
        "or email addresses); unset: no reports",
        shown_default="none",
    ),
    # Hostile input (issue 9): which Host headers the service answers.
    Setting(
        "TRUSTED_HOSTS",
        _trusted_hosts,
        "",
        "comma-separated host names the service answers for (a port is ignored; "
        "`.example.com` also allows its subdomains); any other `Host` is 400 `INVALID_HOST`, "
        "so no link or `Location` is built from a forged one. Set it in production",
        shown_default="any",
    ),
    # Safe retries (features/idempotency.py)
    Setting(
        "IDEMPOTENCY_TTL",
        integer(1),
        "86400",
        "seconds an `Idempotency-Key` and its stored response are kept for replays",
    ),
    # Production topology: a connection pooler between the instances and PostgreSQL.
    Setting(
        "DB_POOLER",
        choice(*POOLERS),
        "none",
        "`pgbouncer` when `DATABASE_URL` points at PgBouncer in transaction pooling: "
        "psycopg's server-side prepared statements are then turned off",
    ),
    # Server-side cache of public reads (features/server_cache.py).
    Setting(
        "CACHE_URL",
        _cache_url,
        "simple://",
        "server-side cache of public catalog reads: `simple://` (in each process), "
        "`redis://host:6379/1` (shared by every process and instance), or `none`; "
        "correct with any number of processes either way",
    ),
    # Accounts: refresh tokens, sessions, password reset and its mail (issue 10).
    Setting(
        "REFRESH_TOKEN_TTL",
        integer(1),
        "1209600",
        "refresh token lifetime in seconds (`refresh_expires_in`); each refresh starts a new "
        "one, so a session idle this long ends",
    ),
    Setting(
        "REFRESH_REUSE_GRACE",
        integer(0),
        "15",
        "seconds after its first use in which a refresh token sent again gets a new access "
        "token and the same successor (parallel refreshes, two tabs) instead of ending the "
        "session as reuse; `0` turns the grace off",
    ),
    Setting("PASSWORD_RESET_TTL", integer(1), "3600", "seconds a password reset token stays valid"),
    Setting(
        "PASSWORD_RESET_URL",
        _reset_url,
        "",
        "a link for the reset mail, with `{token}` where the token goes, e.g. "
        "`https://app.example.com/reset-password?token={token}`; the mail always has the token",
        shown_default="none",
    ),
    Setting(
        "RATELIMIT_PASSWORD_RESET",
        _rate_limit,
        "5 per hour",
        "password reset requests per client address",
    ),
    Setting(
        "MAIL_URL",
        _mail_url,
        None,
        "`smtp://[user:password@]host:port` (STARTTLS when offered), `smtps://...`, or "
        "`console://`: the mail on standard error, for development (refused in production, "
        "where it would write live reset tokens into the logs). Unset in production: no mail "
        "is sent, password reset requests answer 503, and a warning at start names it",
        shown_default="console:// (development), none (production)",
    ),
    Setting(
        "MAIL_FROM",
        _mail_from,
        "no-reply@localhost",
        "the From address of the service's mail, e.g. `Shop <no-reply@example.com>`",
    ),
    # The mail outbox's sender (services/mail_outbox.py, docs/operations.md).
    Setting(
        "MAIL_SENDER",
        choice("thread", "command"),
        "thread",
        "`thread`: every process that serves requests also sends the outbox's mail, from a "
        "thread of its own; `command`: only `flask --app app send-mail` processes send it",
    ),
    # gunicorn.conf.py's own (docs/configuration.md#gunicorn).
    Setting(
        "GUNICORN_BIND",
        _text,
        None,
        "listen address; use `0.0.0.0:8000` in a container",
        shown_default="127.0.0.1:$PORT",
        group="gunicorn",
    ),
    Setting("PORT", integer(1), "8000", "port when `GUNICORN_BIND` is not set", group="gunicorn"),
    Setting(
        "WEB_CONCURRENCY",
        integer(1),
        str(min(2 * (os.cpu_count() or 1) + 1, 8)),
        "worker processes",
        shown_default="twice the CPUs + 1, at most 8",
        group="gunicorn",
    ),
    Setting(
        "GUNICORN_WORKER_CLASS",
        choice("gthread", "sync"),
        "gthread",
        "`gthread` (threads in each worker, chosen by measurement: "
        "[performance](performance.md#the-worker-model)) or `sync`",
        group="gunicorn",
    ),
    Setting(
        "GUNICORN_THREADS",
        integer(1),
        "4",
        "threads per `gthread` worker; keep `DB_POOL_SIZE` + `DB_MAX_OVERFLOW` at least twice this",
        group="gunicorn",
    ),
    Setting(
        "GUNICORN_TIMEOUT",
        integer(1),
        "30",
        "seconds before a stuck worker is restarted (a `gthread` worker streaming a long "
        "export is not stuck)",
        group="gunicorn",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        _text,
        "",
        "with `METRICS_ENABLED=true`, where the workers keep their metrics; emptied at start "
        "([operations](operations.md#metrics))",
        shown_default="a new temporary folder",
        group="gunicorn",
    ),
    Setting(
        "GUNICORN_PIDFILE",
        _text,
        "",
        "where the master writes its pid; the zero-downtime restart needs it "
        "([topology](topology.md#deploying-a-new-version-the-zero-downtime-restart))",
        shown_default="none",
        group="gunicorn",
    ),
)


def load_settings(environ, instance_path):
    """Return Flask config values parsed from ``environ`` (a mapping of strings).

    Keys that are not settings of this service are ignored here; ``create_app``
    passes explicit overrides through untouched.
    """
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None or raw == "":
            raw = setting.default
        values[setting.key] = None if raw is None else setting.parse(setting.name, raw)
    # The settings whose default depends on more than a constant.
    if values["GUNICORN_BIND"] is None:
        values["GUNICORN_BIND"] = f"127.0.0.1:{values['PORT']}"
    values["SECRET_KEY"] = _secret_key(values["SECRET_KEY"], values["APP_ENV"], instance_path)
    if values["SQLALCHEMY_DATABASE_URI"] is None:
        values["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(instance_path, "app.db")
    if values["APP_ENV"] == "production":
        _refuse_in_production(values)
    elif values["MAIL_URL"] is None:
        values["MAIL_URL"] = "console://"
    return values


def _refuse_in_production(values):
    """Settings that are fine on a developer's machine and a leak in production."""
    if values["MAIL_URL"] == "console://":
        raise ConfigError(
            "MAIL_URL",
            "console:// is refused in production: it writes every mail, live password "
            "reset tokens included, to the process's output and so into its logs; "
            "use smtp://... or smtps://...",
        )
    if values["METRICS_ENABLED"] and not values["METRICS_TOKEN"]:
        raise ConfigError(
            "METRICS_TOKEN",
            "is required in production when METRICS_ENABLED=true: the counters tell anyone "
            "which logins failed and why",
        )


def start_warnings(config):
    """What a production start should be told about a setting it can run without."""
    if config["APP_ENV"] == "production" and config["MAIL_URL"] is None:
        yield (
            "MAIL_URL is not set: no mail is sent, so password reset requests answer 503; "
            "set MAIL_URL=smtp://... or smtps://..."
        )
