"""Reading a request: JSON bodies, query strings and ids in the URL.

Views call ``parse_body(schema)``, ``parse_query(schema)`` or ``parse_no_query()``
and get back clean, coerced data or an error that names what was wrong. Nothing else in the service
reads ``request.data`` or ``request.args`` directly.
"""

import json
from decimal import Decimal

from flask import current_app, request
from flask.globals import request_ctx
from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from errors import IdOutOfRange, InvalidId, MalformedRequest, UnsupportedMediaType

try:  # what gunicorn raises while reading a body it cannot parse (a bad chunk size...)
    from gunicorn.http.errors import ParseException as _ServerBodyError
except ImportError:  # pragma: no cover -- another WSGI server
    _ServerBodyError = OSError

JSON_MIMETYPES = {"application/json"}
MAX_JSON_DEPTH = 32
MAX_ID = 2**31 - 1  # the largest value of an INTEGER primary key on every database
MAX_ID_DIGITS = len(str(MAX_ID))
NUL = "\x00"
NUL_MESSAGE = "Must not contain the NUL character (U+0000)."
# Reading the body failed because the client sent a broken one: a chunked body
# with a bad chunk size line, a missing terminator, a connection cut short. The
# development server raises OSError, gunicorn its own parse errors.
BROKEN_BODY_ERRORS = (OSError, ValueError, _ServerBodyError)


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


# Decimal, not float: 0.1 must stay 0.1, and 1.0000000000000001 must not become
# 1.0 before a schema can refuse its third decimal place. One decoder for the
# process: ``json.loads`` with these options builds a new one per call (3 µs of 4).
_JSON_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def _is_unicode(text):
    """False for a string holding a lone surrogate (from an escape like ``\\ud800``),
    which no UTF-8 text can carry: nothing could store or send it back."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _inspect(value):
    """Walk parsed JSON once, without recursion: its nesting depth, whether every
    string (keys too) is real Unicode, and the dotted paths of strings holding NUL."""
    deepest, unicode_ok, nul_paths = 0, True, []
    stack = [(value, 1, "")]
    while stack:
        item, level, path = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else key
                unicode_ok = unicode_ok and _is_unicode(key)
                if NUL in key:
                    nul_paths.append(child_path)
                stack.append((child, level + 1, child_path))
        elif isinstance(item, list):
            stack.extend((child, level + 1, f"{path}.{index}") for index, child in enumerate(item))
        elif isinstance(item, str):
            unicode_ok = unicode_ok and _is_unicode(item)
            if NUL in item:
                nul_paths.append(path)
    return deepest, unicode_ok, sorted(set(nul_paths))


def _reject_nul(paths):
    """400 VALIDATION_ERROR naming every field or parameter that holds U+0000.

    No database can keep it in text (PostgreSQL refuses it outright), and no
    legitimate name, email or message holds one; it is refused here, for every
    body and query string, before any schema or view sees it.
    """
    if paths:
        raise ValidationError({path: [NUL_MESSAGE] for path in paths})


def read_json_object():
    """The request body as a dict, or the contract's 415/400/413 error."""
    req = request_ctx.request  # not the proxy: read three times (pipeline.py)
    if req.mimetype not in JSON_MIMETYPES:
        raise UnsupportedMediaType()
    try:
        raw = req.get_data(cache=True)  # 413 when Content-Length is past the limit
    except BROKEN_BODY_ERRORS:
        raise MalformedRequest("The request body could not be read; it is broken.") from None
    # A chunked body has no Content-Length; Werkzeug then stops reading at the
    # limit and hands back the truncated bytes instead of refusing them.
    if req.content_length is None and len(raw) >= current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    if not raw:
        raise MalformedRequest("The request body is empty; send a JSON object.")
    try:
        data = _JSON_DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedRequest("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise MalformedRequest("The JSON body is nested too deeply.") from None
    except ValueError:
        raise MalformedRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise MalformedRequest("The request body must be a JSON object.")
    depth, unicode_ok, nul_paths = _inspect(data)
    if depth > MAX_JSON_DEPTH:
        raise MalformedRequest("The JSON body is nested too deeply.")
    if not unicode_ok:
        raise MalformedRequest(
            "The JSON body holds a lone surrogate escape (such as \\ud800), which is not text."
        )
    _reject_nul(nul_paths)
    return data


def parse_body(schema):
    """Validate the JSON body through a marshmallow schema; return the loaded data."""
    return schema.load(read_json_object())


def parse_query(schema):
    """Validate the query string through a schema; a repeated parameter is an error."""
    repeated = {
        name: ["Given more than once; send it once."]
        for name, values in request.args.lists()
        if len(values) > 1
    }
    if repeated:
        raise ValidationError(repeated)
    _reject_nul(sorted(name for name, value in request.args.items() if NUL in name or NUL in value))
    return schema.load(request.args.to_dict())


def parse_no_query():
    """The parse step of a view that takes no query parameters: any it is sent is
    400 VALIDATION_ERROR naming each one ("Unknown field.", as a schema says it).

    The view calls it first, like ``parse_query(SCHEMA)`` in a view that takes
    some, so what a view accepts is decided in its own body, before it acts.

    Nearly every request sends no query string at all, and then has no
    parameters: testing the raw string first spares werkzeug building
    ``request.args`` (parsing it into a ``MultiDict``) for nothing. A string
    that holds no parameter (``?&``) still gets past, as before.
    """
    if request.query_string:
        args = request.args
        if args:
            raise ValidationError({name: ["Unknown field."] for name in args})


class IdConverter(BaseConverter):
    """``<id:name>``: a positive integer, or 400 INVALID_ID for anything else.

    A segment that names a route of its own beside the ids (``export``, as in
    ``/api/products/export``) is never read as an id: that route answers it, so
    a method it does not allow is 405 there, and elsewhere the path is 404.
    """

    RESERVED = ("export",)
    regex = rf"(?!(?:{'|'.join(RESERVED)})$)[^/]+"

    def to_python(self, value):
        if not value.isascii() or not value.isdigit():
            raise InvalidId()
        # Length first: int() of thousands of digits is slow, and past 4300 raises.
        digits = value.lstrip("0")
        if not digits:
            raise InvalidId()
        if len(digits) > MAX_ID_DIGITS or int(digits) > MAX_ID:
            raise IdOutOfRange()
        return int(digits)

    def to_url(self, value):
        return str(int(value))
