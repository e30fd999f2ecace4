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

from flask import g, request

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id():
    """The request's id: a well-formed incoming ``X-Request-ID``, else a new one."""
    found = g.get("request_id")
    if found is None:
        incoming = request.environ.get("HTTP_X_REQUEST_ID", "")
        found = g.request_id = (
            incoming if REQUEST_ID_PATTERN.fullmatch(incoming) else uuid.uuid4().hex
        )
    return found
