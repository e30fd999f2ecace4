"""Signed bearer tokens: access tokens and refresh tokens, never one for the other.

Both are itsdangerous-signed and timestamped with ``SECRET_KEY``, each under its
own salt, so a signature made for one kind never verifies as the other (their
payloads differ in shape too):

- an access token carries a session's random ``token_id`` and a random nonce of
  its own, so no two are the same string, even two signed in the same second
  for one session; it is good for ``ACCESS_TOKEN_TTL`` seconds while its
  session is open;
- a refresh token carries the ``token_id`` and the session's current refresh
  secret (new at every refresh, so refresh tokens differ too); it is good for
  ``REFRESH_TOKEN_TTL`` seconds, and only while that secret is the session's
  current one (``services/sessions.py`` keeps a digest). It is signed with the
  time of the refresh that made it, which the session row keeps, so the very
  same token can be handed out again within the refresh grace.

Loading a token raises itsdangerous's ``BadSignature`` for anything forged or
malformed, and its subclass ``SignatureExpired`` for an expired one; the caller
decides what a refusal means.
"""

import secrets

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

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


class IssuedAtSigner(TimestampSigner):
    """A timestamp signer that signs with a given time instead of the clock's."""

    def __init__(self, *args, issued_at, **kwargs):
        super().__init__(*args, **kwargs)
        self.issued_at = issued_at

    def get_timestamp(self):
        return self.issued_at


def sign_access_token(token_id):
    return _serializer(ACCESS_SALT).dumps({"sid": token_id, "nonce": secrets.token_urlsafe(12)})


def load_access_token(token):
    """The ``token_id`` an access token names."""
    payload = _serializer(ACCESS_SALT).loads(token, max_age=current_app.config["ACCESS_TOKEN_TTL"])
    # A bare token_id: an access token signed before tokens had a nonce, good
    # until it expires like any other.
    if isinstance(payload, str):
        return payload
    if not (isinstance(payload, dict) and isinstance(payload.get("sid"), str)):
        raise BadSignature("not an access token")
    return payload["sid"]


def sign_refresh_token(token_id, secret, issued_at=None):
    """A refresh token; signed at ``issued_at`` (Unix seconds) when given, so the
    same secret and time make the same token again."""
    if issued_at is None:
        return _serializer(REFRESH_SALT).dumps([token_id, secret])
    serializer = URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"],
        salt=REFRESH_SALT,
        signer=IssuedAtSigner,
        signer_kwargs={"issued_at": issued_at},
    )
    return serializer.dumps([token_id, secret])


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


def token_pair(token_id, refresh_secret, refresh_issued_at=None):
    """The body of a login or a refresh: a new access token, and the refresh token
    of ``refresh_secret`` (signed at ``refresh_issued_at``, Unix seconds, if given)."""
    config = current_app.config
    return {
        "access_token": sign_access_token(token_id),
        "token_type": "Bearer",
        "expires_in": config["ACCESS_TOKEN_TTL"],
        "refresh_token": sign_refresh_token(token_id, refresh_secret, refresh_issued_at),
        "refresh_expires_in": config["REFRESH_TOKEN_TTL"],
    }
