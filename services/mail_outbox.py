"""Mail that is never lost: queued with the answer that owes it, sent by the service.

Queueing. ``queue_mail(to, subject, text)`` adds a ready message to the current
``db.session``; ``queue(kind, to)`` adds a request for a mail that the composer
registered for ``kind`` (``@composer(kind)``) builds when it is sent. Either is
committed with the caller's own write, or not at all, so once a request has been
answered its mail is in the database, whatever happens to the process next.

Sending. ``send_due()`` sends, one at a time, every row that is due and that this
sender can claim, and deletes each once the mail server has accepted it. It runs
in a thread of every process that serves requests (``MAIL_SENDER=thread``, the
default: started when a gunicorn worker has loaded the app, by
``gunicorn.conf.py``'s ``post_worker_init``, or at a process's first request),
woken when a request that queued mail has been answered and every
``POLL_SECONDS`` otherwise; and in ``flask --app app send-mail`` processes. A row
a killed process queued or was sending is due for every other sender, so it goes
out within ``POLL_SECONDS`` of a sender looking (docs/operations.md).

Claims. Any number of senders, in any processes and hosts, share the table; one
of them sends a row:

- PostgreSQL: the claim is the row lock. ``SELECT ... FOR UPDATE SKIP LOCKED``
  takes one due row no other sender holds, on a connection of the sender's own,
  and that transaction stays open while the mail is sent; the row is deleted (or
  rescheduled) and the transaction committed after. A sender that dies lets go of
  the lock with its connection, so the row is due again at once; one that hangs,
  or whose host vanishes, is cut off by the server after ``LEASE_SECONDS`` idle in
  that transaction (``idle_in_transaction_session_timeout``, set for it alone).
- SQLite (one host): the claim is a conditional UPDATE. ``attempts`` goes up by one
  only if it still holds the value the sender read, and the row records the
  claimant (``claimed_by``: host, process id, a random part) and its lease
  (``lease_until``, ``LEASE_SECONDS`` ahead). Another sender takes a claimed row
  when the lease has expired, or at once when the claimant's process is gone
  (killed mid-send), which a process of the same host can tell.

So under normal operation each mail is sent once; a sender killed after the mail
server accepted a mail, before it deleted the row, makes it go out twice.

Failures. A mail the server refuses for good (``MailError.permanent``: a 5xx to
its recipient or to the message itself, such as ``550 no such mailbox``, unless
of the security or policy class, ``5.7.x``: ``mailer.refused_for_good``) can
never be delivered: its row is deleted at once, logged as an error, and the pass
goes on to the next mail, since such a refusal says nothing about the server. Any
other failure (a server that cannot be reached, a 4xx, a refusal of the
service's own settings) is tried again after ``BACKOFF_FIRST`` seconds, then
twice as long each time up to ``BACKOFF_CAP``; a row that still fails
``GIVE_UP_AFTER`` after it was queued is dropped. A pass stops at such a failure,
so a server that is down costs one attempt per pass, not one per waiting mail.
Everything is logged by ``api.mail`` with the row's id and kind and the error's
class and reason, never a message's text, an address or a token.
"""

import atexit
import logging
import os
import secrets
import socket
import threading
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage

from flask import after_this_request, current_app, g, has_request_context
from sqlalchemy import delete, select, text, update

from extensions import db
from models.base import utcnow
from models.mail_outbox import MESSAGE, OutboxMail
from observability import metrics
from services import mailer

log = logging.getLogger("api.mail")

POLL_SECONDS = 2  # how often an idle sender looks for due rows
LEASE_SECONDS = 120  # longest a claim outlives a sender that stopped answering
BACKOFF_FIRST = 5  # seconds before the first retry
BACKOFF_CAP = 600  # the longest wait between two attempts
GIVE_UP_AFTER = timedelta(hours=24)  # retried for this long after it was queued
STOP_SECONDS = 15  # how long a stopping process waits for the mail being sent
CANDIDATES = 20  # rows a SQLite sender reads per claim (claimed ones are skipped)

OUTBOX = OutboxMail.__table__
SUBJECT_MAX = OUTBOX.c.subject.type.length


@dataclass
class Outgoing:
    """What a composer makes of a row: the message, and what to log with it."""

    message: EmailMessage
    log_fields: dict = field(default_factory=dict)


_composers = {}


def composer(kind):
    """Register ``build(row) -> Outgoing | None`` for rows of ``kind``.

    ``None`` means there is nothing to send (the row is dropped). The composer
    runs in the sender, in an app context, before the mail is sent; what it
    writes it commits itself.
    """

    def register(build):
        _composers[kind] = build
        return build

    return register


@composer(MESSAGE)
def _ready_message(row):
    return Outgoing(mailer.compose(row.recipient, row.subject, row.body))


# --- queueing -----------------------------------------------------------------------


def queue_mail(to, subject, text):
    """Queue a plain-text mail; it is stored when the caller's transaction commits."""
    if len(subject) > SUBJECT_MAX:  # refused here, not by the caller's commit
        raise ValueError(f"a mail subject has at most {SUBJECT_MAX} characters")
    _add(OutboxMail(kind=MESSAGE, recipient=to, subject=subject, body=text))


