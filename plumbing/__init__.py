"""HTTP plumbing every view relies on, kept out of the views; no tables of its own.

- ``flask_app``: ``ApiFlask``, the app's Flask class (a cheaper sync check per hook);
- ``validation``: reading JSON bodies, query strings and ids in the URL;
- ``pagination``: numbered and cursor pages of a list;
- ``http_cache``: ETags, conditional requests and ``Cache-Control``;
- ``cors``: the origin allow-list (flask-cors);
- ``proxies``: what to believe of ``X-Forwarded-*`` and ``Host`` headers;
- ``cookieless``: no cookie session.
"""
