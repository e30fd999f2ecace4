"""``init_app(app)``: every request hook of the service, registered in one place.

Flask runs ``before_request`` functions in the order they are registered and
``after_request`` functions in the reverse order, so the order below is the
order of a request's life:

Before the view
  1. ``request_log.start_request``: start the clock, fix the request id, so
     every later hook, error and log record can name it.
  2. Flask-Limiter's check (``rate_limits``): a 429 costs no further work.
  3. ``validation.reject_undeclared_query``: query parameters the view does not
     declare are 400 before the view runs, so such a request changes nothing.

After the view (or the error handler), in this order
  1. flask-cors's headers, ``Vary: Origin`` and the 204 preflight (``cors``).
  2. ``RateLimit-*`` and ``Retry-After`` (``rate_limits``).
  3. ``Cache-Control: no-store`` unless the view made its answer public
     (``http_cache.private_by_default``), and no ``Content-Type`` on a 204,
     which has no body (``http_cache.no_content_type_without_body``).
  4. ``X-Request-ID`` and ``nosniff`` (``request_log.identify_response``).
  5. The request's log line, last, so it records the final status.

The error handler itself is registered by ``errors.init_app``; URL converters
run while the URL is matched, before any of these hooks.
"""

from web import cors, rate_limits
from web.http_cache import no_content_type_without_body, private_by_default
from web.proxies import trust_proxies
from web.request_log import configure_logging, identify_response, log_request, start_request
from web.validation import IdConverter, reject_undeclared_query


def init_app(app):
    configure_logging(app.config["LOG_LEVEL"])
    trust_proxies(app)
    app.url_map.converters["id"] = IdConverter

    app.before_request(start_request)
    app.after_request(log_request)
    app.after_request(identify_response)
    app.after_request(private_by_default)
    app.after_request(no_content_type_without_body)
    rate_limits.init_app(app)
    cors.init_app(app)
    app.before_request(reject_undeclared_query)