def queue(kind, recipient):
    """Queue a mail that ``kind``'s composer builds for ``recipient`` when it is sent."""
    if kind not in _composers:
        raise ValueError(f"no composer for mail of kind {kind!r}")
    _add(OutboxMail(kind=kind, recipient=recipient))


def _add(row):
    now = utcnow()
    row.created_at = row.next_attempt_at = now
    row.attempts = 0
    db.session.add(row)
    if has_request_context() and "mail_queued" not in g:
        g.mail_queued = True
        sender = _senders.get(current_app.extensions["mail_outbox"])
        if sender is not None:
            # Woken once the answer has gone out, so nothing the sender does
            # overlaps the response a client can time.
            @after_this_request
            def wake_when_sent(response):
                response.call_on_close(sender.wake.set)
                return response


# --- sending ------------------------------------------------------------------------


@dataclass
class PassResult:
    """What one ``send_due()`` did, by outcome (the ``mail_sent_total`` results)."""

    sent: int = 0
    dropped: int = 0
    refused: int = 0
    failed: int = 0
    given_up: int = 0


def send_due(sender_id=None, *, stopping=None):
    """Send every due row this sender can claim (in an app context); a ``PassResult``.

    Stops at the first failed send that is to be retried (a mail refused for good
    is not one), or when the ``stopping`` event is set. With no ``MAIL_URL``
    nothing is sent: the rows wait (and show in the metrics).
    """
    result = PassResult()
    if not current_app.config["MAIL_URL"]:
        return result
    claims = _claims_for(db.engine.dialect.name, sender_id or new_sender_id())
    while stopping is None or not stopping.is_set():
        claim = claims.claim(utcnow())
        if claim is None:
            break
        outcome = _deliver(claim)
        setattr(result, outcome, getattr(result, outcome) + 1)
        metrics.count_mail(outcome)
        if outcome in ("failed", "given_up"):
            break
    return result


def _deliver(claim):
    """Compose, send and settle one claimed row; returns its outcome."""
    row = claim.row
    outgoing = None
    try:
        try:
            outgoing = _composers[row.kind](row)
        finally:
            db.session.remove()  # no transaction of the session stays open while mailing
        if outgoing is not None:
            mailer.send(outgoing.message)
    except Exception as exc:  # anything but a permanent refusal is retried
        return _settle_failure(claim, exc, outgoing.log_fields if outgoing else {})
    claim.delete()
    fields = {"outbox_id": row.id, "kind": row.kind, "attempt": claim.attempt}
    if outgoing is None:
        log.debug("mail not needed", extra=fields)
        return "dropped"
    log.info("mail sent", extra=fields | outgoing.log_fields)
    return "sent"


def _settle_failure(claim, exc, log_fields):
    row = claim.row
    # A MailError's text names what failed and never the message; any other
    # exception's text may quote anything, so only its class is logged.
    reason = str(exc) if isinstance(exc, mailer.MailError) else type(exc).__name__
    fields = {"outbox_id": row.id, "kind": row.kind, "attempt": claim.attempt, "error": reason}
    fields |= log_fields  # a reset's user id: whose address is refused, without it
    if isinstance(exc, mailer.MailError) and exc.permanent:
        claim.delete()  # the server will never take it: retrying only delays the others
        log.error("mail refused", extra=fields)
        return "refused"
    now = utcnow()
    if now - row.created_at >= GIVE_UP_AFTER:
        claim.delete()
        queued_for = int((now - row.created_at).total_seconds())
        log.error("mail given up", extra=fields | {"queued_seconds": queued_for})
        return "given_up"
    wait = backoff(claim.attempt)
    claim.retry_at(now + timedelta(seconds=wait))
    log.warning("mail not sent; will retry", extra=fields | {"retry_in_seconds": wait})
    return "failed"


def backoff(attempt):
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...)."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(attempt - 1, 30))


