"""A real SMTP server for the tests: aiosmtpd on a free loopback port.

``smtp_server()`` runs one for the length of a ``with`` block and stops it after;
what it receives lands in ``server.inbox``, parsed, with whether the connection
was encrypted. A test makes it refuse by setting the server's replies:
``mail_from_reply`` (to every MAIL FROM), ``rcpt_replies`` (address -> reply, to
RCPT TO) or ``data_reply`` (to the end of every message, which is then not kept);
each refusal is noted in ``server.refusals`` ("MAIL", "RCPT", "DATA").
``self_signed_certificate()`` makes a certificate for 127.0.0.1
with the openssl command, for the STARTTLS and smtps tests.
"""

import shutil
import ssl
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.conftest import skip_or_fail
from tests.servers import free_port

USER, SECRET = "mailer", "mail-secret"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: EmailMessage
    encrypted: bool
    login: str | None
    raw: bytes


@dataclass
class MailServer:
    port: int
    inbox: list = field(default_factory=list)
    mail_from_reply: str | None = None  # e.g. "553 5.7.1 Sender address rejected"
    rcpt_replies: dict = field(default_factory=dict)  # e.g. {address: "550 5.1.1 ..."}
    data_reply: str | None = None  # e.g. "554 5.6.0 Message rejected"
    refusals: list = field(default_factory=list)

    def url(self, scheme="smtp", credentials=""):
        return f"{scheme}://{credentials}127.0.0.1:{self.port}"


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        if self.server.mail_from_reply:
            return self._refuse("MAIL", self.server.mail_from_reply)
        envelope.mail_from = address  # what aiosmtpd does when there is no hook
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        if address in self.server.rcpt_replies:
            return self._refuse("RCPT", self.server.rcpt_replies[address])
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.data_reply:
            return self._refuse("DATA", self.server.data_reply)
        self.server.inbox.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=message_from_bytes(envelope.original_content, policy=policy.default),
                encrypted=smtp.transport.get_extra_info("ssl_object") is not None,
                login=(session.auth_data.login.decode() if session.auth_data else None),
                raw=envelope.original_content,
            )
        )
        return "250 Message accepted"

    def _refuse(self, command, reply):
        self.server.refusals.append(command)
        return reply


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == SECRET.encode()
    # handled=False: aiosmtpd answers a refusal itself (535); by default it
    # leaves that to the authenticator, and the client would wait for an answer.
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@contextmanager
def smtp_server(*, starttls_cert=None, implicit_tls_cert=None, with_auth=False, port=None):
    """An SMTP server on 127.0.0.1 (on ``port``, else a free one); STARTTLS or TLS
    from the start with a ``(cert, key)`` pair; AUTH (over TLS only) for
    ``USER``/``SECRET``."""
    server = MailServer(port=port or free_port())
    options = {}
    if starttls_cert:
        options["tls_context"] = _server_context(starttls_cert)
    if implicit_tls_cert:
        options["ssl_context"] = _server_context(implicit_tls_cert)
    if with_auth:
        options.update(authenticator=_authenticate, auth_require_tls=True)
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def _server_context(cert):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    return context


def self_signed_certificate(directory):
    """``(cert, key)`` paths of a fresh self-signed certificate for IP 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        skip_or_fail("needs the openssl command to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603 -- fixed arguments
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def reset_token_from(message):
    """The token on the mail's ``Token: <token>`` line."""
    lines = [line for line in message.get_content().splitlines() if line.startswith("Token: ")]
    assert len(lines) == 1, message.get_content()
    return lines[0].removeprefix("Token: ")
