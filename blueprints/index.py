"""The service's root: ``/`` says where everything is, ``/docs`` leads to the docs page.

The development server's banner shows ``http://127.0.0.1:5000/``, and people try
``/docs``: neither should be a dead end. Both give paths only, never URLs built
from the ``Host`` header, so nothing a client sends ends up in them.
"""

from flask import Blueprint, current_app

from blueprints.docs import DOCS_URL, DOCUMENT_URL
from config import APP_NAME, VERSION
from openapi import doc
from plumbing.validation import parse_no_query

bp = Blueprint("index", __name__)

INDEX = {
    "type": "object",
    "required": ["name", "version", "links"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "links": {
            "type": "object",
            "required": ["docs", "openapi", "health"],
            "additionalProperties": False,
            "properties": {
                "docs": {"const": DOCS_URL},
                "openapi": {"const": DOCUMENT_URL},
                "health": {"const": "/healthz"},
            },
        },
    },
}


@bp.get("/")
@doc(response=INDEX, uses_database=False)
def index():
    """Where things are: the docs page, the OpenAPI document, the health probe.

    The API itself lives under /api.
    """
    parse_no_query()
    return {
        "name": APP_NAME,
        "version": VERSION,
        "links": {"docs": DOCS_URL, "openapi": DOCUMENT_URL, "health": "/healthz"},
    }


@bp.get("/docs")
@doc(status=308, response=None, headers=["Location"], uses_database=False)
def docs_redirect():
    """Redirects to the docs page, /api/docs (308, no body)."""
    parse_no_query()
    response = current_app.response_class(status=308)
    del response.headers["Content-Type"]
    response.headers["Location"] = DOCS_URL
    return response
