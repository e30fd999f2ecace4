"""The migrations build exactly the schema the models describe."""

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import SAWarning

from extensions import db
from models.base import schema_filter


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as connection, warnings.catch_warnings():
        # Alembic cannot reflect expression indexes such as lower(email) on SQLite.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", SAWarning)
        context = MigrationContext.configure(
            connection, opts={"include_object": schema_filter(connection.dialect.name)}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []
