"""The application factory: ``flask --app app run`` or ``gunicorn 'app:create_app()'``."""

import os

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

import cli
import cors
import errors
import observability
import rate_limits
import validation
from blueprints import register_blueprints
from config import engine_options, load_settings
from extensions import db, migrate


def create_app(overrides=None):
    """Build the app from the environment (and ``.env``).

    ``overrides`` are settings by environment-variable name (``DATABASE_URL``,
    ``ACCESS_TOKEN_TTL``, ...) that win over the environment and are checked the
    same way; any other key is copied into ``app.config`` as it is.
    """
    app = Flask(__name__, instance_relative_config=True)
    overrides = dict(overrides or {})
    if os.environ.get("FLASK_SKIP_DOTENV", "").lower() not in {"1", "true", "yes"}:
        load_dotenv(os.path.join(app.root_path, ".env"))
    os.makedirs(app.instance_path, exist_ok=True)

    settings = load_settings({**os.environ, **overrides}, app.instance_path)
    app.config.update(settings)
    app.config.update(
        {k: v for k, v in overrides.items() if k not in settings and k != "DATABASE_URL"}
    )
    app.config.setdefault("PASSWORD_HASH_METHOD", "scrypt")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    app.json.sort_keys = False
    app.url_map.converters["id"] = validation.IdConverter

    observability.init_app(app)  # first, so every later hook has a request id
    errors.init_app(app)
    rate_limits.init_app(app)
    cors.init_app(app)
    validation.init_app(app)
    _trust_proxies(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    register_blueprints(app)
    cli.init_app(app)
    return app


def _trust_proxies(app):
    """Take the client address, scheme and host from ``TRUSTED_PROXIES`` proxy hops.

    With the default 0 the ``X-Forwarded-*`` headers are ignored: any client can
    send them, and the client address is the rate-limit key for anonymous calls.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def _sqlite_pragmas(dbapi_connection, _record):
    """Foreign keys on, WAL for concurrent readers, and wait rather than fail on a lock."""
    cursor = dbapi_connection.cursor()
    for pragma in (
        "foreign_keys = ON",
        "journal_mode = WAL",
        "synchronous = NORMAL",
        "busy_timeout = 5000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
