"""The service with a database that fails in the middle of every product export.

For gunicorn (``tests.failing_export_app:create_app()``) in the logging tests: the
export's second batch query raises the driver's own error, whose message quotes
``QUOTED_VALUE`` as PostgreSQL's messages quote data, after the first rows have
left; gunicorn then logs the failed response with its traceback.
"""

from sqlalchemy import event

import app as service
from extensions import db
from services import product_export

QUOTED_VALUE = "quoted-value-4711@example.com"


def create_app():
    app = service.create_app()
    product_export.BATCH_SIZE = 2  # so three products make two batches
    with app.app_context():
        engine = db.engine
    driver = engine.dialect.loaded_dbapi
    batches = []

    def fail_the_second_batch(_connection, _cursor, statement, *_args):
        if "FROM products" in statement and "LIMIT" in statement:
            batches.append(statement)
            if len(batches) % 2 == 0:
                raise driver.OperationalError(f'invalid input syntax: "{QUOTED_VALUE}"')

    event.listen(engine, "before_cursor_execute", fail_the_second_batch)
    return app
