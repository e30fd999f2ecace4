"""Prometheus metrics: ``GET /metrics``, what it counts, and gunicorn's workers added up.

The in-process tests read the app's own registry, shared by every app of the
test run, so they compare a scrape before and after what they do. The gunicorn
tests start one real instance with two workers on a loopback port (stopped by
the fixture), with the metrics folder under the test's temporary directory.
"""

import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.pool import QueuePool

from extensions import db
from tests.conftest import skip_or_fail
from tests.helpers import PASSWORD, assert_problem
from tests.servers import Gunicorn

TOKEN = "metrics-token-" + "x" * 32
PRODUCT_RULE = "/api/products/<id:product_id>"
READY_TIMEOUT = 30
REQUEST_TIMEOUT = 10


def samples(text):
    """``{(sample name, ((label, value), ...)): value}`` from an exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped, name, **labels):
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def total(scraped, name, **labels):
    """The sum of ``name`` over every series whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scraped.items() if n == name and wanted <= set(ls))


@pytest.fixture
def metrics_app(make_app):
    return make_app(METRICS_ENABLED=True)


@pytest.fixture
def scrape(metrics_app):
    scraper = metrics_app.test_client()

    def do_scrape():
        response = scraper.get("/metrics")
        assert response.status_code == 200
        return samples(response.get_data(as_text=True))

    return do_scrape


# --- /metrics itself ------------------------------------------------------------


def test_metrics_are_off_by_default(client):
    assert_problem(client.get("/metrics"), 404, "NOT_FOUND")


def test_metrics_are_prometheus_text_outside_api(metrics_app):
    client = metrics_app.test_client()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "# TYPE http_requests_total counter" in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    assert 'app_info{version="1.0.0"} 1.0' in text
    assert_problem(client.get("/api/metrics"), 404, "NOT_FOUND")


def test_a_scrape_skips_a_worker_file_still_being_created(make_app, tmp_path):
    """A worker creates its file empty, then sizes it: a scrape in between is 200
    with every other worker's values, not a 500 from the half-made file."""
    written = MmapedDict(str(tmp_path / "counter_101.db"))
    written.write_value(mmap_key("jobs_total", "jobs_total", [], [], "Jobs."), 3.0, 0.0)
    written.close()
    (tmp_path / "counter_102.db").touch()  # the file a worker has just opened
    app = make_app(METRICS_ENABLED=True, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    response = app.test_client().get("/metrics")

    assert response.status_code == 200
    assert value(samples(response.get_data(as_text=True)), "jobs_total") == 3.0


def test_metrics_token_is_required_when_set(make_app):
    client = make_app(METRICS_ENABLED=True, METRICS_TOKEN=TOKEN).test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ):
        response = client.get("/metrics", headers=headers)
        assert_problem(response, 401, "UNAUTHENTICATED")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert "http_requests_total" in response.get_data(as_text=True)


