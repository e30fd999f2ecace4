"""OpenTelemetry traces: the app exports its spans to an OTLP/HTTP receiver, from a
gunicorn worker (``servers`` tests) and from a plain child process (the default run).

Both run as child processes on loopback ports and are stopped by the test: the
receiver is a small ``http.server`` decoding ``ExportTraceServiceRequest`` with
``opentelemetry-proto``.
"""

import http.client
import json
import os
import secrets
import select
import subprocess
import sys
import time

import pytest

from emails import IN_TEXT
from tests.helpers import PASSWORD
from tests.servers import ROOT, Gunicorn, http_json, stop_process

TIMEOUT = 30

RECEIVER = r"""
import gzip, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

out = open(sys.argv[1], "a")

def attributes(pairs):
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in pairs}

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        spans = [
            {
                "resource": attributes(rs.resource.attributes),
                "trace_id": span.trace_id.hex(),
                "span_id": span.span_id.hex(),
                "parent_span_id": span.parent_span_id.hex(),
                "name": span.name,
                "kind": span.kind,
                "status": span.status.code,
                "attributes": attributes(span.attributes),
            }
            for rs in export.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]
        out.write(json.dumps({"path": self.path, "raw": body.hex(), "spans": spans}) + "\n")
        out.flush()
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3  # opentelemetry.proto.trace.v1.Span.SpanKind


class Receiver:
    def __init__(self, out_path):
        self.out_path = out_path
        out_path.touch()
        self.process = subprocess.Popen(  # noqa: S603 -- this interpreter, the script above
            [sys.executable, "-c", RECEIVER, str(out_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        if not ready:
            stop_process(self.process)
            pytest.fail("the OTLP receiver did not start")
        self.port = int(self.process.stdout.readline())

    def exports(self):
        return [json.loads(line) for line in self.out_path.read_text().splitlines()]

    def spans(self):
        return [span for export in self.exports() for span in export["spans"]]

    def wait_for_trace(self, trace_id, *, kinds):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            spans = [s for s in self.spans() if s["trace_id"] == trace_id]
            if kinds <= {s["kind"] for s in spans}:
                return spans
            time.sleep(0.1)
        pytest.fail(f"no spans of kinds {kinds} for trace {trace_id}: {self.spans()}")


@pytest.fixture
def receiver(tmp_path):
    started = Receiver(tmp_path / "spans.jsonl")
    yield started
    stop_process(started.process)


def _traced_instance(receiver, database_url, tmp_path, **settings):
    """One gunicorn worker exporting to ``receiver``; its stdout (the JSON log) in a file."""
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_SERVICE_NAME": "traced-api",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds between exports
        **settings,
    }
    with Gunicorn(settings, workers=1, log_path=tmp_path / "gunicorn.log") as server:
        server.wait_ready(timeout=TIMEOUT)
        yield server.url, server.process, server.log_path


@pytest.fixture
def traced_instance(receiver, database_url, tmp_path):
    yield from _traced_instance(receiver, database_url, tmp_path)


@pytest.fixture
def traced_instance_with_trusted_hosts(receiver, database_url, tmp_path):
    yield from _traced_instance(
        receiver, database_url, tmp_path, TRUSTED_HOSTS="api.example.com,127.0.0.1"
    )


def _request(url, *, body=None, headers=None):
    """(status, parsed JSON body): a POST with ``body``, else a GET."""
    method = "GET" if body is None else "POST"
    status, _, answer = http_json(method, url, body=body, headers=headers, timeout=TIMEOUT)
    return status, answer


def _traceparent():
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"


def _assert_me_and_query_traced(receiver, user, trace_id, parent_id, query_trace):
    """``GET /api/auth/me`` by ``user`` continued the caller's trace (``trace_id``,
    ``parent_id``) with its SQL as child spans, and the request of ``query_trace``
    (a query string holding secrets, answered 400) kept its query out of its span.
    Returns the server span of ``/api/auth/me``."""
    spans = receiver.wait_for_trace(trace_id, kinds={SPAN_KIND_SERVER, SPAN_KIND_CLIENT})
    [server] = [s for s in spans if s["kind"] == SPAN_KIND_SERVER]
    assert server["parent_span_id"] == parent_id
    assert server["name"] == "GET /api/auth/me"
    assert server["attributes"]["http.route"] == "/api/auth/me"
    assert server["attributes"]["http.status_code"] == 200
    assert server["attributes"]["enduser.id"] == str(user.id)
    assert server["resource"]["service.name"] == "traced-api"
    sql = [s for s in spans if s["kind"] == SPAN_KIND_CLIENT and "db.statement" in s["attributes"]]
    assert sql, spans
    assert all(s["parent_span_id"] == server["span_id"] for s in sql)
    assert any("auth_sessions" in s["attributes"]["db.statement"] for s in sql)

    [query_server] = [
        s
        for s in receiver.wait_for_trace(query_trace, kinds={SPAN_KIND_SERVER})
        if s["kind"] == SPAN_KIND_SERVER
    ]
    assert query_server["attributes"]["http.target"] == "/api/products"
    assert query_server["attributes"]["http.status_code"] == 400
    assert "url.query" not in query_server["attributes"]
    return server


def _threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.mark.servers
def test_requests_are_exported_as_traces_without_secrets(traced_instance, receiver, create_user):
    base, master, log_path = traced_instance
    user = create_user(email="traced.user@example.com")
    status, login = _request(
        base + "/api/auth/login", body={"email": user.email, "password": PASSWORD}
    )
    assert status == 200, login
    token = login["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    # Probes are not traced, even when they carry a traceparent.
    probe_traces = []
    for path in ("/healthz", "/readyz"):
        trace_id, _, header = _traceparent()
        probe_traces.append(trace_id)
        assert _request(base + path, headers={"traceparent": header})[0] == 200

    # A traced request continues the caller's trace, with its SQL as child spans.
    trace_id, parent_id, header = _traceparent()
    status, me = _request(base + "/api/auth/me", headers={**auth, "traceparent": header})
    assert status == 200 and me["id"] == user.id
    # A query string never leaves the process, whatever it holds.
    query_trace, _, query_header = _traceparent()
    status, _ = _request(
        base + "/api/products?api_key=query-secret-value&who=leak@example.com",
        headers={**auth, "traceparent": query_header},
    )
    assert status == 400

    server = _assert_me_and_query_traced(receiver, user, trace_id, parent_id, query_trace)

    everything = {s["trace_id"] for s in receiver.spans()}
    assert not everything & set(probe_traces)
    assert not any(
        s["attributes"].get("http.route") in {"/healthz", "/readyz"} for s in receiver.spans()
    )
    raw = b"".join(bytes.fromhex(export["raw"]) for export in receiver.exports())
    for secret in (PASSWORD, token, user.email, "query-secret-value", "leak@example.com"):
        assert secret.encode() not in raw
    assert b"Bearer" not in raw and b"authorization" not in raw.lower()

    # The request's log line names the trace and the server span.
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    [logged] = [line for line in lines if line.get("path") == "/api/auth/me"]
    assert logged["trace_id"] == trace_id
    assert logged["span_id"] == server["span_id"]

    # The provider lives in the worker (its export thread), never in the master.
    assert _threads(master.pid) == 1


# Run in a child process too: this test process never imports OpenTelemetry.
SANITIZER_SCRIPT = r"""
import json
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from observability.tracing import SanitizingExporter

memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(SanitizingExporter(memory)))
tracer = provider.get_tracer("test")
with tracer.start_as_current_span("GET /api/users", kind=SpanKind.SERVER) as span:
    span.set_attributes({
        "http.target": "/api/users?token=query-secret",
        "http.url": "http://user:pw@api.example.com/api/users?token=query-secret",
        "url.full": "https://api.example.com/api/users?token=query-secret",
        "url.query": "token=query-secret",
        "http.request.header.authorization": ("Bearer header-secret",),
        "db.statement.parameters": "('value-secret',)",
        "db.query.parameter.email": "value-secret",
        "db.statement": "SELECT * FROM users WHERE email = %(email_1)s",
        "note": "written by someone@example.com",
        "http.route": "/api/users",
    })
    span.add_event("exception", {
        "exception.type": "IntegrityError",
        "exception.message": "Key (email)=(dup@example.com) already exists",
        "exception.stacktrace": "... Key (email)=(dup@example.com) already exists",
    })
    span.set_status(Status(StatusCode.ERROR, "DETAIL: Key (email)=(dup@example.com) exists"))
[exported] = memory.get_finished_spans()
print(json.dumps({
    "attributes": dict(exported.attributes),
    "events": [dict(e.attributes) for e in exported.events],
    "status": [exported.status.status_code.name, exported.status.description],
}))
"""


def test_spans_leave_without_query_strings_secrets_or_emails():
    run = subprocess.run(  # noqa: S603 -- this interpreter, the script above
        [sys.executable, "-c", SANITIZER_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    exported = json.loads(run.stdout.strip().splitlines()[-1])
    assert exported["attributes"] == {
        "http.target": "/api/users",
        "http.url": "http://api.example.com/api/users",
        "url.full": "https://api.example.com/api/users",
        "db.statement": "SELECT * FROM users WHERE email = %(email_1)s",
        "note": "written by [email]",
        "http.route": "/api/users",
    }
    assert exported["events"] == [{"exception.type": "IntegrityError"}]
    assert exported["status"] == ["ERROR", None]


# The app in a child process (this one never imports OpenTelemetry), called through
# its test client: what the gunicorn test checks, without a server to start.
IN_PROCESS_SCRIPT = r"""
import json, sys
from app import create_app

