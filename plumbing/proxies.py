"""Which parts of a request to believe: the client's address, scheme and host
through ``TRUSTED_PROXIES`` proxy hops, and the ``Host`` through ``TRUSTED_HOSTS``."""

import logging

from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wsgi import get_host

from errors import InvalidHost

log = logging.getLogger("api.config")

# The WSGI environ key marking a request whose Host was not on TRUSTED_HOSTS.
UNTRUSTED_HOST = "api.untrusted_host"


def trust_proxies(app):
    """Take the client address, scheme and host from ``TRUSTED_PROXIES`` proxy hops.

    With the default 0 the ``X-Forwarded-*`` headers are ignored: any client can
    send them, and the client address is the rate-limit key for anonymous calls.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def trust_hosts(app):
    """Answer only the host names of ``TRUSTED_HOSTS``: any other ``Host`` is 400
    INVALID_HOST, so no link, ``Location`` or cached page is built from a forged one.

    The ``Host`` is checked here, in WSGI middleware, before Flask or anything
    that wraps Flask's hooks reads it: Werkzeug raises ``SecurityError`` on every
    read of a forged host (``request.host``, ``request.url``), and OpenTelemetry's
    Flask instrumentation reads ``request.url`` again when the request is torn
    down, after the 400 was made, which escaped as the WSGI server's HTML 500. So
    the middleware puts a listed name in place of a forged one and marks the
    request, and ``refuse_untrusted_host`` (the first hook after the request id)
    answers it 400 INVALID_HOST: every hook, span and log line sees only a
    trusted host, and the refusal is an ordinary problem with its request id.
    Flask's own check of ``TRUSTED_HOSTS`` (``config.py`` puts the list there)
    stays as a second line; it then never fires. Unset, any host is answered:
    warned about in production.

    Host names are case-insensitive (RFC 9110), but Werkzeug compares them as
    written, so the ``Host`` is lower-cased first (the list already is): call this
    before ``trust_proxies``, so that it also sees the host ProxyFix takes from
    ``X-Forwarded-Host``. Links are then built from the lower-case name.
    """
    app.wsgi_app = _CheckedHost(app.wsgi_app, app.config["TRUSTED_HOSTS"])
    if app.config["APP_ENV"] == "production" and not app.config["TRUSTED_HOSTS"]:
        log.warning(
            "TRUSTED_HOSTS is not set: any Host header is answered and reflected into "
            "links; set TRUSTED_HOSTS to the host names clients use"
        )


def refuse_untrusted_host(req, ctx_g):
    """A request whose ``Host`` ``_CheckedHost`` replaced is 400 INVALID_HOST."""
    if req.environ.get(UNTRUSTED_HOST):
        raise InvalidHost()


class _CheckedHost:
    """WSGI middleware: the request's ``Host`` in lower case, and a listed name in
    place of one that is not on ``trusted_hosts`` (the request marked ``UNTRUSTED_HOST``)."""

    def __init__(self, wsgi_app, trusted_hosts):
        self.wsgi_app = wsgi_app
        self.trusted_hosts = trusted_hosts
        # A listed name (a leading dot allows the bare domain too, as Werkzeug matches it).
        self.stand_in = trusted_hosts[0].lstrip(".") if trusted_hosts else None

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        if host:
            environ["HTTP_HOST"] = host.lower()
        if self.trusted_hosts:
            try:
                get_host(environ, self.trusted_hosts)
            except SecurityError:
                environ[UNTRUSTED_HOST] = True
                environ["HTTP_HOST"] = self.stand_in
        return self.wsgi_app(environ, start_response)
