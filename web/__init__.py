"""The request plumbing every view relies on, kept out of the views.

- ``validation``: reading JSON bodies, query strings and ids in the URL;
- ``auth``: access tokens and the ``login_required`` / ``role_required`` decorators;
- ``pagination``: numbered and cursor pages of a list;
- ``http_cache``: ETags, conditional requests and ``Cache-Control``;
- ``rate_limits``: the rate limiter (on ``limits``), its key and the named limits;
- ``cors``: the origin allow-list (flask-cors);
- ``idempotency``: ``Idempotency-Key`` on creates, so a retry replays the first success;
- ``proxies``: what to believe of ``X-Forwarded-*`` headers;
- ``request_log``: request ids and the JSON log line;
- ``flask_app``: ``ApiFlask``, the app's Flask class (a cheaper sync check per hook);
- ``hooks``: ``init_app(app)``, which registers all of the above in one stated order.
"""
