"""The OpenAPI 3.1 document, built from the URL map, the views and their schemas.

Every route whose view carries an ``ApiDoc`` (see ``apidoc.py``) becomes an
operation. What is common to many operations is added here and only here: the
bearer security requirement and 401/403 from the auth decorators, 400/413/415 for
a JSON body, 400 for a query string, 400 INVALID_ID for an id in the URL, 429 and
the RateLimit-* headers on /api routes, 500 and 503 everywhere they can happen, and
the headers every response carries. Field rules come from the marshmallow schemas
through apispec, taught here where the service's custom fields differ from the
fields they extend.
"""

import re
from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_instance
from werkzeug.exceptions import RequestEntityTooLarge

from config import APP_NAME, VERSION
from errors import (
    CODES_BY_STATUS,
    AppError,
    Forbidden,
    IdOutOfRange,
    InvalidId,
    MalformedRequest,
    PreconditionFailed,
    RateLimited,
    RequestValidationError,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
)
from errors import PROBLEM_MIMETYPE as PROBLEM_MEDIA_TYPE
from observability import REQUEST_ID_PATTERN
from schemas.fields import (
    IdList,
    NormalizedEmail,
    Price,
    QueryInteger,
    TrimmedString,
    UTCDateTime,
)
from schemas.pagination import ListQuerySchema
from schemas.problem import ProblemSchema

OPENAPI_VERSION = "3.1.0"
BEARER = "bearerAuth"
JSON = "application/json"
DOCUMENTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# URL converter name -> the JSON schema of that path parameter. ``id`` answers
# 400 INVALID_ID for anything but a positive integer (and 404 past any row).
PATH_PARAMETER_SCHEMAS = {
    "id": {"type": "integer", "minimum": 1},
    "int": {"type": "integer", "minimum": 0},
    "default": {"type": "string"},
}
_RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>[^:<>(]+)(?:\([^)]*\))?:)?(?P<name>[^<>]+)>")

DESCRIPTION = """\
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

# Response headers, as components; operations refer to them by name.
HEADERS = {
    "X-Request-ID": {
        "description": "The request's id: the one sent, when well formed, or a new one.",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{REQUEST_ID_PATTERN.pattern}$"},
    },
    "X-Content-Type-Options": {
        "required": True,
        "schema": {"type": "string", "const": "nosniff"},
    },
    "Cache-Control": {
        "description": "Private data and errors are never stored by caches.",
        "required": True,
        "schema": {"type": "string", "const": "no-store"},
    },
    "RateLimit-Limit": {
        "description": "Requests allowed in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window resets.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "required": True,
        "schema": {"type": "string", "pattern": "^Bearer"},
    },
    "Location": {
        "description": "The URL of the created resource.",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "ETag": {
        "description": "The representation's entity tag, for `If-None-Match` / `If-Match`.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Link": {
        "description": "RFC 8288 links to the first, previous, next and last pages "
        "(cursor pages: first and next); the same URLs as the body's `links`.",
        "required": True,
        "schema": {"type": "string", "pattern": '^<[^>]*>; rel="(first|prev|next|last)"'},
    },
}
# Request headers of conditional requests, as parameters.
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "ETags the client holds; 304 with no body when one is current.",
    "schema": {"type": "string"},
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "The ETag the change is based on (or `*`); 412 when the product has "
    "changed since. Without it the write goes ahead.",
    "schema": {"type": "string"},
}
EVERY_RESPONSE_HEADERS = ("X-Request-ID", "X-Content-Type-Options")
RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
HEADERS_BY_ERROR_STATUS = {401: ("WWW-Authenticate",), 429: ("Retry-After",)}


def _status_and_code(error):
    """(status, code) of an AppError subclass or a Werkzeug exception class."""
    if isinstance(error, type) and issubclass(error, AppError):
        return error.status, error.code
    code = getattr(error, "problem_code", None) or CODES_BY_STATUS[error.code]
    return error.code, code


def _schema_name(schema):
    """Component names: ``UserUpdateSchema`` -> ``UserUpdate``; partial -> ``...Patch``."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    if getattr(schema, "partial", False) is True:
        name += "Patch"
    return name


