"""The OpenAPI document and the interactive documentation page that reads it.

The page is Swagger UI from the ``flask-swagger-ui`` package: its blueprint serves
the assets from the package's own folder with ``send_from_directory``, which
refuses any path that would leave it, so the page works with no internet access.
"""

import base64
import functools
import hashlib
import json
import re
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, current_app, make_response
from flask_swagger_ui import get_swaggerui_blueprint

from config import APP_NAME, VERSION
from openapi import build_document, doc
from plumbing.http_cache import public_bytes
from plumbing.validation import parse_no_query

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
one, as is a parameter given twice, and any text (body field or parameter) holding
U+0000. An error body is at most 64 KiB: `errors` names the first fields and sums up
the rest under `_more`. Public data (products, config, this document)
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
        # A pasted token lives in the page only, never in localStorage.
        "persistAuthorization": False,
        "tryItOutEnabled": False,
        # Swagger UI would otherwise send the document to an online validator.
        "validatorUrl": None,
        # Relative, rather than built from the request's Host header.
        "oauth2RedirectUrl": f"{DOCS_URL}/oauth2-redirect.html",
    },
    blueprint_name="swagger_ui",
)


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# Swagger UI's React components that render a <style> element (the top bar's logo).
_STYLE_ELEMENT = re.compile(r'createElement\("style",null,"([^"\\]*)"\)')
_SWAGGER_UI_ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"


def _source_hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def _style_element_hashes():
    """Hashes of the <style> elements Swagger UI's scripts create, read from the
    installed package, so an upgrade keeps the policy right by itself."""
    styles = set()
    for script in sorted(_SWAGGER_UI_ASSETS.glob("*.js")):
        styles.update(_STYLE_ELEMENT.findall(script.read_text(encoding="utf-8")))
    return " ".join(sorted(_source_hash(style) for style in styles))


def _content_security_policy(html):
    """Only this service's own scripts, styles and images, plus the page's one
    inline script (Swagger UI's start-up code) and the <style> elements Swagger UI
    renders, each allowed by its hash; the page may not be framed, and forms and
    ``<base>`` are off."""
    scripts = " ".join(_source_hash(script) for script in _INLINE_SCRIPT.findall(html))
    return (
        "default-src 'none'; "
        f"script-src 'self' {scripts}; "
        f"style-src 'self' {_style_element_hashes()}; "
        # Swagger UI's stylesheet draws its icons as data: SVG images.
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "font-src 'self'; "
        "base-uri 'none'; "
        "form-action 'none'; "
        "frame-ancestors 'none'"
    )


def protect_page(response):
    """The docs page's headers: a strict Content-Security-Policy, no framing."""
    if response.mimetype == "text/html" and response.status_code == 200:
        # Swagger UI's oauth2-redirect.html is a file sent as it is: its policy
        # needs its text, so read it (a few hundred bytes) instead of passing the
        # file through to the server.
        response.direct_passthrough = False
        response.headers["Content-Security-Policy"] = _content_security_policy(
            response.get_data(as_text=True)
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


# /api/docs/ and /api/docs/index.html render the same page as /api/docs.
swagger_ui.after_request(protect_page)


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
    parse_no_query()
    return public_bytes(_serialized_document(), "application/json", DOCUMENT_CACHE)


@bp.get("/docs")
@doc(response={"type": "string"}, response_media_type="text/html", uses_database=False)
def page():
    """Interactive API documentation (Swagger UI).

    Authorize with a token from POST /api/auth/login to try operations out.
    """
    parse_no_query()
    return protect_page(make_response(current_app.view_functions["swagger_ui.show"]()))
