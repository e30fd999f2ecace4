"""Liveness and readiness probes for process managers and load balancers."""

import logging

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from errors import ServiceUnavailable
from extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger("api.health")


@bp.get("/healthz")
def healthz():
    """Liveness: the process is up and answering."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers a query."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("readiness check failed: %s", type(exc).__name__)
        raise ServiceUnavailable("The database is not reachable.") from None
    return {"status": "ok", "database": "ok"}
