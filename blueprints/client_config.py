"""Settings a client needs before it signs in; nothing secret."""

from flask import Blueprint, current_app

from config import APP_NAME, VERSION
from features.server_cache import cached
from openapi import doc
from plumbing.http_cache import PUBLIC_CONFIG, public_response
from plumbing.validation import parse_no_query
from schemas.client_config import ClientConfigSchema
from schemas.pagination import DEFAULT_LIMIT, MAX_LIMIT

bp = Blueprint("config", __name__, url_prefix="/api")

CLIENT_CONFIG = ClientConfigSchema()


@bp.get("/config")
@cached("config")
@doc(response=CLIENT_CONFIG, public_cache=PUBLIC_CONFIG, uses_database=False)
def get_config():
    """Public, non-secret settings for clients."""
    parse_no_query()
    return public_response(
        CLIENT_CONFIG.dump(
            {
                "app_name": APP_NAME,
                "version": VERSION,
                "registration_open": current_app.config["ALLOW_REGISTRATION"],
                "pagination": {"default_limit": DEFAULT_LIMIT, "max_limit": MAX_LIMIT},
            }
        ),
        PUBLIC_CONFIG,
    )
