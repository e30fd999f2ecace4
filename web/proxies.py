"""Which proxy hops to believe about the client's address, scheme and host."""

from werkzeug.middleware.proxy_fix import ProxyFix


def trust_proxies(app):
    """Take the client address, scheme and host from ``TRUSTED_PROXIES`` proxy hops.

    With the default 0 the ``X-Forwarded-*`` headers are ignored: any client can
    send them, and the client address is the rate-limit key for anonymous calls.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