# What Python's str.strip() removes (str.isspace). Spelled out because ``\s``
# means less in the ECMA-262 patterns of JSON Schema (no U+001C-U+001F, U+0085)
# and more (U+FEFF), so a client could not tell what the service trims.
PYTHON_WHITESPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _trimmed_length_pattern(minimum, maximum):
    """A pattern for "at least ``minimum``, at most ``maximum`` characters once
    surrounding white space is trimmed": the core starts and ends with a
    non-space character and may hold anything between."""
    space, solid, anything = f"[{PYTHON_WHITESPACE}]", f"[^{PYTHON_WHITESPACE}]", r"[\s\S]"
    between = f"{{{max(minimum - 2, 0)},{'' if maximum is None else max(maximum - 2, 0)}}}"
    if minimum >= 2:
        core = f"{solid}{anything}{between}{solid}"
    elif maximum == 1:
        core = solid
    else:
        core = f"{solid}(?:{anything}{between}{solid})?"
        if minimum == 0:
            core = f"(?:{core})?"
    return f"^{space}*{core}{space}*$"


def _custom_field_rules(self, field, ret):
    """apispec attribute function for the fields that trim or normalise input.

    Their length limits apply after trimming, so ``minLength`` / ``maxLength`` on
    the raw string would be wrong both ways (``" "`` is too short, 100 letters
    with a space around them are fine); a pattern says it exactly.
    """
    extra = {}
    if isinstance(field, TrimmedString) and not field.dump_only:
        minimum, maximum = ret.pop("minLength", 0), ret.pop("maxLength", None)
        extra["pattern"] = _trimmed_length_pattern(minimum, maximum)
        extra["description"] = "Surrounding white space is trimmed before the length is checked."
    if isinstance(field, NormalizedEmail):
        extra["description"] = "Trimmed and lower-cased before it is checked and stored."
    if isinstance(field, UTCDateTime):
        extra["description"] = "ISO 8601 in UTC with a Z suffix."
        extra["pattern"] = r"Z$"
    if isinstance(field, Price):
        extra.update(_price_rules(field))
    if isinstance(field, IdList):
        extra["type"] = "string"
        extra["pattern"] = _id_list_pattern(field.maximum)
    if isinstance(field, QueryInteger):
        # Longer digit strings are refused rather than read as huge numbers.
        largest = 10**QueryInteger.MAX_DIGITS - 1
        ret["maximum"] = min(ret.get("maximum", largest), largest)
        ret["minimum"] = max(ret.get("minimum", -largest), -largest)
    return extra


# A price as a decimal string: 0 to 1000000 with at most two significant decimal
# places ("1.230" is 1.23, "-0" is 0), optionally surrounded by white space.
_PRICE_PATTERN = (
    f"^[{PYTHON_WHITESPACE}]*"
    r"(?:0*(?:[0-9]{1,6}(?:\.[0-9]{1,2}0*)?|1000000(?:\.0+)?)|-0+(?:\.0+)?)"
    f"[{PYTHON_WHITESPACE}]*$"
)


def _price_rules(field):
    """A price is a string in requests and responses; a request may send a JSON
    number instead, so only query parameters (always strings) leave it out."""
    rules = {
        "pattern": _PRICE_PATTERN,
        "description": "A decimal amount from 0 to 1000000 with at most two decimal places, "
        'such as "12.50"; always returned as a string with two places.',
    }
    if field.dump_only or _in_query_schema(field):
        return {**rules, "type": "string"}
    rules["description"] += " A JSON number is accepted too."
    return {
        **rules,
        "type": ["string", "number"],
        "minimum": 0,
        "maximum": int(Price.MAXIMUM),
        "multipleOf": 0.01,
    }


def _in_query_schema(field):
    return isinstance(field.parent, ListQuerySchema)


