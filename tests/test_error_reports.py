"""Sentry error reports: a forced 500 reaches a loopback stand-in for Sentry, scrubbed.

The app runs in a child process (Sentry's SDK patches Flask process-wide, and
this test process must never load it: see ``test_observability.py``); the
stand-in is an ``http.server`` on a loopback port in this process, stopped by
the fixture.
"""

import gzip
import json
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60

BODY_SECRET = "body-secret-value-31337"
BODY_EMAIL = "body.user@example.com"
ERROR_EMAIL = "boom.user@example.com"
TOKEN = "token-secret-value-4242"
COOKIE = "cookie-secret-value-777"
DB_SECRET = "quoted-by-the-database-5150"

# The test's own app: the service plus one route that fails the way a bug does.
APP_SCRIPT = r"""
import json, sys
import sentry_sdk
from flask import request
from sqlalchemy.exc import IntegrityError
from app import create_app

given = json.load(sys.stdin)
app = create_app(given["settings"])

@app.post("/test-only/boom")
def boom():
    password = request.get_json()["password"]  # a local variable: never sent
    raise RuntimeError(f"Key (email)=({given['error_email']}) already exists; {len(password)}")

@app.post("/test-only/db-boom")
def db_boom():
    # PostgreSQL's message for a duplicate key quotes the value in its DETAIL.
    detail = f"Key (name)=({given['db_secret']}) already exists."
    raise IntegrityError(
        "INSERT INTO products (name) VALUES (%(name)s)",
        {"name": given["db_secret"]},
        Exception(f"duplicate key value violates unique constraint\nDETAIL:  {detail}"),
    )

client = app.test_client()
answers = {}
answers["boom"] = client.post(
    "/test-only/boom",
    json=given["body"],
    headers={"Authorization": "Bearer " + given["token"], "Cookie": "session=" + given["cookie"]},
)
answers["db_boom"] = client.post("/test-only/db-boom", json={})
answers["unauthenticated"] = client.post(
    "/api/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}
)
answers["not_found"] = client.get("/no-such-page")
answers["validation"] = client.post("/api/auth/login", json={"email": "not an email"})
sentry_sdk.flush(timeout=20)
print(json.dumps({
    name: {"status": r.status_code, "request_id": r.headers["X-Request-ID"]}
    for name, r in answers.items()
}))
"""


class FakeSentry(ThreadingHTTPServer):
    """Accepts envelopes like Sentry's ingest endpoint and keeps their bytes."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _EnvelopeHandler)
        self.envelopes = []

    def events(self):
        """Every error event (an envelope item of type ``event``) received."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


class _EnvelopeHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        assert encoding in {"", "gzip", "deflate"}, encoding
        self.server.envelopes.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry():
    server = FakeSentry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_500_is_reported_with_its_request_id_and_nothing_the_client_sent(
    sentry, database_url, make_app
):
    make_app()  # its teardown leaves the test database as it found it
    settings = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "SENTRY_DSN": f"http://publickey@127.0.0.1:{sentry.server_address[1]}/42",
    }
    body = {"password": BODY_SECRET, "email": BODY_EMAIL, "note": BODY_SECRET}
    given = {
        "settings": settings,
        "body": body,
        "error_email": ERROR_EMAIL,
        "token": TOKEN,
        "cookie": COOKIE,
        "db_secret": DB_SECRET,
    }
    run = subprocess.run(  # noqa: S603 -- this interpreter, the script above
        [sys.executable, "-c", APP_SCRIPT],
        input=json.dumps(given),
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "FLASK_SKIP_DOTENV": "1", "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    answers = json.loads(run.stdout.strip().splitlines()[-1])
    assert answers["boom"]["status"] == 500
    assert answers["unauthenticated"]["status"] == 401
    assert answers["not_found"]["status"] == 404
    assert answers["validation"]["status"] == 400

    assert answers["db_boom"]["status"] == 500

    # One report per 500. Errors the service answers on purpose are not reported.
    events = {event["tags"]["request_id"]: event for event in sentry.events()}
    assert events.keys() == {answers["boom"]["request_id"], answers["db_boom"]["request_id"]}
    event = events[answers["boom"]["request_id"]]
    assert event["release"] == "1.0.0"
    assert event["environment"] == "development"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert "[email]" in exception["value"]
    assert event["request"]["method"] == "POST"
    assert event["request"]["url"].endswith("/test-only/boom")

    [database_error] = events[answers["db_boom"]["request_id"]]["exception"]["values"]
    assert database_error["type"] == "IntegrityError"
    assert "message withheld" in database_error["value"]
    assert "[SQL: INSERT INTO products" in database_error["value"]

    everything = b"".join(sentry.envelopes)
    for secret in (BODY_SECRET, BODY_EMAIL, ERROR_EMAIL, TOKEN, COOKIE, DB_SECRET):
        assert secret.encode() not in everything, secret
    assert b"authorization" not in everything.lower()
    assert b"cookie" not in everything.lower()
