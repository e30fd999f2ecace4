"""The mailer against a real SMTP server on a loopback port: plain, STARTTLS,
smtps, credentials only over TLS, failures that name no secret, which refusals
are permanent, and console://."""

import json
import logging
import smtplib
import socket
import threading

import pytest

from config import ConfigError, load_settings
from services import mailer
from tests.mail_server import SECRET, USER, self_signed_certificate, smtp_server


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


@pytest.fixture
def trusted(certificate, monkeypatch):
    """The test certificate trusted the way an operator trusts a private CA."""
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    return certificate


def send(make_app, mail_url, to="ann@example.com", **settings):
    app = make_app(MAIL_URL=mail_url, **settings)
    with app.app_context():
        mailer.send(mailer.compose(to, "Hello", "Line one.\nToken: abc\n"))


def test_plain_smtp_delivers_to_the_address_from_mail_from(make_app):
    with smtp_server() as server:
        send(make_app, server.url(), MAIL_FROM="Shop <no-reply@shop.example>")
    [received] = server.inbox
    assert received.rcpt_tos == ["ann@example.com"]
    assert received.mail_from == "no-reply@shop.example"
    assert received.message["From"] == "Shop <no-reply@shop.example>"
    assert received.message["To"] == "ann@example.com"
    assert received.message["Subject"] == "Hello"
    assert received.message["Message-ID"].endswith("@shop.example>")
    assert "Token: abc" in received.message.get_content().splitlines()
    assert received.encrypted is False


def test_starttls_is_used_when_the_server_offers_it(make_app, trusted):
    with smtp_server(starttls_cert=trusted) as server:
        send(make_app, server.url())
    [received] = server.inbox
    assert received.encrypted is True


def test_smtps_is_tls_from_the_first_byte(make_app, trusted):
    with smtp_server(implicit_tls_cert=trusted) as server:
        send(make_app, server.url("smtps"))
    [received] = server.inbox
    assert received.encrypted is True


def test_credentials_log_in_over_starttls(make_app, trusted):
    with smtp_server(starttls_cert=trusted, with_auth=True) as server:
        send(make_app, server.url(credentials=f"{USER}:{SECRET}@"))
    [received] = server.inbox
    assert received.encrypted is True and received.login == USER


def test_credentials_are_never_sent_without_tls(make_app):
    with smtp_server() as server, pytest.raises(mailer.MailError, match="STARTTLS"):
        send(make_app, server.url(credentials=f"{USER}:{SECRET}@"))
    assert server.inbox == []


def test_an_untrusted_certificate_is_refused(make_app, certificate):
    refused = pytest.raises(mailer.MailError)
    with smtp_server(starttls_cert=certificate) as server, refused as caught:
        send(make_app, server.url())
    assert server.inbox == []
    assert "SSL" in str(caught.value)


def test_an_unreachable_server_is_a_mail_error_naming_no_content(make_app):
    with smtp_server() as server:
        url = server.url()  # the port is free again once the server stops
    with pytest.raises(mailer.MailError) as caught:
        send(make_app, url)
    assert "ConnectionRefusedError" in str(caught.value)
    assert "Token" not in str(caught.value) and "abc" not in str(caught.value)


def test_a_silent_server_costs_at_most_the_timeout(make_app, monkeypatch):
    """A server that accepts the connection and never greets: the mailer gives up
    (the timeout itself is lowered so the test does not wait ten seconds)."""
    monkeypatch.setattr(mailer, "TIMEOUT", 0.2)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    try:
        with pytest.raises(mailer.MailError, match="timed out"):
            send(make_app, f"smtp://127.0.0.1:{listener.getsockname()[1]}")
    finally:
        thread.join(5)
        for connection, _ in accepted:
            connection.close()
        listener.close()


REFUSED_TEXT = "Refusal-words of the server"  # never in a MailError


@pytest.mark.parametrize(
    ("refuse", "code", "error_class", "permanent"),
    [
        # The message itself is refused for good: no retry can change that.
        ("rcpt", 550, "SMTPRecipientsRefused", True),  # no such mailbox
        ("rcpt", 553, "SMTPRecipientsRefused", True),  # mailbox name not allowed
        ("data", 554, "SMTPDataError", True),  # rejected (spam, policy)
        ("data", 552, "SMTPDataError", True),  # too big
        # Temporary by definition.
        ("rcpt", 451, "SMTPRecipientsRefused", False),  # greylisting, a local error
        ("rcpt", 452, "SMTPRecipientsRefused", False),  # mailbox full for now
        ("data", 451, "SMTPDataError", False),
        # The service's own settings, not the message: retried until fixed.
        ("mail_from", 553, "SMTPSenderRefused", False),
        ("mail_from", 550, "SMTPSenderRefused", False),
        ("mail_from", 421, "SMTPSenderRefused", False),
    ],
)
def test_which_refusals_are_permanent(make_app, refuse, code, error_class, permanent):
    reply = f"{code} {REFUSED_TEXT}"
    with smtp_server() as server, pytest.raises(mailer.MailError) as caught:
        if refuse == "rcpt":
            server.rcpt_replies["ann@example.com"] = reply
        elif refuse == "data":
            server.data_reply = reply
        else:
            server.mail_from_reply = reply
        send(make_app, server.url())
    assert server.inbox == []
    assert caught.value.permanent is permanent
    # The class and the code; never the address or the server's words.
    assert str(caught.value) == f"{error_class}: the server answered {code}"


