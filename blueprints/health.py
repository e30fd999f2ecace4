"""Liveness and readiness probes for process managers and load balancers."""

import logging

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from errors import ServiceUnavailable
from extensions import db
from openapi import doc
from plumbing.validation import parse_no_query
from schemas.health import HealthSchema, ReadinessSchema

bp = Blueprint("health", __name__)
log = logging.getLogger("api.health")


HEALTH = HealthSchema()
READINESS = ReadinessSchema()


@bp.get("/healthz")
@doc(response=HEALTH, uses_database=False)
def healthz():
    """Liveness: the process is up and answering."""
    parse_no_query()
    return HEALTH.dump({"status": "ok"})


@bp.get("/readyz")
@doc(response=READINESS, errors=[ServiceUnavailable])
def readyz():
    """Readiness: the database answers a query."""
    parse_no_query()
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("readiness check failed: %s", type(exc).__name__)
        raise ServiceUnavailable("The database is not reachable.") from None
    return READINESS.dump({"status": "ok", "database": "ok"})