def test_metrics_are_never_rate_limited(make_app):
    app = make_app(METRICS_ENABLED=True, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1 per minute")
    client = app.test_client()
    before = samples(client.get("/metrics").get_data(as_text=True))
    assert client.get("/api/products").status_code == 200
    assert_problem(client.get("/api/products"), 429, "RATE_LIMITED")
    for _ in range(3):
        response = client.get("/metrics")
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers
    after = samples(response.get_data(as_text=True))
    limited = "http_rate_limited_requests_total"
    assert value(after, limited, route="/api/products") == (
        value(before, limited, route="/api/products") + 1
    )


# --- what is counted ------------------------------------------------------------


def test_requests_are_counted_by_url_rule_method_and_status(metrics_app, scrape):
    client = metrics_app.test_client()
    before = scrape()
    assert_problem(client.get("/api/products/424242"), 404, "NOT_FOUND")
    assert_problem(client.get("/api/products/777777"), 404, "NOT_FOUND")
    assert client.get("/healthz").status_code == 200
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "http_requests_total"
    assert delta(requests, method="GET", route=PRODUCT_RULE, status="404") == 2
    assert delta(requests, method="GET", route="/healthz", status="200") == 1
    # The raw path never becomes a label.
    assert not any("424242" in str(labels) for _, labels in after)
    durations = "http_request_duration_seconds_count"
    assert delta(durations, method="GET", route=PRODUCT_RULE) == 2
    bucket = "http_request_duration_seconds_bucket"
    buckets = sorted(
        float(dict(labels)["le"])
        for name, labels in after
        # GET only: earlier tests in this process may have sent other methods.
        if name == bucket
        and dict(labels)["route"] == "/healthz"
        and dict(labels)["method"] == "GET"
    )
    assert buckets[0] == 0.001 and buckets[-2] == 10 and buckets[-1] == float("inf")


def test_a_scan_of_random_paths_leaves_the_series_flat(metrics_app, scrape):
    client = metrics_app.test_client()

    def scan():
        token = uuid.uuid4().hex
        client.get(f"/{token}")
        client.get(f"/api/{token}/{token}")
        client.post(f"/wp-admin/{token}.php")
        client.open(f"/{token}", method=f"X{token[:6].upper()}")
        client.get(f"/api/products/{token}")  # a malformed id: 400 INVALID_ID
        client.get(f"/api/products/{int(token[:8], 16) + 1}")  # an unknown product: 404
        client.delete("/healthz")  # 405

    scan()  # every kind of answer once, so its series exists
    # The random id above may be past the id range (404 before any view): a view's 404 too.
    client.get("/api/products/424242")
    scrape()  # and GET /metrics itself, counted after its own answer (first test on a worker)
    series_before = len(scrape())
    for _ in range(30):
        scan()
    after = scrape()
    assert len(after) == series_before
    assert value(after, "http_requests_total", method="OTHER", route="<unmatched>", status="404")


def test_authentication_failures_are_counted_by_reason(metrics_app, scrape, create_user):
    client = metrics_app.test_client()
    user = create_user()
    inactive = create_user(is_active=False)
    before = scrape()
    attempts = [
        ({"email": user.email, "password": "wrong password"}, "wrong_password"),
        ({"email": "nobody@example.com", "password": PASSWORD}, "unknown_email"),
        ({"email": inactive.email, "password": PASSWORD}, "inactive_user"),
    ]
    for body, _ in attempts:
        assert_problem(client.post("/api/auth/login", json=body), 401, "UNAUTHENTICATED")
    for header in ("Bearer not-a-token", "Token abc"):
        response = client.get("/api/auth/me", headers={"Authorization": header})
        assert_problem(response, 401, "UNAUTHENTICATED")
    token = client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert_problem(client.get("/api/auth/me", headers=headers), 401, "UNAUTHENTICATED")
    after = scrape()

    def delta(reason):
        name = "authentication_failures_total"
        return value(after, name, reason=reason) - value(before, name, reason=reason)

    for _, reason in attempts:
        assert delta(reason) == 1
    assert delta("bad_signature") == 1
    assert delta("malformed_header") == 1
    assert delta("revoked_or_expired_session") == 1


def test_pool_gauges_follow_checked_out_connections(metrics_app, scrape):
    with metrics_app.app_context():
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        before = scrape()
        held = [db.engine.connect() for _ in range(pool.size() + 1)]
        try:
            during = scrape()
        finally:
            for connection in held:
                connection.close()
        after = scrape()

    def delta(scraped, name):
        return value(scraped, name) - value(before, name)

    assert delta(during, "db_pool_connections_in_use") == pool.size() + 1
    assert delta(during, "db_pool_overflow_connections") == 1
    assert delta(after, "db_pool_connections_in_use") == 0
    assert delta(after, "db_pool_overflow_connections") == 0


def test_idempotent_replays_are_counted(metrics_app, scrape):
    client = metrics_app.test_client()
    feedback = {"name": "Ann", "email": "ann@example.com", "message": "A replayed message."}
    headers = {"Idempotency-Key": "metrics-replay-1"}
    before = value(scrape(), "idempotent_replays_total")
    assert client.post("/api/feedback", json=feedback, headers=headers).status_code == 201
    assert value(scrape(), "idempotent_replays_total") == before
    replay = client.post("/api/feedback", json=feedback, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert value(scrape(), "idempotent_replays_total") == before + 1


# --- gunicorn: two workers, one exposition -----------------------------------


class Instance(Gunicorn):
    """A gunicorn master with two workers, METRICS_ENABLED, on a loopback port."""

    def __init__(self, database_url, metrics_dir, log_path):
        self.metrics_dir = metrics_dir
        settings = {
            "FLASK_SKIP_DOTENV": "1",
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": database_url,
            "METRICS_ENABLED": "true",
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "RATELIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
        }
        super().__init__(settings, workers=2, log_path=log_path)

    def get(self, path, headers=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def scrape(self):
        status, text = self.get("/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, text
        return text

    def wait_for_workers(self, count, *, not_in=()):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            workers = [pid for pid in self.workers() if pid not in not_in]
            if len(workers) == count and len(self.workers()) == count and self.answers("/healthz"):
                return workers
            time.sleep(0.2)
        pytest.fail(f"gunicorn did not get {count} workers:\n{self.log()}")

    def counts_of(self, pid, route):
        """``http_requests_total`` for ``route`` as recorded by worker ``pid`` alone."""
        alone = self.metrics_dir.parent / f"worker-{pid}"
        shutil.rmtree(alone, ignore_errors=True)
        alone.mkdir()
        for path in self.metrics_dir.glob(f"*_{pid}.db"):
            shutil.copy(path, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        return sum(
            sample.value
            for family in registry.collect()
            for sample in family.samples
            if sample.name == "http_requests_total" and sample.labels.get("route") == route
        )


@pytest.fixture(scope="module")
def instance(database_url, tmp_path_factory):
    base = tmp_path_factory.mktemp("gunicorn-metrics")
    metrics_dir = base / "prometheus"
    metrics_dir.mkdir()
    # Left by an "earlier run": a start must not add it to the new counts.
    (metrics_dir / "counter_999999.db").write_bytes(b"not a metrics file")
    started = Instance(database_url, metrics_dir, base / "gunicorn.log")
    try:
        started.wait_for_workers(2)
        yield started
    finally:
        started.stop()


def _spread(instance, route, batch=16):
    """Send concurrent requests until both workers have answered some (bounded)."""
    sent = 0
    for _ in range(20):
        statuses = []

        def call(statuses=statuses):
            statuses.append(instance.get(route)[0])

        threads = [threading.Thread(target=call) for _ in range(batch)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT * 2)
        assert statuses == [200] * batch
        sent += batch
        workers = instance.workers()
        if len(workers) == 2 and all(instance.counts_of(pid, route) for pid in workers):
            return sent, workers
    pytest.fail("the requests never reached both workers")


@pytest.mark.servers
def test_scrape_adds_up_both_workers(instance):
    assert not (instance.metrics_dir / "counter_999999.db").exists()
    route = "/api/products"
    before = total(samples(instance.scrape()), "http_requests_total", route=route)
    sent, workers = _spread(instance, route)
    scraped = samples(instance.scrape())
    per_worker = [instance.counts_of(pid, route) for pid in workers]
    assert all(per_worker)
    assert total(scraped, "http_requests_total", route=route) == before + sent
    assert sum(per_worker) == before + sent
    assert value(scraped, "app_info", version="1.0.0") == 1


@pytest.mark.servers
def test_counts_of_a_killed_worker_remain(instance):
    route = "/api/config"
    sent, workers = _spread(instance, route)
    victim = workers[0]
    victim_counts = instance.counts_of(victim, route)
    assert victim_counts > 0
    before = total(samples(instance.scrape()), "http_requests_total", route=route)
    assert before >= sent

    os.kill(victim, signal.SIGKILL)
    instance.wait_for_workers(2, not_in=[victim])  # gunicorn replaced it
    after = samples(instance.scrape())
    assert total(after, "http_requests_total", route=route) == before
    # child_exit marked it dead: its counters stay, its live gauges are gone.
    assert list(instance.metrics_dir.glob(f"counter_{victim}.db"))
    assert not list(instance.metrics_dir.glob(f"gauge_live*_{victim}.db"))


@pytest.mark.servers
def test_exposition_passes_promtool(instance):
    promtool = shutil.which("promtool")
    if promtool is None:
        skip_or_fail("needs promtool (Debian package prometheus)")
    instance.get("/api/products/12345")
    instance.get(f"/{uuid.uuid4().hex}")
    checked = subprocess.run(  # noqa: S603 -- Debian's promtool
        [promtool, "check", "metrics"],
        input=instance.scrape(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
