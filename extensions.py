"""Flask extension objects, created unbound and initialised in ``create_app``."""

import contextlib
import logging

from flask import g
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger("api.database")


class Base(DeclarativeBase):
    pass


# No expiry on commit: a write's response is built from what was written, with no
# second round-trip after the COMMIT (which could fail and turn a saved write into
# a 503). Every column default is computed in Python, so nothing is left unknown.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()


def init_db(app):
    """Bind ``db`` to ``app``, with a session teardown that cannot fail the response.

    Flask runs app-context teardowns in reverse order of registration, so
    ``remove_session`` (registered after Flask-SQLAlchemy's own) runs first and
    leaves Flask-SQLAlchemy's removal nothing to do.
    """
    db.init_app(app)
    app.teardown_appcontext(remove_session)


def remove_session(_exc=None):
    """Close the request's session; a failure is logged, never raised.

    Closing rolls back and returns the session's connection. While the database
    shuts down or restarts that rollback raises, after the error handler has
    already built the client's answer; Flask would then drop the answer and the
    WSGI server send its own HTML 500. Here the failure is logged, the session's
    connections are invalidated (never handed to the next request) and the
    session forgotten.
    """
    registry = db.session.registry
    if not registry.has():
        return
    session = registry()
    try:
        session.close()
    except Exception as error:  # a teardown must not raise
        log.warning(
            "database session teardown failed: %s; its connection was discarded",
            type(getattr(error, "orig", None) or error).__name__,
            extra={"request_id": g.get("request_id")},
        )
        with contextlib.suppress(Exception):
            session.invalidate()
    finally:
        registry.clear()
