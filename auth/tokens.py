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

import functools
import hashlib
import secrets
import time

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

ACCESS_SALT = "access-token"
REFRESH_SALT = "refresh-token"


class KeptKeySigner(TimestampSigner):
    """A timestamp signer that derives its signing keys from its secret keys once.

    itsdangerous derives the key (a SHA-1 of salt and secret) again for every
    token it signs or checks; the result only depends on the secret key and the
    salt, which a signer never changes.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.derived_keys = {}
        for secret_key in self.secret_keys:  # bytes, as itsdangerous passes them back
            self.derived_keys[secret_key] = super().derive_key(secret_key)

    def derive_key(self, secret_key=None):
        return self.derived_keys[self.secret_keys[-1] if secret_key is None else secret_key]


class TokenSerializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed serializer, with the same token format, made
    cheaper to read a token with: its signer built once (itsdangerous builds a
    new one for every token), which keeps its derived keys (``KeptKeySigner``),
    and SHA-1 given as hashlib's own function, which ``hmac`` runs in OpenSSL
    (itsdangerous's default is a Python function wrapping it, with which ``hmac``
    computes the HMAC in Python). Measured in ``bench/README.md``.
    """

    default_signer = KeptKeySigner

    # Tokens remembered at most: about 300 bytes each. When full, the memory is
    # emptied: a forgotten token only costs one more signature check.
    REMEMBERED = 4096

    def __init__(self, secret_key, salt):
        super().__init__(secret_key, salt=salt, signer_kwargs={"digest_method": hashlib.sha1})
        self.kept_signer = super().make_signer()
        self.verified = {}  # token: (what it names, signed at in Unix seconds)

    def remember(self, token, value, signed_at):
        """Remember a token whose signature checked out (``load_access_token``)."""
        if len(self.verified) >= self.REMEMBERED:
            self.verified.clear()
        self.verified[token] = (value, signed_at)

    def make_signer(self, salt=None):
        """The kept signer for the serializer's own salt (the only one used here)."""
        return self.kept_signer if salt is None else super().make_signer(salt)


@functools.cache
def _serializer_for(secret_key, salt):
    return TokenSerializer(secret_key, salt)


def _serializer(salt):
    """One serializer per (secret key, salt), built once: tokens are read on every
    authenticated request."""
    return _serializer_for(current_app.config["SECRET_KEY"], salt)


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
    """The ``token_id`` an access token names.

    A client sends the same access token with each of its requests until it
    expires, so a token whose signature checked out is remembered (per secret
    key) with its ``token_id`` and signing time: sent again, only its age is
    checked, as itsdangerous checks it. One that is too old (or from the
    future) goes through itsdangerous again, which refuses it as before.
    """
    config = current_app.config  # read once: each read of the proxy is a lookup
    serializer = _serializer_for(config["SECRET_KEY"], ACCESS_SALT)
    max_age = config["ACCESS_TOKEN_TTL"]
    known = serializer.verified.get(token)
    if known is not None and 0 <= int(time.time()) - known[1] <= max_age:
        return known[0]
    payload, signed_at = serializer.loads(token, max_age=max_age, return_timestamp=True)
    # A bare token_id: an access token signed before tokens had a nonce, good
    # until it expires like any other.
    if isinstance(payload, str):
        token_id = payload
    elif isinstance(payload, dict) and isinstance(payload.get("sid"), str):
        token_id = payload["sid"]
    else:
        raise BadSignature("not an access token")
    serializer.remember(token, token_id, int(signed_at.timestamp()))
    return token_id


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
