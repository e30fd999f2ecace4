"""The OpenAPI document and the interactive documentation page that reads it.

The page is Swagger UI from the ``flask-swagger-ui`` package: its blueprint serves
the assets from the package's own folder with ``send_from_directory``, which
refuses any path that would leave it, so the page works with no internet access.
"""

import hashlib
import json

from flask import Blueprint, current_app, request
from flask_swagger_ui import get_swaggerui_blueprint

from apidoc import doc
from config import APP_NAME
from openapi import build_document

bp = Blueprint("docs", __name__, url_prefix="/api")

DOCS_URL = "/api/docs"
DOCUMENT_URL = "/api/openapi.json"
OPENAPI_OBJECT = {"type": "object", "required": ["openapi", "info", "paths"]}
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
    """The document as JSON bytes and its ETag, built once per app."""
    cached = current_app.extensions.get("openapi_document")
    if cached is None:
        body = json.dumps(build_document(current_app), indent=2).encode()
        cached = (body, hashlib.sha256(body).hexdigest()[:32])
        current_app.extensions["openapi_document"] = cached
    return cached


@bp.get("/openapi.json")
@doc(response=OPENAPI_OBJECT, public_cache=DOCUMENT_CACHE, uses_database=False)
def openapi_document():
    """This OpenAPI 3.1 document.

    Public; clients may keep it and revalidate with If-None-Match.
    """
    body, etag = _serialized_document()
    response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = DOCUMENT_CACHE
    return response.make_conditional(request)


@bp.get("/docs")
@doc(response={"type": "string"}, response_media_type="text/html", uses_database=False)
def page():
    """Interactive API documentation (Swagger UI).

    Authorize with a token from POST /api/auth/login to try operations out.
    """
    return current_app.view_functions["swagger_ui.show"]()