headers = json.loads(sys.argv[1])
app = create_app()
client = app.test_client()
token = client.post(
    "/api/auth/login", json={"email": headers.pop("email"), "password": headers.pop("password")}
).get_json()["access_token"]
for path in ("/healthz", "/readyz"):
    assert client.get(path, headers={"traceparent": headers["probe"]}).status_code == 200
auth = {"Authorization": f"Bearer {token}"}
me = client.get("/api/auth/me", headers={**auth, "traceparent": headers["me"]})
assert me.status_code == 200, me.get_data(as_text=True)
query = client.get(
    "/api/products?api_key=query-secret-value&who=leak@example.com",
    headers={**auth, "traceparent": headers["query"]},
)
assert query.status_code == 400
assert app.extensions["tracing"].force_flush(30000)
"""


def test_app_requests_are_exported_as_traces_in_process(receiver, database_url, create_user):
    user = create_user(email="traced.user@example.com")
    trace_id, parent_id, header = _traceparent()
    probe_trace, _, probe_header = _traceparent()
    query_trace, _, query_header = _traceparent()
    env = {
        **os.environ,
        "FLASK_SKIP_DOTENV": "1",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_SERVICE_NAME": "traced-api",
    }
    arguments = {
        "email": user.email,
        "password": PASSWORD,
        "probe": probe_header,
        "me": header,
        "query": query_header,
    }
    run = subprocess.run(  # noqa: S603 -- this interpreter, the script above
        [sys.executable, "-c", IN_PROCESS_SCRIPT, json.dumps(arguments)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )
    assert run.returncode == 0, run.stderr

    _assert_me_and_query_traced(receiver, user, trace_id, parent_id, query_trace)
    assert probe_trace not in {s["trace_id"] for s in receiver.spans()}
    raw = b"".join(bytes.fromhex(export["raw"]) for export in receiver.exports())
    for secret in (PASSWORD, user.email, "query-secret-value", "leak@example.com"):
        assert secret.encode() not in raw


@pytest.mark.servers
def test_a_forged_host_is_400_invalid_host_with_tracing_on(
    traced_instance_with_trusted_hosts, receiver
):
    """OpenTelemetry's Flask hooks read the request's URL, which a forged ``Host``
    turns into an error: the answer is still the contract's problem, not
    gunicorn's HTML 500, and a request to a listed host is still traced."""
    url, _, log_path = traced_instance_with_trusted_hosts
    port = int(url.rsplit(":", 1)[1])
    for host in ("evil.example", "EVIL.example:8080"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            connection.request("GET", "/api/products?limit=1", headers={"Host": host})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 400, body[:300]
        assert response.getheader("Content-Type") == "application/problem+json"
        assert json.loads(body)["code"] == "INVALID_HOST"
        assert response.getheader("X-Request-ID")

    trace_id, _, traceparent = _traceparent()
    status, _ = _request(url + "/api/products", headers={"traceparent": traceparent})
    assert status == 200
    receiver.wait_for_trace(trace_id, kinds={SPAN_KIND_SERVER})
    log = log_path.read_text()
    assert "Traceback" not in log and "SecurityError" not in log, log[-3000:]


def test_a_huge_value_is_searched_for_addresses_in_one_pass():
    """Spans and error reports of a request with a 100 KB query string or header
    (the hostile-input corpus sends them) are searched for email addresses before
    they leave. A pattern that tried again from every character of a long run
    without an "@" took minutes per value in the exporter's thread, and stalled
    every later span; this one returns at once (without it, this test hangs)."""
    huge = "a" * 200_000
    assert IN_TEXT.sub("[email]", f"{huge} and x.y+z@example.com") == f"{huge} and [email]"
    assert IN_TEXT.sub("[email]", huge + "@") == huge + "@"
