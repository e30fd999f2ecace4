"""Signed bearer tokens: access tokens and refresh tokens, never one for the other.

Both are itsdangerous-signed and timestamped with ``SECRET_KEY``, each under its
own salt, so a signature made for one kind never verifies as the other (their
payloads differ in shape too):

- an access token carries a session's random ``token_id``; it is good for
  ``ACCESS_TOKEN_TTL`` seconds while its session is open;
- a refresh token carries the ``token_id`` and the session's current refresh
  secret; it is good for ``REFRESH_TOKEN_TTL`` seconds, and only while that
  secret is the session's current one (``services/sessions.py`` keeps a digest).

Loading a token raises itsdangerous's ``BadSignature`` for anything forged or
malformed, and its subclass ``SignatureExpired`` for an expired one; the caller
decides what a refusal means.
"""

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

ACCESS_SALT = "access-token"
REFRESH_SALT = "refresh-token"


_serializers = {}


def _serializer(salt):
    """One serializer per (secret key, salt), built once: tokens are read on every
    authenticated request."""
    key = current_app.config["SECRET_KEY"]
    serializer = _serializers.get((key, salt))
    if serializer is None:
        serializer = _serializers[(key, salt)] = URLSafeTimedSerializer(key, salt=salt)
    return serializer


def sign_access_token(token_id):
    return _serializer(ACCESS_SALT).dumps(token_id)


def load_access_token(token):
    """The ``token_id`` an access token names."""
    token_id = _serializer(ACCESS_SALT).loads(token, max_age=current_app.config["ACCESS_TOKEN_TTL"])
    if not isinstance(token_id, str):
        raise BadSignature("not an access token")
    return token_id


def sign_refresh_token(token_id, secret):
    return _serializer(REFRESH_SALT).dumps([token_id, secret])


def load_refresh_token(token):
    """``(token_id, secret)`` of a refresh token."""
    payload = _serializer(REFRESH_SALT).loads(
        token, max_age=current_app.config["REFRESH_TOKEN_TTL"]
    )
    if not (
        isinstance(payload, list) and len(payload) == 2 and all(isinstance(p, str) for p in payload)
    ):
        raise BadSignature("not a refresh token")
    return payload[0], payload[1]


def token_pair(token_id, refresh_secret):
    """The body of a login or a refresh: a new access and refresh token for a session."""
    config = current_app.config
    return {
        "access_token": sign_access_token(token_id),
        "token_type": "Bearer",
        "expires_in": config["ACCESS_TOKEN_TTL"],
        "refresh_token": sign_refresh_token(token_id, refresh_secret),
        "refresh_expires_in": config["REFRESH_TOKEN_TTL"],
    }
