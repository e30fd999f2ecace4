"""The application factory: ``flask --app app run`` or ``gunicorn 'app:create_app()'``."""

import logging
import os

from dotenv import load_dotenv
from flask.helpers import get_load_dotenv

import cli
import errors
import pipeline
from blueprints import register_blueprints
from config import load_settings, start_warnings
from extensions import db, init_db, migrate
from models import engine as database
from plumbing.flask_app import ApiFlask


def create_app(overrides=None):
    """Build the app from the environment (and ``.env``).

    ``overrides`` are settings by environment-variable name (``DATABASE_URL``,
    ``ACCESS_TOKEN_TTL``, ...) that win over the environment and are checked the
    same way; any other key is copied into ``app.config`` as it is.
    """
    app = ApiFlask(__name__, instance_relative_config=True)
    overrides = dict(overrides or {})
    if get_load_dotenv():  # FLASK_SKIP_DOTENV, read as Flask's own CLI reads it
        load_dotenv(os.path.join(app.root_path, ".env"))
    os.makedirs(app.instance_path, exist_ok=True)

    settings = load_settings({**os.environ, **overrides}, app.instance_path)
    app.config.update(settings)
    app.config.update(
        {k: v for k, v in overrides.items() if k not in settings and k != "DATABASE_URL"}
    )
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = database.engine_options(app.config)
    app.config["SQLALCHEMY_BINDS"] = database.binds(app.config)
    app.json.sort_keys = False

    pipeline.install(app)  # configures logging first: the warnings below are logged as JSON
    for warning in start_warnings(app.config):
        logging.getLogger("api.config").warning(warning)
    errors.init_app(app)
    init_db(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    with app.app_context():
        database.configure(db.engines)
        for engine in db.engines.values():
            pipeline.install_engine(app, engine)
    register_blueprints(app)
    cli.init_app(app)
    return app
