"""Password reset timing: a known email must answer like an unknown one.

Runs the app in-process (test client) on a temporary SQLite database, with the
reset mail going to a real SMTP server (aiosmtpd from requirements-dev.txt) on
a free loopback port, and times many reset requests for a known, an unknown
and an inactive email, interleaved in a shuffled order so that machine noise hits them alike. After
each request it waits for the queued mail job, and times that wait too: it is
the work a synchronous implementation would have made the client wait for.

    .venv/bin/python bench/reset_timing.py [--rounds 200]
"""

import argparse
import logging
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import flask_migrate
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["FLASK_SKIP_DOTENV"] = "1"

from app import create_app
from extensions import db
from models import User
from services import background


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
        client = app.test_client()
        emails = {
            "known email": "known@example.com",
            "unknown email": "nobody@example.com",
            "inactive user": "inactive@example.com",
        }
        answers = {name: [] for name in emails}
        jobs = {name: [] for name in emails}
        order = list(emails.items())
        shuffle = random.Random(10).shuffle  # a new order each round, the same each run
        for _ in range(args.rounds):
            shuffle(order)
            for name, email in order:
                started = time.perf_counter()
                response = client.post("/api/auth/password-reset", json={"email": email})
                answered = time.perf_counter()
                background.wait_until_idle()
                done = time.perf_counter()
                assert response.status_code == 202, response.get_data()
                answers[name].append((answered - started) * 1000)
                jobs[name].append((done - answered) * 1000)
    finally:
        smtp.stop()
    assert handler.received == args.rounds, handler.received
    print(f"{args.rounds} rounds; {handler.received} mails delivered (known email only)")
    print("Response time (what a client can measure):")
    for name, values in answers.items():
        print(f"  {name:<14} {summary(values)}")
    print("Background job after the response (lookup, token, SMTP):")
    for name, values in jobs.items():
        print(f"  {name:<14} {summary(values)}")


if __name__ == "__main__":
    main()