def _id_list_pattern(maximum):
    """Comma-separated positive ids of at most 18 digits (leading zeros count),
    at most ``maximum`` of them, white space around each allowed."""
    space = f"[{PYTHON_WHITESPACE}]*"
    positive = "|".join(
        f"0{{{zeros}}}[1-9][0-9]{{0,{17 - zeros}}}" for zeros in range(IdList.MAX_DIGITS)
    )
    one = f"{space}(?:{positive}){space}"
    return f"^{one}(?:,{one}){{0,{maximum - 1}}}$"


def _path_parameters(rule):
    return [
        {
            "in": "path",
            "name": match["name"],
            "required": True,
            "schema": dict(
                PATH_PARAMETER_SCHEMAS.get(match["converter"], PATH_PARAMETER_SCHEMAS["default"])
            ),
        }
        for match in _RULE_ARGUMENT.finditer(rule.rule)
    ]


class _ServicePlugin(MarshmallowPlugin):
    """The marshmallow plugin, plus the rules between fields of an ``ApiSchema``."""

    def schema_helper(self, name, _, schema=None, **kwargs):
        definition = super().schema_helper(name, _, schema=schema, **kwargs)
        instance = resolve_schema_instance(schema)
        dependent = getattr(instance.Meta, "dependent_required", None)
        if definition is not None and dependent:
            definition["dependentRequired"] = {k: list(v) for k, v in dependent.items()}
        return definition


