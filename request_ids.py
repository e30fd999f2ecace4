"""The request id: named by every error body, log line and ``X-Request-ID`` header.

At the bottom of the layers (beside ``errors``, which puts it in every problem
body), so the error handler, the logs and the OpenAPI document can all name it
without importing the observability package.

Every request reads it, so both halves are kept short: the incoming header is
read from the WSGI environ (``request.headers.get`` of a header the client did
not send raises and catches a ``KeyError`` inside werkzeug), and a new id is a
version 4 UUID made from 16 random bytes with its version and variant bits set,
as ``uuid.uuid4()`` makes it, without building a ``uuid.UUID`` object for it.
"""

import os
import re

from flask import g, request

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id():
    """The request's id: a well-formed incoming ``X-Request-ID``, else a new one."""
    found = g.get("request_id")
    if found is None:
        incoming = request.environ.get("HTTP_X_REQUEST_ID", "")
        found = g.request_id = (
            incoming if REQUEST_ID_PATTERN.fullmatch(incoming) else new_request_id()
        )
    return found


def new_request_id():
    """A random version 4 UUID as 32 lower-case hex digits (``uuid.uuid4().hex``)."""
    octets = bytearray(os.urandom(16))
    octets[6] = octets[6] & 0x0F | 0x40  # version 4
    octets[8] = octets[8] & 0x3F | 0x80  # the RFC 4122 variant
    return octets.hex()
