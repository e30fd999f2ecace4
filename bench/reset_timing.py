"""Password reset timing: a known email must answer like an unknown one.

Runs the app in-process as a WSGI server would (call it, send the body, close the
response) on a temporary SQLite database, with the reset mail going to a real
SMTP server (aiosmtpd from requirements-dev.txt) on a free loopback port. It
times many reset requests for a known, an unknown and an inactive email,
in a random order so that machine noise hits them alike. Each request stores
its row in the mail outbox before it is answered; after each, the bench runs
the outbox's sender (what a server's sender thread does once the answer is out)
and times that too: it is the work a synchronous implementation would have made
the client wait for.

    .venv/bin/python -m bench.reset_timing [--rounds 400]     # from the project root
"""

import argparse
import logging
import os
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path

import flask_migrate
from aiosmtpd.controller import Controller
from werkzeug.test import EnvironBuilder

os.environ["FLASK_SKIP_DOTENV"] = "1"

from app import create_app
from extensions import db
from models import User
from services import mail_outbox

SETTLE_SECONDS = 0.02


class CountingHandler:
    def __init__(self):
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        self.received += 1
        return "250 Message accepted"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(app, email):
    """One request as a WSGI server serves it: call the app, send the whole body,
    then close the response. Returns the status and when the body was out,
    which is all a client can time; closing is what queues the mail job."""
    environ = EnvironBuilder(
        path="/api/auth/password-reset", method="POST", json={"email": email}
    ).get_environ()
    answer = {}
    body = app(environ, lambda status, headers, exc_info=None: answer.update(status=status))
    for _chunk in body:
        pass
    sent = time.perf_counter()
    body.close()
    return answer["status"], sent


def summary(values):
    deciles = statistics.quantiles(values, n=10)
    return (
        f"median {statistics.median(values):6.2f} ms   "
        f"p10 {deciles[0]:6.2f} ms   p90 {deciles[-1]:6.2f} ms"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the SMTP server's chatter
    handler, port = CountingHandler(), free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    database = Path(tempfile.mkdtemp(prefix="bench-")) / "reset.db"
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "MAIL_URL": f"smtp://127.0.0.1:{port}",
            "MAIL_SENDER": "command",  # the bench runs the sender itself, after each answer
        }
    )
    try:
        with app.app_context():
            flask_migrate.upgrade()
            for email, active in (("known@example.com", True), ("inactive@example.com", False)):
                user = User(name="Bench", email=email, role="viewer", is_active=active)
                user.set_password("the real password")
                db.session.add(user)
            db.session.commit()
        emails = {
            "known email": "known@example.com",
            "unknown email": "nobody@example.com",
            "inactive user": "inactive@example.com",
        }
        answers = {name: [] for name in emails}
        jobs = {name: [] for name in emails}
        # Each request's email is drawn at random (seeded), so every kind follows
        # every kind equally often: a request right after a known email's mail job
        # runs ~0.05 ms slower whatever its own email (grouped by the previous
        # request's kind, the three kinds time the same), and a fixed or
        # per-round shuffled order would pin that on some kinds more than others.
        draw = random.Random(10).choice
        for _ in range(args.rounds * len(emails)):
            name = draw(list(emails))
            started = time.perf_counter()
            status, answered = serve(app, emails[name])
            with app.app_context():
                mail_outbox.send_due()
            done = time.perf_counter()
            # Let the in-process SMTP server finish its side of the mail too, so
            # that it does not compete with whichever request comes next.
            time.sleep(SETTLE_SECONDS)
            assert status.startswith("202"), status
            answers[name].append((answered - started) * 1000)
            jobs[name].append((done - answered) * 1000)
    finally:
        smtp.stop()
    known = len(answers["known email"])
    assert handler.received == known, (handler.received, known)
    counts = ", ".join(f"{len(values)} {name}" for name, values in answers.items())
    print(f"{counts}; {handler.received} mails delivered (known email only)")
    print("Response time (what a client can measure):")
    for name, values in answers.items():
        print(f"  {name:<14} {summary(values)}")
    print("Outbox sender after the response (claim, lookup, token, SMTP, delete):")
    for name, values in jobs.items():
        print(f"  {name:<14} {summary(values)}")


if __name__ == "__main__":
    main()
