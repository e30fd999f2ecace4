"""Sentry error reports for every 500, when ``SENTRY_DSN`` is set.

This module imports ``sentry_sdk``, so it is itself imported only when that
setting is set (by ``web/hooks.py``): otherwise Sentry is never loaded.

The service's one error handler (``errors.handle_error``) catches every
exception, so Flask's ``got_request_exception`` signal, which Sentry's Flask
integration listens to, never fires. ``errors.to_app_error`` therefore calls
``report`` itself, at the point where an unexpected exception becomes
INTERNAL_ERROR; errors the service answers on purpose (every 4xx, and the 503
of an unreachable database) are never reported.

Each report carries the ``request_id`` as a tag, the version as release and
``APP_ENV`` as environment. Nothing the client sent beyond the method, path and
harmless headers leaves the process: ``send_default_pii`` is off, request bodies
are never read (``max_request_body_size="never"``), local variables are not
captured, and ``scrub_event`` removes request bodies, cookies, query strings,
``Authorization`` headers, bearer tokens and email addresses anywhere in the
event (request, breadcrumbs, extra data, exception messages) before it is sent.
A database error's message, which can quote a value (PostgreSQL's ``DETAIL: Key
(name)=(...)``), is replaced by its class, SQLSTATE and statement, as in the
logs (``web/request_log.py``).
Sentry's performance tracing stays off: OpenTelemetry does tracing.
"""

import logging
import re

import sentry_sdk
from flask import g
from sentry_sdk.integrations.argv import ArgvIntegration
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

from config import VERSION
from emails import IN_TEXT as EMAIL
from web.request_log import request_id, withheld_database_messages

BEARER = re.compile(r"(?i)\b(bearer)\s+[\w.~+/=-]+")
# Keys dropped wherever they occur (headers, WSGI environ entries, extra data).
SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "http_authorization",
        "http_proxy_authorization",
        "http_cookie",
    }
)
# Parts of the event's ``request`` that only ever hold what the client sent.
REQUEST_PARTS_DROPPED = ("data", "cookies", "query_string")


def init_app(app):
    sentry_sdk.init(
        dsn=app.config["SENTRY_DSN"],
        release=VERSION,
        environment=app.config["APP_ENV"],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=None,  # no Sentry performance tracing: OpenTelemetry does that
        auto_enabling_integrations=False,
        # A command line can carry settings (gunicorn -e SECRET_KEY=...): not sent.
        disabled_integrations=[ArgvIntegration],
        integrations=[
            FlaskIntegration(transaction_style="url"),  # the request's method, URL rule, path
            SqlalchemyIntegration(),  # statements as breadcrumbs, without their parameters
            # Log records become breadcrumbs only: the 500's own log line must not
            # turn into a second report next to ``report``'s.
            LoggingIntegration(level=logging.INFO, event_level=None),
        ],
        before_send=scrub_event,
    )
    app.extensions["error_reports"] = report


def report(exc):
    """Send ``exc`` (an unexpected exception of this request) to Sentry."""
    authentication = g.get("authentication")
    user_id = authentication.user_id if authentication is not None else None
    user = {"id": str(user_id)} if user_id else None
    sentry_sdk.capture_exception(exc, tags={"request_id": request_id()}, user=user)


def scrub_event(event, hint):
    """Remove what the client sent, database messages and any email address from an event."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in REQUEST_PARTS_DROPPED:
            request.pop(part, None)
    exc_info = (hint or {}).get("exc_info")
    if exc_info:
        withheld = withheld_database_messages(exc_info[1])
        for exception in (event.get("exception") or {}).get("values") or []:
            if exception.get("value") in withheld:
                exception["value"] = withheld[exception["value"]]
    return _scrub(event)


def _scrub(value):
    if isinstance(value, dict):
        return {
            key: _scrub(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.lower() in SECRET_KEYS)
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return BEARER.sub(r"\1 [Filtered]", EMAIL.sub("[email]", value))
    return value
