"""Safe retries with Idempotency-Key on every POST that creates something.

The same key and request replay the first success (``Idempotent-Replayed: true``)
and change nothing; another request with the key is 422; a key is the caller's
own; a failure stores nothing; concurrent requests with one key create once;
keys expire after IDEMPOTENCY_TTL and are purged. On SQLite and PostgreSQL.
"""

import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select, text

import blueprints.products
from extensions import db
from features.idempotency import idempotent
from models import Feedback, IdempotencyKey, Product, User
from models.base import utcnow
from openapi import doc
from tests.conftest import skip_or_fail
from tests.helpers import PASSWORD, assert_problem

PRODUCT = {"name": "Desk lamp", "price": "12.50", "category": "home"}
FEEDBACK = {"name": "Ann", "email": "ann@example.com", "message": "Great catalog, thanks!"}
REPLAYED = "Idempotent-Replayed"


def key_header(key=None):
    return {"Idempotency-Key": key or str(uuid.uuid4())}


def rows(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def creates(admin_headers, editor_headers):
    """Each create operation: (path, a valid body, the caller's headers, its model)."""
    return {
        "register": (
            "/api/auth/register",
            {"name": "New", "email": "new@example.com", "password": PASSWORD},
            {},
            User,
        ),
        "users": (
            "/api/users",
            {"name": "Made", "email": "made@example.com", "password": PASSWORD, "role": "editor"},
            admin_headers,
            User,
        ),
        "products": ("/api/products", PRODUCT, editor_headers, Product),
        "feedback": ("/api/feedback", FEEDBACK, {}, Feedback),
    }


@pytest.mark.parametrize("operation", ["register", "users", "products", "feedback"])
def test_same_key_and_request_replays_the_first_success(app, client, creates, operation):
    path, body, headers, model = creates[operation]
    headers = {**headers, **key_header()}
    before = rows(app, model)

    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)

    assert first.status_code == 201, first.get_json()
    assert REPLAYED not in first.headers
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.get_json() == first.get_json()
    assert again.get_data() == first.get_data()
    for name in ("Location", "ETag", "Content-Type"):
        assert again.headers.get(name) == first.headers.get(name)
    assert again.headers["Cache-Control"] == "no-store"
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert rows(app, model) == before + 1
    assert rows(app, IdempotencyKey) == 1


def test_without_a_key_every_request_creates(app, client, editor_headers):
    for _ in range(2):
        response = client.post("/api/products", json=PRODUCT, headers=editor_headers)
        assert response.status_code == 201 and REPLAYED not in response.headers
    assert rows(app, Product) == 2
    assert rows(app, IdempotencyKey) == 0


def test_the_body_is_compared_as_parsed_json(app, client, editor_headers):
    headers = {**editor_headers, **key_header(), "Content-Type": "application/json"}
    first = client.post(
        "/api/products",
        data='{"name": "Desk lamp", "price": 12.5, "category": "home"}',
        headers=headers,
    )
    # Other key order, other spacing, the same number written differently.
    again = client.post(
        "/api/products",
        data='{"category":"home","price":12.50,\n "name":"Desk lamp"}',
        headers=headers,
    )

    assert first.status_code == 201
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.get_json() == first.get_json()
    assert rows(app, Product) == 1


def test_a_replay_comes_from_any_instance(make_app, editor):
    first_instance, second_instance = make_app().test_client(), make_app().test_client()
    login = {"email": editor.email, "password": PASSWORD}
    token = first_instance.post("/api/auth/login", json=login).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", **key_header()}

    first = first_instance.post("/api/products", json=PRODUCT, headers=headers)
    again = second_instance.post("/api/products", json=PRODUCT, headers=headers)

    assert first.status_code == 201
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.get_json() == first.get_json()


def test_same_key_with_another_body_is_422(app, client, editor_headers):
    headers = {**editor_headers, **key_header()}
    first = client.post("/api/products", json=PRODUCT, headers=headers)

    other = client.post("/api/products", json={**PRODUCT, "price": "13.00"}, headers=headers)

    assert first.status_code == 201
    body = assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert "Idempotency-Key" in body["detail"]
    assert rows(app, Product) == 1
    # The first request still replays.
    assert client.post("/api/products", json=PRODUCT, headers=headers).headers[REPLAYED] == "true"


