"""The OpenAPI document and the interactive documentation page that reads it.

The page is Swagger UI from the ``flask-swagger-ui`` package: its blueprint serves
the assets from the package's own folder with ``send_from_directory``, which
refuses any path that would leave it, so the page works with no internet access.
"""

import json

from flask import Blueprint, current_app
from flask_swagger_ui import get_swaggerui_blueprint

from config import APP_NAME, VERSION
from openapi import build_document, doc
from web.http_cache import public_bytes

bp = Blueprint("docs", __name__, url_prefix="/api")

DOCS_URL = "/api/docs"
DOCUMENT_URL = "/api/openapi.json"
OPENAPI_OBJECT = {"type": "object", "required": ["openapi", "info", "paths"]}
API_DESCRIPTION = """\
A JSON API. Errors are RFC 9457 problem details (`application/problem+json`) with a
stable `code`. Send `Authorization: Bearer <token>` from `POST /api/auth/login`;
an operation's description names the roles it needs. Every response carries
`X-Request-ID`; responses under `/api` may carry `RateLimit-*` headers, and a 429
carries `Retry-After` in seconds.

Query parameters an operation does not list are 400 `VALIDATION_ERROR` naming each
one, as is a parameter given twice. Public data (products, config, this document)
carries an `ETag` and a `Cache-Control` that allows caching, and answers a matching
`If-None-Match` with 304; everything else is `Cache-Control: no-store`. Product
writes honour `If-Match` (412 `PRECONDITION_FAILED` when it names another version)."""


# Clients may keep the document but check back each time: it changes with a deploy.
DOCUMENT_CACHE = "public, no-cache"

# The assets under /api/docs/...; the page itself is ``docs.page`` below.
swagger_ui = get_swaggerui_blueprint(
    DOCS_URL,
    DOCUMENT_URL,
    config={
        "app_name": f"{APP_NAME}: API documentation",
        "displayOperationId": True,
        "persistAuthorization": True,
        "tryItOutEnabled": False,
        # Swagger UI would otherwise send the document to an online validator.
        "validatorUrl": None,
        # Relative, rather than built from the request's Host header.
        "oauth2RedirectUrl": f"{DOCS_URL}/oauth2-redirect.html",
    },
    blueprint_name="swagger_ui",
)


def _serialized_document():
    """The document as JSON bytes, built once per app."""
    body = current_app.extensions.get("openapi_document")
    if body is None:
        body = json.dumps(
            build_document(
                current_app, title=APP_NAME, version=VERSION, description=API_DESCRIPTION
            ),
            indent=2,
        ).encode()
        current_app.extensions["openapi_document"] = body
    return body


@bp.get("/openapi.json")
@doc(response=OPENAPI_OBJECT, public_cache=DOCUMENT_CACHE, uses_database=False)
def openapi_document():
    """This OpenAPI 3.1 document.

    Public; clients may keep it and revalidate with If-None-Match.
    """
    return public_bytes(_serialized_document(), "application/json", DOCUMENT_CACHE)


@bp.get("/docs")
@doc(response={"type": "string"}, response_media_type="text/html", uses_database=False)
def page():
    """Interactive API documentation (Swagger UI).

    Authorize with a token from POST /api/auth/login to try operations out.
    """
    return current_app.view_functions["swagger_ui.show"]()
