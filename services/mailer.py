"""Outgoing mail, one plain-text message at a time, through ``MAIL_URL``.

- ``smtp://[user:password@]host[:port]`` (port 25 unless given): STARTTLS as soon
  as the server offers it. Credentials are only ever sent over TLS: a server that
  asks for them without offering STARTTLS is refused.
- ``smtps://[user:password@]host[:port]`` (port 465 unless given): TLS from the
  first byte.
- ``console://``, the development default: the message is written to standard
  error, never through ``logging``, so it cannot end up in the JSON log.

Server certificates are verified against the system's CA bundle (``SSL_CERT_FILE``
names another, e.g. a private CA). Every network operation gives up after
``TIMEOUT`` seconds, so a slow or silent mail server costs that much at most.
A failure raises ``MailError``, whose text names what failed (an exception class,
an SMTP status code) and never the message, an address or the server's words, so
it can be logged as it is. Its ``permanent`` says whether the server refused this
very message for good (a 5xx to every recipient, or to the DATA, but for a
security or policy refusal, ``5.7.x``): sending it again cannot succeed. Every
other failure may pass by itself or once an operator fixes the settings, so it is
worth trying again.

The standard library (``smtplib``, ``email``) does all of it; an extension such as
Flask-Mail would add a dependency for no feature the service uses.
"""

import re
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from flask import current_app

TIMEOUT = 10  # seconds, for connecting and for each reply of the server
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class MailError(Exception):
    """The message could not be handed to the mail server.

    ``permanent``: the server refused this message for good, so trying it again
    is pointless; false for anything that may pass (see ``refused_for_good``).
    """

    def __init__(self, reason, *, permanent=False):
        super().__init__(reason)
        self.permanent = permanent


def compose(to, subject, text):
    """A plain-text message from ``MAIL_FROM`` to ``to``."""
    message = EmailMessage()
    sender = current_app.config["MAIL_FROM"]
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    # Plain 7-bit text when it can be, so the token and the link stay intact on
    # the wire too (quoted-printable would break a long link with soft breaks).
    if text.isascii() and all(len(line) <= 998 for line in text.splitlines()):
        message.set_content(text, cte="7bit")
    else:
        message.set_content(text)
    return message


def send(message):
    """Deliver ``message`` through ``MAIL_URL``; raise ``MailError`` when that fails."""
    url = urlsplit(current_app.config["MAIL_URL"])
    if url.scheme == "console":
        _write_to_console(message)
        return
    try:
        with _connect(url) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise MailError(
            f"{type(exc).__name__}: the server answered {exc.smtp_code}",
            permanent=refused_for_good(exc),
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:  # its keys are addresses: only the codes
        codes = ", ".join(str(code) for code, _ in exc.recipients.values())
        raise MailError(
            f"SMTPRecipientsRefused: the server answered {codes}",
            permanent=refused_for_good(exc),
        ) from None
    except ssl.SSLError as exc:
        raise MailError(f"{type(exc).__name__}: {exc.reason or 'TLS failed'}") from None
    except smtplib.SMTPServerDisconnected as exc:  # smtplib's own words: "timed out", ...
        raise MailError(f"{type(exc).__name__}: {exc}") from None
    except smtplib.SMTPException as exc:
        raise MailError(type(exc).__name__) from None
    except OSError as exc:  # refused, unreachable, timed out, DNS
        reason = exc.strerror or (str(exc) if isinstance(exc, TimeoutError) else "")
        raise MailError(f"{type(exc).__name__}: {reason or 'network error'}") from None


def refused_for_good(exc):
    """Whether the SMTP exception ``exc`` is a refusal of this message that no retry
    can change: a 5xx to every recipient (RCPT), or to the message (DATA).

    Every other answer is left to be retried, deliberately, 5xx included: a 5xx to
    MAIL FROM (``SMTPSenderRefused``), to the login (``SMTPAuthenticationError``) or
    to HELO/EHLO (``SMTPHeloError``) is about the service's own settings, not the
    message, and the mail must still go out once an operator has fixed them. So is
    a 5xx whose enhanced status code (RFC 3463) is of the security or policy class,
    ``5.7.x``: "relaying denied" or "authentication required" is what a relay answers
    to a ``MAIL_URL`` without the right credentials, to every recipient alike. A 4xx
    is temporary by definition.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = exc.recipients.values()
        return bool(replies) and all(is_permanent_reply(code, text) for code, text in replies)
    if isinstance(exc, smtplib.SMTPDataError):
        return is_permanent_reply(exc.smtp_code, exc.smtp_error)
    return False


# An enhanced status code at the start of a reply's text: class.subject.detail.
ENHANCED_STATUS = re.compile(rb"\s*[245]\.(\d{1,3})\.\d{1,3}(?:\s|$)")
SECURITY_OR_POLICY = b"7"  # RFC 3463's subject 7


def is_permanent_reply(code, text):
    """A 5xx reply ("permanent negative completion", RFC 5321) that is not of the
    security or policy class (``5.7.x``), which the service's settings can cause.
    ``text`` is the reply's text as smtplib keeps it (bytes)."""
    if not 500 <= code <= 599:
        return False
    enhanced = ENHANCED_STATUS.match(text)
    return enhanced is None or enhanced.group(1) != SECURITY_OR_POLICY


def _connect(url):
    """An SMTP connection, secured and logged in as ``url`` says."""
    host, port = url.hostname, url.port or DEFAULT_PORTS[url.scheme]
    context = ssl.create_default_context()
    if url.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
    try:
        smtp.ehlo()
        if url.scheme == "smtp" and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if url.username:
            if url.scheme == "smtp" and not isinstance(smtp.sock, ssl.SSLSocket):
                raise MailError("the server offers no STARTTLS; credentials are not sent in clear")
            smtp.login(unquote(url.username), unquote(url.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def _write_to_console(message):
    """The message as a person reads it, in one write to standard error."""
    headers = "".join(f"{name}: {value}\n" for name, value in message.items())
    sys.stderr.write(
        "----- mail (MAIL_URL=console://) -----\n"
        f"{headers}\n{message.get_content().rstrip()}\n"
        "----- end of mail -----\n"
    )
    sys.stderr.flush()