def test_same_key_on_another_path_is_422(app, client, editor_headers):
    headers = {**editor_headers, **key_header()}
    assert client.post("/api/products", json=PRODUCT, headers=headers).status_code == 201

    response = client.post("/api/feedback", json=FEEDBACK, headers=headers)

    assert_problem(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert rows(app, Feedback) == 0


def test_keys_belong_to_their_caller(app, client, create_user, login):
    key = key_header("order-1")
    first_editor = login(create_user("editor").email)
    second_editor = login(create_user("editor").email)

    for caller in (first_editor, second_editor):
        response = client.post("/api/products", json=PRODUCT, headers={**caller, **key})
        assert response.status_code == 201 and REPLAYED not in response.headers
    # Anonymous callers are told apart by their address.
    for address in ("203.0.113.1", "203.0.113.2"):
        response = client.post(
            "/api/feedback", json=FEEDBACK, headers=key, environ_base={"REMOTE_ADDR": address}
        )
        assert response.status_code == 201 and REPLAYED not in response.headers

    assert rows(app, Product) == 2
    assert rows(app, Feedback) == 2
    assert rows(app, IdempotencyKey) == 4


def test_a_failed_request_stores_nothing_and_its_retry_runs(app, client, editor_headers):
    headers = {**editor_headers, **key_header()}
    as_json = {**headers, "Content-Type": "application/json"}
    failures = [
        client.post("/api/products", json={**PRODUCT, "price": "-1"}, headers=headers),
        client.post("/api/products", data="{not json", headers=as_json),
        client.post("/api/products", json={**PRODUCT, "colour": "red"}, headers=headers),
        client.post("/api/products", data="name=Lamp", headers=headers),
    ]
    assert [failure.status_code for failure in failures] == [400, 400, 400, 415]
    assert not any(REPLAYED in failure.headers for failure in failures)
    assert rows(app, IdempotencyKey) == 0

    retry = client.post("/api/products", json=PRODUCT, headers=headers)

    assert retry.status_code == 201 and REPLAYED not in retry.headers
    assert rows(app, Product) == 1


def test_a_conflict_stores_nothing(app, client, viewer):
    headers = key_header()
    taken = {"name": "Again", "email": viewer.email, "password": PASSWORD}
    assert_problem(client.post("/api/auth/register", json=taken, headers=headers), 409, "CONFLICT")

    free = {**taken, "email": "free@example.com"}
    response = client.post("/api/auth/register", json=free, headers=headers)

    assert response.status_code == 201 and REPLAYED not in response.headers


def test_a_server_error_after_the_write_stores_nothing(app, client, editor_headers, monkeypatch):
    """The write and the stored response go together: a 500 between them leaves neither."""
    headers = {**editor_headers, **key_header()}
    real_with_etag = blueprints.products.with_etag

    def fail_once(*args, **kwargs):
        monkeypatch.setattr(blueprints.products, "with_etag", real_with_etag)
        raise RuntimeError("lost before the commit")

    monkeypatch.setattr(blueprints.products, "with_etag", fail_once)
    failed = client.post("/api/products", json=PRODUCT, headers=headers)
    assert_problem(failed, 500, "INTERNAL_ERROR")
    assert rows(app, Product) == 0
    assert rows(app, IdempotencyKey) == 0

    retry = client.post("/api/products", json=PRODUCT, headers=headers)

    assert retry.status_code == 201 and REPLAYED not in retry.headers
    assert rows(app, Product) == 1


def plain_commit(rv):
    db.session.commit()
    return rv


@pytest.mark.parametrize(
    "finish",
    [plain_commit, lambda rv: rv],
    ids=["commit-without-the-response", "no-commit"],
)
def test_a_view_that_skips_commit_with_response_stores_nothing(
    app, client, editor_headers, monkeypatch, finish
):
    """A claimed key is only ever committed with its response: a create view that
    commits another way, or not at all, is refused (500) and leaves no row."""
    headers = {**editor_headers, **key_header()}
    monkeypatch.setattr(blueprints.products, "commit_with_response", finish)

    assert_problem(
        client.post("/api/products", json=PRODUCT, headers=headers), 500, "INTERNAL_ERROR"
    )

    assert rows(app, Product) == 0
    assert rows(app, IdempotencyKey) == 0


def test_a_stored_key_holds_the_response_it_replays(app, client, editor_headers):
    headers = {**editor_headers, **key_header("stored-key")}
    created = client.post("/api/products", json=PRODUCT, headers=headers)

    with app.app_context():
        stored = db.session.scalar(select(IdempotencyKey))
        assert (stored.key, stored.method, stored.path) == ("stored-key", "POST", "/api/products")
        assert stored.caller.startswith("user:")
        assert stored.state == "done" and stored.status_code == 201
        assert stored.location == created.headers["Location"]
        assert stored.etag == created.headers["ETag"]
        assert stored.expires_at - stored.created_at == timedelta(seconds=86400)


@pytest.mark.parametrize(
    "key",
    ["", "has space", "tab\there", "x" * 256, "caf\u00e9", "line\x7f"],
    ids=["empty", "space", "tab", "too-long", "non-ascii", "delete-char"],
)
def test_an_invalid_key_is_400_naming_the_header(app, client, editor_headers, key):
    response = client.post(
        "/api/products", json=PRODUCT, headers={**editor_headers, "Idempotency-Key": key}
    )

    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert list(body["errors"]) == ["Idempotency-Key"]
    assert rows(app, Product) == 0


def test_the_longest_key_and_any_visible_character_are_fine(client, editor_headers):
    for key in ("k" * 255, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"):
        response = client.post(
            "/api/products", json=PRODUCT, headers={**editor_headers, "Idempotency-Key": key}
        )
        assert response.status_code == 201


def test_a_key_sent_twice_is_400(app, client, editor_headers):
    response = client.post(
        "/api/products",
        json=PRODUCT,
        headers=[*editor_headers.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
    )

    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert list(body["errors"]) == ["Idempotency-Key"]
    assert rows(app, Product) == 0


def test_a_bad_token_is_401_not_a_replay(client):
    headers = key_header()
    assert client.post("/api/feedback", json=FEEDBACK, headers=headers).status_code == 201

    response = client.post(
        "/api/feedback", json=FEEDBACK, headers={**headers, "Authorization": "Bearer forged"}
    )

    assert_problem(response, 401, "UNAUTHENTICATED")


def test_a_replay_still_needs_the_role(app, client, editor, editor_headers):
    headers = {**editor_headers, **key_header()}
    assert client.post("/api/products", json=PRODUCT, headers=headers).status_code == 201
    with app.app_context():
        db.session.get(User, editor.id).role = "viewer"
        db.session.commit()

    assert_problem(client.post("/api/products", json=PRODUCT, headers=headers), 403, "FORBIDDEN")


def test_a_key_expires_after_idempotency_ttl(make_app, editor):
    app = make_app(IDEMPOTENCY_TTL=60)
    client = app.test_client()
    login = {"email": editor.email, "password": PASSWORD}
    with time_machine.travel(utcnow(), tick=False) as traveller:
        token = client.post("/api/auth/login", json=login).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", **key_header()}
        assert client.post("/api/products", json=PRODUCT, headers=headers).status_code == 201

        traveller.shift(timedelta(seconds=59))
        replay = client.post("/api/products", json=PRODUCT, headers=headers)
        assert replay.headers[REPLAYED] == "true"

        traveller.shift(timedelta(seconds=2))
        # Expired: the key is free again, for the same request or another one.
        other = client.post("/api/products", json={**PRODUCT, "name": "Other"}, headers=headers)
        assert other.status_code == 201 and REPLAYED not in other.headers
        assert other.get_json()["name"] == "Other"

    assert rows(app, Product) == 2
    assert rows(app, IdempotencyKey) == 1


@pytest.mark.parametrize("command", ["purge-expired", "purge-sessions"])
def test_purge_deletes_expired_keys_only(make_app, editor, command):
    app = make_app(IDEMPOTENCY_TTL=60)
    client = app.test_client()
    login = {"email": editor.email, "password": PASSWORD}
    with time_machine.travel(utcnow(), tick=False) as traveller:
        token = client.post("/api/auth/login", json=login).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        client.post("/api/products", json=PRODUCT, headers={**headers, **key_header("old")})
        traveller.shift(timedelta(seconds=30))
        client.post("/api/products", json=PRODUCT, headers={**headers, **key_header("young")})
        traveller.shift(timedelta(seconds=31))

        result = app.test_cli_runner().invoke(args=[command])

    assert result.exit_code == 0, result.output
    assert "1 idempotency keys" in result.output
    with app.app_context():
        assert db.session.scalars(select(IdempotencyKey.key)).all() == ["young"]


def test_a_create_view_that_commits_on_its_own_is_refused(make_app):
    """The guard that keeps a claimed key from being committed without its
    response (which would block the key): such a view fails loudly, and
    neither its write nor the key is kept."""
    app = make_app()

    @app.post("/api/careless")
    @idempotent
    @doc(body=None, response=None, status=201, idempotent=True)
    def careless():
        db.session.add(Product(name="Careless", price=Decimal("1.00"), category="bugs"))
        db.session.commit()
        return "", 201

    client = app.test_client()
    response = client.post("/api/careless", json={}, headers=key_header())

    assert_problem(response, 500, "INTERNAL_ERROR")
    assert rows(app, Product) == 0
    assert rows(app, IdempotencyKey) == 0
    # Without a key the same view is just a view.
    assert client.post("/api/careless", json={}).status_code == 201


def _hold_the_write(monkeypatch, seconds):
    """Keep each create's transaction open a while after its claim, so that
    requests with the same key really overlap."""
    real_with_etag = blueprints.products.with_etag

    def slow_with_etag(*args, **kwargs):
        time.sleep(seconds)
        return real_with_etag(*args, **kwargs)

    monkeypatch.setattr(blueprints.products, "with_etag", slow_with_etag)


def test_concurrent_requests_with_one_key_create_once(app, editor_headers, monkeypatch):
    """Threads against the shared database: one creates, the others get 409
    (still running) or the replay (already done); never a second product."""
    _hold_the_write(monkeypatch, 0.5)
    headers = {**editor_headers, **key_header()}
    threads = 6
    start = threading.Barrier(threads)
    answers = []

    def send():
        client = app.test_client()
        start.wait()
        response = client.post("/api/products", json=PRODUCT, headers=headers)
        answers.append((response.status_code, response.headers.get(REPLAYED), response.get_json()))

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(answers) == threads
    created = [body for status, replayed, body in answers if status == 201 and not replayed]
    replayed = [body for status, replayed, body in answers if status == 201 and replayed]
    in_use = [body for status, _, body in answers if status == 409]
    assert len(created) == 1, answers
    assert len(created) + len(replayed) + len(in_use) == threads, answers
    assert all(body == created[0] for body in replayed)
    assert all(body["code"] == "IDEMPOTENCY_KEY_IN_USE" for body in in_use)
    assert rows(app, Product) == 1
    assert rows(app, IdempotencyKey) == 1


def test_a_key_held_by_a_running_request_is_409(app, client, editor, editor_headers, database_url):
    """A request still running holds its key: PostgreSQL answers a second one 409
    at once; when the first ends without a commit, the key is free again."""
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    headers = {**editor_headers, **key_header("held")}
    with app.app_context():
        connection = db.engine.connect()
        running = connection.begin()
        connection.execute(
            text(
                "INSERT INTO idempotency_keys (caller, key, method, path, request_digest, state,"
                " created_at, expires_at) VALUES (:caller, 'held', 'POST', '/api/products', '',"
                " 'in_progress', now(), now() + interval '1 day')"
            ),
            {"caller": f"user:{editor.id}"},
        )
        try:
            assert_problem(
                client.post("/api/products", json=PRODUCT, headers=headers),
                409,
                "IDEMPOTENCY_KEY_IN_USE",
            )
        finally:
            running.rollback()  # the first request dies: its claim goes with it
            connection.close()

    retry = client.post("/api/products", json=PRODUCT, headers=headers)

    assert retry.status_code == 201 and REPLAYED not in retry.headers
    assert rows(app, Product) == 1


CREATE_OPERATIONS = {
    ("/api/auth/register", "post"),
    ("/api/users", "post"),
    ("/api/products", "post"),
    ("/api/feedback", "post"),
}


def test_the_document_describes_the_key_on_the_creates_only(client):
    document = client.get("/api/openapi.json").get_json()
    with_key = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if "Idempotency-Key" in names:
                with_key.add((path, method))
                responses = operation["responses"]
                assert "IDEMPOTENCY_KEY_IN_USE" in responses["409"]["description"]
                assert responses["422"]["description"].endswith("IDEMPOTENCY_KEY_REUSED")
                replayed = responses["201"]["headers"]["Idempotent-Replayed"]
                assert replayed["required"] is False
                assert replayed["schema"] == {"type": "string", "const": "true"}
    assert with_key == CREATE_OPERATIONS
    parameter = next(
        p
        for p in document["paths"]["/api/products"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    assert parameter["required"] is False
    assert parameter["schema"]["maxLength"] == 255
