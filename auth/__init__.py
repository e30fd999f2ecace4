"""Who is calling: access and refresh tokens, and the decorators that require a caller.

- ``tokens``: signed access tokens and refresh tokens, each kind under its own salt;
- ``access``: the one-query authentication, ``login_required`` / ``role_required``,
  ``current_user``, ``optional_user``.
"""