class OpenAPIBuilder:
    """Builds the document for one app; ``build()`` returns it as a dict."""

    def __init__(self, app):
        self.app = app
        self.marshmallow = _ServicePlugin(schema_name_resolver=_schema_name)
        self.spec = APISpec(
            title=APP_NAME,
            version=VERSION,
            openapi_version=OPENAPI_VERSION,
            plugins=[self.marshmallow],
            info={"description": DESCRIPTION},
        )
        self.marshmallow.converter.add_attribute_function(_custom_field_rules)
        self.spec.components.security_scheme(
            BEARER,
            {
                "type": "http",
                "scheme": "bearer",
                "description": "An access token from `POST /api/auth/login`.",
            },
        )
        self.spec.components.schema("Problem", schema=ProblemSchema)
        for name, header in HEADERS.items():
            self.spec.components.header(name, header)

    def build(self):
        paths = {}
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
            view = self.app.view_functions[rule.endpoint]
            api_doc = getattr(view, "api_doc", None)
            if api_doc is None:
                continue
            path = _RULE_ARGUMENT.sub(r"{\g<name>}", rule.rule)
            item = paths.setdefault(path, {"parameters": _path_parameters(rule)})
            methods = [m for m in DOCUMENTED_METHODS if m in rule.methods]
            for method in methods:
                operation_id = rule.endpoint.replace(".", "_")
                if len(methods) > 1:
                    operation_id += "_" + method.lower()
                item[method.lower()] = self._operation(rule, view, api_doc, method, operation_id)
        for path, item in paths.items():
            parameters = item.pop("parameters")
            self.spec.path(path=path, operations=item, parameters=parameters or None)
        return self.spec.to_dict()

    def _operation(self, rule, view, api_doc, method, operation_id):
        summary, _, description = (view.__doc__ or "").strip().partition("\n")
        requires_login = getattr(view, "requires_login", False)
        roles = getattr(view, "required_roles", None)
        operation = {
            "operationId": operation_id,
            "summary": summary.strip(),
            "tags": [rule.endpoint.partition(".")[0]],
        }
        notes = [" ".join(description.split())] if description.strip() else []
        if roles:
            operation["x-required-roles"] = list(roles)
            notes.append(f"Requires the role {' or '.join(roles)}.")
        elif requires_login:
            notes.append("Requires a valid token (any role).")
        if notes:
            operation["description"] = "\n\n".join(notes)
        if requires_login:
            operation["security"] = [{BEARER: []}]
        elif api_doc.optional_auth:
            operation["security"] = [{}, {BEARER: []}]

        errors = list(api_doc.errors)
        if requires_login or api_doc.optional_auth:
            errors.append(Unauthenticated)
        if roles:
            errors.append(Forbidden)
        if any(match["converter"] == "id" for match in _RULE_ARGUMENT.finditer(rule.rule)):
            errors += [InvalidId, IdOutOfRange]
        parameters = []
        if api_doc.query is not None:
            parameters.append({"in": "query", "schema": api_doc.query})
        # Unknown query parameters are refused on every operation (validation.py).
        errors.append(RequestValidationError)
        if api_doc.public_cache is not None:
            parameters.append(IF_NONE_MATCH)
        if api_doc.if_match:
            parameters.append(IF_MATCH)
            errors.append(PreconditionFailed)
        if parameters:
            operation["parameters"] = parameters
        body = api_doc.body
        if isinstance(body, dict):
            body = body[method]
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
            errors += [RequestValidationError, MalformedRequest, RequestEntityTooLarge]
            errors.append(UnsupportedMediaType)
        rate_limited = rule.rule.startswith("/api/")
        if rate_limited:
            errors.append(RateLimited)
        if api_doc.uses_database:
            errors.append(ServiceUnavailable)
        errors.append(AppError)

        operation["responses"] = {
            str(api_doc.status): self._success(api_doc, rate_limited),
            **self._not_modified(api_doc, rate_limited),
            **self._errors(errors, rate_limited),
        }
        return operation

    def _headers(self, names, rate_limited, *, optional=(), cache_control=None):
        """Header objects by name: references to the components, except an
        optional header and a public ``Cache-Control`` value, which are inline."""
        names = [*EVERY_RESPONSE_HEADERS, *names]
        if rate_limited:
            names += RATE_LIMIT_HEADERS
        headers = {name: {"$ref": f"#/components/headers/{name}"} for name in names}
        for name in optional:
            headers[name] = {**HEADERS[name], "required": False}
        if cache_control is None:
            headers["Cache-Control"] = {"$ref": "#/components/headers/Cache-Control"}
        else:
            headers["Cache-Control"] = {
                "description": "Public data: caches may keep it as this says.",
                "required": True,
                "schema": {"type": "string", "const": cache_control},
            }
        return headers

    def _success(self, api_doc, rate_limited):
        headers = list(api_doc.headers)
        if api_doc.status == 201:
            headers.insert(0, "Location")
        if api_doc.public_cache is not None:
            headers.insert(0, "ETag")
        response = {
            "description": HTTPStatus(api_doc.status).phrase,
            "headers": self._headers(
                dict.fromkeys(headers),
                rate_limited,
                optional=api_doc.optional_headers,
                cache_control=api_doc.public_cache,
            ),
        }
        if api_doc.response is not None:
            response["content"] = {api_doc.response_media_type: {"schema": api_doc.response}}
        return response

    def _not_modified(self, api_doc, rate_limited):
        """304, with no body, where a matching If-None-Match is honoured."""
        if api_doc.public_cache is None:
            return {}
        return {
            "304": {
                "description": "Not Modified: the If-None-Match ETag is current; no body.",
                "headers": self._headers(
                    ["ETag"], rate_limited, cache_control=api_doc.public_cache
                ),
            }
        }

    def _errors(self, errors, rate_limited):
        codes_by_status = {}
        for error in errors:
            status, code = _status_and_code(error)
            codes = codes_by_status.setdefault(status, [])
            if code not in codes:
                codes.append(code)
        responses = {}
        for status in sorted(codes_by_status):
            codes = codes_by_status[status]
            headers = HEADERS_BY_ERROR_STATUS.get(status, ())
            responses[str(status)] = {
                "description": f"{HTTPStatus(status).phrase}: {', '.join(codes)}",
                "headers": self._headers(headers, rate_limited),
                "content": {
                    PROBLEM_MEDIA_TYPE: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Problem"},
                                {
                                    "type": "object",
                                    "properties": {
                                        "status": {"const": status},
                                        "code": {"enum": codes},
                                    },
                                },
                            ]
                        }
                    }
                },
            }
        return responses


def build_document(app):
    """The OpenAPI document of ``app`` as a dict."""
    return OpenAPIBuilder(app).build()
