"""Alembic's entry point, run by Flask-Migrate (``flask db ...``) inside the app."""

import logging
import warnings
from logging.config import fileConfig

from flask import current_app

from alembic import context
from models.base import schema_filter

config = context.config

# The app has configured structured logging already; alembic.ini's logging
# section only applies when Alembic runs on its own.
if not logging.getLogger().handlers:
    fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """``flask db upgrade --sql``: print the SQL instead of running it."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run the migrations on the app's own engine (``flask db upgrade``)."""

    # ``flask db migrate`` with no model change writes no empty revision.
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        # Indexes that exist on one kind of database only (models.base.only_on).
        conf_args.setdefault("include_object", schema_filter(connection.dialect.name))
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        # Reflection (batch mode on SQLite, autogenerate's compare) cannot read
        # the expression index on lower(email) and warns about it; the
        # migrations create it themselves (0001), so the warning says nothing.
        with warnings.catch_warnings(), context.begin_transaction():
            warnings.filterwarnings(
                'ignore',
                message='Skipped unsupported reflection of expression-based index '
                'uq_users_email_lower',
            )
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