@pytest.mark.parametrize(
    ("refuse", "reply", "permanent"),
    [
        ("rcpt", "550 5.1.1 No such user here", True),
        ("data", "554 5.6.0 Message content rejected", True),
        # Security or policy (5.7.x): what a relay answers a MAIL_URL without the
        # right credentials, whatever the recipient; retried until fixed.
        ("rcpt", "550 5.7.1 Relaying denied", False),
        ("rcpt", "530 5.7.0 Authentication required", False),
        ("data", "554 5.7.1 Rejected by policy", False),
    ],
)
def test_a_security_or_policy_refusal_is_not_permanent(make_app, refuse, reply, permanent):
    with smtp_server() as server, pytest.raises(mailer.MailError) as caught:
        if refuse == "rcpt":
            server.rcpt_replies["ann@example.com"] = reply
        else:
            server.data_reply = reply
        send(make_app, server.url())
    assert caught.value.permanent is permanent
    assert reply.split(" ", 2)[2] not in str(caught.value)


def test_a_refused_login_is_not_permanent(make_app, trusted):
    refused = pytest.raises(mailer.MailError)
    with smtp_server(starttls_cert=trusted, with_auth=True) as server, refused as caught:
        send(make_app, server.url(credentials=f"{USER}:wrong-secret@"))
    assert str(caught.value) == "SMTPAuthenticationError: the server answered 535"
    assert caught.value.permanent is False
    assert server.inbox == []


def test_network_failures_are_not_permanent(make_app):
    with smtp_server() as server:
        url = server.url()
    with pytest.raises(mailer.MailError) as caught:
        send(make_app, url)
    assert caught.value.permanent is False


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no"), "b@x.org": (554, b"no")}), True),
        # One of them may still be taken later: not for good.
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no"), "b@x.org": (421, b"bye")}), False),
        (smtplib.SMTPRecipientsRefused({}), False),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"5.1.1 no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"5.7.1 relaying denied")}), False),
        (
            smtplib.SMTPRecipientsRefused(
                {"a@x.org": (550, b"5.1.1 no"), "b@x.org": (550, b"5.7.1 no")}
            ),
            False,
        ),
        (smtplib.SMTPDataError(554, b"5.7.1 policy"), False),
        (smtplib.SMTPDataError(554, b"5.6.0 content rejected"), True),
        (smtplib.SMTPDataError(554, b"5.70 not an enhanced code"), True),
        (smtplib.SMTPDataError(554, b"rejected"), True),
        (smtplib.SMTPDataError(421, b"closing"), False),
        (smtplib.SMTPSenderRefused(550, b"no", "no-reply@localhost"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPHeloError(501, b"bad hostname"), False),
        (smtplib.SMTPResponseException(554, b"no SMTP service here"), False),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False),
    ],
)
def test_refused_for_good_is_a_5xx_to_every_recipient_or_to_data(error, permanent):
    assert mailer.refused_for_good(error) is permanent


def test_console_writes_the_mail_to_stderr_and_never_to_the_log(make_app, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    send(make_app, "console://", MAIL_FROM="no-reply@shop.example")
    captured = capsys.readouterr()
    assert "To: ann@example.com" in captured.err
    assert "From: no-reply@shop.example" in captured.err
    assert "Token: abc" in captured.err.splitlines()
    assert "Token: abc" not in captured.out
    assert "Token: abc" not in json.dumps([record.getMessage() for record in caplog.records])


@pytest.mark.parametrize(
    "value",
    [
        "smtp://",
        "http://mail.example.com",
        "smtp://user:hunter2@mail.example.com:notaport",
        "sendmail",
    ],
)
def test_a_bad_mail_url_stops_the_start_without_echoing_it(tmp_path, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({"MAIL_URL": value}, str(tmp_path))
    assert caught.value.name == "MAIL_URL"
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("value", ["nobody", "a@b.c\nBcc: x@y.z", "Shop <>"])
def test_a_bad_mail_from_stops_the_start(tmp_path, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({"MAIL_FROM": value}, str(tmp_path))
    assert caught.value.name == "MAIL_FROM"


def test_mail_defaults(tmp_path):
    settings = load_settings({}, str(tmp_path))
    assert settings["MAIL_URL"] == "console://"
    assert settings["MAIL_FROM"] == "no-reply@localhost"