def new_sender_id():
    """A name for one sender: its host and process (what SQLite claims check), and a
    random part, so two senders of one process are two claimants."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _claims_for(dialect, sender_id):
    return RowLocks() if dialect == "postgresql" else Leases(sender_id)


class RowLocks:
    """PostgreSQL: a claim is the row's lock, held while the mail is sent."""

    def claim(self, now):
        connection = db.engine.connect()
        try:
            # A constant: SET takes no bound parameters.
            connection.execute(
                text(f"SET LOCAL idle_in_transaction_session_timeout = '{LEASE_SECONDS}s'")
            )
            row = connection.execute(
                select(OUTBOX)
                .where(OUTBOX.c.next_attempt_at <= now)
                .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
        except BaseException:
            connection.close()
            raise
        if row is None:
            connection.close()
            return None
        return LockedRow(connection, row)


class LockedRow:
    def __init__(self, connection, row):
        self.connection, self.row = connection, row
        self.attempt = row.attempts + 1

    def delete(self):
        self._finish(delete(OUTBOX).where(OUTBOX.c.id == self.row.id))

    def retry_at(self, when):
        self._finish(
            update(OUTBOX)
            .where(OUTBOX.c.id == self.row.id)
            .values(attempts=self.attempt, next_attempt_at=when)
        )

    def _finish(self, statement):
        try:
            self.connection.execute(statement)
            self.connection.commit()
        finally:
            self.connection.close()


class Leases:
    """SQLite: a claim is a conditional UPDATE that records the claimant and a lease."""

    def __init__(self, sender_id):
        self.sender_id = sender_id

    def claim(self, now):
        with db.engine.connect() as connection:
            candidates = connection.execute(
                select(OUTBOX)
                .where(OUTBOX.c.next_attempt_at <= now)
                .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
                .limit(CANDIDATES)
            ).all()
            for row in candidates:
                leased = row.lease_until is not None and row.lease_until > now
                if leased and claimant_alive(row.claimed_by):
                    continue
                won = connection.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id == row.id, OUTBOX.c.attempts == row.attempts)
                    .values(
                        attempts=row.attempts + 1,
                        claimed_by=self.sender_id,
                        lease_until=now + timedelta(seconds=LEASE_SECONDS),
                    )
                ).rowcount
                connection.commit()
                if won == 1:
                    return LeasedRow(self.sender_id, row)
        return None


class LeasedRow:
    def __init__(self, sender_id, row):
        self.sender_id, self.row = sender_id, row
        self.attempt = row.attempts + 1

    def _mine(self):
        # Settles the row only while the claim is still this sender's.
        return (
            OUTBOX.c.id == self.row.id,
            OUTBOX.c.attempts == self.attempt,
            OUTBOX.c.claimed_by == self.sender_id,
        )

    def delete(self):
        self._finish(delete(OUTBOX).where(*self._mine()))

    def retry_at(self, when):
        self._finish(
            update(OUTBOX)
            .where(*self._mine())
            .values(next_attempt_at=when, claimed_by=None, lease_until=None)
        )

    def _finish(self, statement):
        with db.engine.connect() as connection:
            connection.execute(statement)
            connection.commit()


def claimant_alive(claimed_by):
    """Whether the sender named ``claimed_by`` may still be sending: False only when
    it ran on this host and its process no longer exists."""
    host, _, rest = (claimed_by or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:40] or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, under another user
        return True
    return True


# --- the sender thread --------------------------------------------------------------


class SenderThread:
    """One app's sender in this process: ``send_due()`` in a loop, woken by ``wake``."""

    def __init__(self, app):
        self.app = app
        self.sender_id = new_sender_id()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="mail-sender", daemon=True)

    def run(self):
        while not self.stopping.is_set():
            self.wake.clear()
            run_pass(self.app, self.sender_id, self.stopping)
            self.wake.wait(POLL_SECONDS)

    def stop(self, timeout=STOP_SECONDS):
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout)


def run_pass(app, sender_id, stopping=None):
    """One ``send_due()`` in an app context of ``app``; a failure is logged, not raised."""
    try:
        with app.app_context():
            return send_due(sender_id, stopping=stopping)
    except Exception as exc:  # the loop goes on: the database may be back next time
        log.warning("mail sender pass failed", extra={"error": type(exc).__name__})
        return None


# app -> its SenderThread in this process. A forked child starts with none: the
# parent's threads do not exist there.
_senders = weakref.WeakKeyDictionary()
_senders_lock = threading.Lock()
os.register_at_fork(after_in_child=_senders.clear)


def init_app(app):
    """Make ``app`` known to the mail sender; with ``MAIL_SENDER=thread``
    ``pipeline`` registers ``sender_start(app)``, which starts this process's
    sender at its first request."""
    app.extensions["mail_outbox"] = app  # the app itself, where only current_app is at hand


def sender_start(app):
    """``app``'s ``before_request`` step: start the sender thread of this process,
    unless it runs already. Made for its app, so that no request looks the app up
    through ``current_app`` (each read of that proxy is a lookup)."""

    def start_mail_sender(req, ctx_g):
        if app not in _senders:
            start_sender(app)

    return start_mail_sender


def start_sender(app):
    """Start ``app``'s sender thread in this process, unless it runs already or
    ``MAIL_SENDER`` is not ``thread``; returns it (or None)."""
    if app.config["MAIL_SENDER"] != "thread":
        return None
    with _senders_lock:
        sender = _senders.get(app)
        if sender is None:
            sender = _senders[app] = SenderThread(app)
            sender.thread.start()
            log.info("mail sender started", extra={"pid": os.getpid()})
        return sender


def stop_sender(app, timeout=STOP_SECONDS):
    """Stop ``app``'s sender thread, letting the mail it is sending finish."""
    with _senders_lock:
        sender = _senders.pop(app, None)
    if sender is not None:
        sender.stop(timeout)


@atexit.register
def _stop_senders_at_exit():
    """A process that exits normally (a gunicorn worker's graceful shutdown) first
    lets the mail being sent finish, so it is not sent again after its lease."""
    for app in list(_senders):
        stop_sender(app)
