"""The request id: named by every error body, log line and ``X-Request-ID`` header.

At the bottom of the layers (beside ``errors``, which puts it in every problem
body), so the error handler, the logs and the OpenAPI document can all name it
without importing the observability package.

The incoming header is read from the WSGI environ: ``request.headers.get`` of a
header the client did not send, the common case, raises and catches a
``KeyError`` inside werkzeug on every request.
"""

import re
import uuid

from flask.globals import app_ctx, request_ctx

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id():
    """The current request's id (``request_id_of`` the request in context)."""
    ctx_g = app_ctx.g
    found = ctx_g.get("request_id")
    return found if found is not None else request_id_of(request_ctx.request, ctx_g)


def request_id_of(req, ctx_g):
    """The id of ``req`` (whose ``g`` is ``ctx_g``), fixed on its first use: a
    well-formed incoming ``X-Request-ID``, else a new random (version 4) UUID.
    The pipeline's steps, which are handed both (pipeline.py), call this."""
    found = ctx_g.get("request_id")
    if found is None:
        incoming = req.environ.get("HTTP_X_REQUEST_ID", "")
        found = ctx_g.request_id = (
            incoming if REQUEST_ID_PATTERN.fullmatch(incoming) else uuid.uuid4().hex
        )
    return found
