"""The OpenAPI 3.1 document, built from the URL map, the views and their schemas.

Every route whose view carries an ``ApiDoc`` (see ``declare.py``) becomes an
operation. What is common to many operations is added here and only here: the
bearer security requirement and 401/403 from the auth decorators, 400/413/415 for
a JSON body, 400 for a query string, 400 INVALID_ID for an id in the URL, 400
INVALID_HOST everywhere when ``TRUSTED_HOSTS`` is set, 429 and the RateLimit-*
headers on /api routes, 500 and 503 everywhere they can happen, the
``Idempotency-Key`` parameter with 409/422 and ``Idempotent-Replayed`` for an
``idempotent`` view, and the headers every response carries (``implied_errors``
lists them). Field rules come from the marshmallow schemas through apispec; a
custom field adds its own with an ``openapi_rules`` method (see
``schemas/fields.py``).
"""

import re
from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_instance
from marshmallow import fields
from werkzeug.exceptions import RequestEntityTooLarge

from errors import (
    CODES_BY_STATUS,
    AppError,
    Forbidden,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IdOutOfRange,
    InvalidHost,
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
from schemas.problem import ProblemSchema

from .components import (
    BEARER,
    EVERY_RESPONSE_HEADERS,
    HEADERS,
    HEADERS_BY_ERROR_STATUS,
    IDEMPOTENCY_KEY,
    IF_NONE_MATCH,
    JSON,
    OPENAPI_VERSION,
    PATH_PARAMETER_SCHEMAS,
    RATE_LIMIT_HEADERS,
    SECURITY_SCHEME,
    if_match_parameter,
)
from .patterns import NO_NUL_PATTERN

DOCUMENTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>[^:<>(]+)(?:\([^)]*\))?:)?(?P<name>[^<>]+)>")


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


def _field_rules(self, field, ret):
    """apispec attribute function: a custom field's own ``openapi_rules``; and
    every other text a client sends says it may not hold U+0000 (400 otherwise)."""
    rules = getattr(field, "openapi_rules", None)
    added = rules(ret) if rules else {}
    free_text = (
        isinstance(field, fields.String)
        and not isinstance(field, fields.Email)  # its format excludes NUL already
        and not field.dump_only
        and not {"pattern", "enum", "const"} & (ret.keys() | added.keys())
    )
    if free_text:
        added["pattern"] = NO_NUL_PATTERN
    return added


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
        dependent = getattr(instance.Meta, "sent_with_any", None)
        if definition is not None and dependent:
            definition["dependentSchemas"] = {
                field: {"anyOf": [{"required": [name]} for name in companions]}
                for field, companions in dependent.items()
            }
        return definition


class OpenAPIBuilder:
    """Builds the document for one app; ``build()`` returns it as a dict."""

    def __init__(self, app, *, title, version, description):
        self.app = app
        self.marshmallow = _ServicePlugin(schema_name_resolver=_schema_name)
        self.spec = APISpec(
            title=title,
            version=version,
            openapi_version=OPENAPI_VERSION,
            plugins=[self.marshmallow],
            info={"description": description},
        )
        self.marshmallow.converter.add_attribute_function(_field_rules)
        self.spec.components.security_scheme(BEARER, SECURITY_SCHEME)
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

        parameters = []
        if api_doc.query is not None:
            parameters.append({"in": "query", "schema": api_doc.query})
        if api_doc.public_cache is not None:
            parameters.append(IF_NONE_MATCH)
        if api_doc.if_match:
            parameters.append(if_match_parameter(api_doc.if_match))
        if api_doc.idempotent:
            parameters.append(IDEMPOTENCY_KEY)
        if parameters:
            operation["parameters"] = parameters
        body = _request_body(api_doc, method)
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
        rate_limited = rule.rule.startswith("/api/")
        errors = implied_errors(
            api_doc,
            requires_login=requires_login,
            roles=roles,
            id_in_path=any(m["converter"] == "id" for m in _RULE_ARGUMENT.finditer(rule.rule)),
            has_body=body is not None,
            rate_limited=rate_limited,
            host_checked=bool(self.app.config.get("TRUSTED_HOSTS")),
        )

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
                optional=[
                    *api_doc.optional_headers,
                    *(["Idempotent-Replayed"] if api_doc.idempotent else []),
                ],
                cache_control=api_doc.public_cache,
            ),
        }
        media_types = api_doc.response_media_type
        if not isinstance(media_types, str):
            response["content"] = {name: {"schema": body} for name, body in media_types.items()}
        elif api_doc.response is not None:
            response["content"] = {media_types: {"schema": api_doc.response}}
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


def _request_body(api_doc, method):
    """The body schema of ``method``: one schema, or one per method (PUT, PATCH)."""
    body = api_doc.body
    return body[method] if isinstance(body, dict) else body


def implied_errors(
    api_doc, *, requires_login, roles, id_in_path, has_body, rate_limited, host_checked=False
):
    """Every error an operation can answer: the view's own first, then what its
    declaration implies, in the order the document lists their codes.
    ``host_checked``: ``TRUSTED_HOSTS`` is set, so any operation may answer 400
    INVALID_HOST."""
    errors = list(api_doc.errors)
    if host_checked:
        errors.append(InvalidHost)
    if requires_login or api_doc.optional_auth:
        errors.append(Unauthenticated)
    if roles:
        errors.append(Forbidden)
    if id_in_path:
        errors += [InvalidId, IdOutOfRange]
    # Query parameters: the declared ones are validated, any other is refused.
    errors.append(RequestValidationError)
    if api_doc.if_match:
        errors.append(PreconditionFailed)
    if api_doc.idempotent:
        errors += [IdempotencyKeyInUse, IdempotencyKeyReused]
    if has_body:
        errors += [MalformedRequest, RequestEntityTooLarge, UnsupportedMediaType]
    if rate_limited:
        errors.append(RateLimited)
    if api_doc.uses_database:
        errors.append(ServiceUnavailable)
    errors.append(AppError)
    return errors


def build_document(app, *, title, version, description):
    """The OpenAPI document of ``app`` as a dict."""
    return OpenAPIBuilder(app, title=title, version=version, description=description).build()
