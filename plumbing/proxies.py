"""Which parts of a request to believe: the client's address, scheme and host
through ``TRUSTED_PROXIES`` proxy hops, and the ``Host`` through ``TRUSTED_HOSTS``."""

import logging

from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger("api.config")


def trust_proxies(app):
    """Take the client address, scheme and host from ``TRUSTED_PROXIES`` proxy hops.

    With the default 0 the ``X-Forwarded-*`` headers are ignored: any client can
    send them, and the client address is the rate-limit key for anonymous calls.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def trust_hosts(app):
    """``TRUSTED_HOSTS`` is Flask's own setting (``config.py`` puts the list there).

    Flask checks the ``Host`` (after ProxyFix, so ``X-Forwarded-Host`` through a
    trusted proxy) while it matches the URL, before any hook or view; a host not on
    the list raises ``SecurityError``, which ``errors.py`` answers as 400
    INVALID_HOST. So no link, ``Location`` or cached page is built from a forged
    host. Unset, any host is answered: warned about in production.

    Host names are case-insensitive (RFC 9110), but Werkzeug compares them as
    written, so the ``Host`` is lower-cased first (the list already is): call this
    before ``trust_proxies``, so that it also sees the host ProxyFix takes from
    ``X-Forwarded-Host``. Links are then built from the lower-case name.
    """
    app.wsgi_app = _LowerCaseHost(app.wsgi_app)
    if app.config["APP_ENV"] == "production" and not app.config["TRUSTED_HOSTS"]:
        log.warning(
            "TRUSTED_HOSTS is not set: any Host header is answered and reflected into "
            "links; set TRUSTED_HOSTS to the host names clients use"
        )


class _LowerCaseHost:
    """WSGI middleware: the request's ``Host`` header in lower case."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        if host:
            environ["HTTP_HOST"] = host.lower()
        return self.wsgi_app(environ, start_response)
