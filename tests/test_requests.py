"""What every request and response gets: body parsing, error format, ids, headers."""

import io
import json
import uuid

import pytest

from tests.helpers import PASSWORD, assert_problem

REGISTER = "/api/auth/register"
VALID = {"name": "Ann", "email": "ann@example.com", "password": PASSWORD}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (json.dumps(VALID), "text/plain"),
        (json.dumps(VALID), "application/x-www-form-urlencoded"),
        (json.dumps(VALID), None),
    ],
)
def test_body_without_json_content_type_is_415(client, data, content_type):
    response = client.post(REGISTER, data=data, content_type=content_type)
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_json_content_type_with_charset_is_accepted(client):
    response = client.post(
        REGISTER, data=json.dumps(VALID), content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"name": "Ann",}',
        b"[1, 2]",
        b'"a string"',
        b"42",
        b"null",
        b'{"name": NaN}',
        b'{"name": Infinity}',
        b'{"name": "\xff\xfe"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 40 + b"1" + b"}" * 40,
    ],
    ids=[
        "empty",
        "truncated",
        "trailing-comma",
        "array",
        "string",
        "number",
        "null",
        "nan",
        "infinity",
        "invalid-utf8",
        "deeply-nested-array",
        "deeply-nested-object",
    ],
)
def test_malformed_bodies_are_400_and_store_nothing(client, admin_headers, raw):
    response = client.post(
        REGISTER, data=raw, content_type="application/json", headers=admin_headers
    )
    assert_problem(response, 400, "MALFORMED_REQUEST")
    users = client.get("/api/users/2", headers=admin_headers)
    assert users.status_code == 404  # nobody but the admin exists


def test_body_over_the_limit_is_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    body = {**VALID, "name": "x" * 2000}
    assert_problem(client.post(REGISTER, json=body), 413, "PAYLOAD_TOO_LARGE")


def test_default_limit_is_one_mebibyte(client):
    body = json.dumps({**VALID, "name": "x" * (1024 * 1024)})
    assert_problem(
        client.post(REGISTER, data=body, content_type="application/json"),
        413,
        "PAYLOAD_TOO_LARGE",
    )


def test_unknown_body_field_is_400_naming_it(client):
    body = assert_problem(
        client.post(REGISTER, json={**VALID, "is_admin": True}), 400, "VALIDATION_ERROR"
    )
    assert body["errors"] == {"is_admin": ["Unknown field."]}


def test_unknown_route_is_problem_json(client):
    body = assert_problem(client.get("/api/does-not-exist"), 404, "NOT_FOUND")
    assert body["title"] == "Not Found"


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/auth/me")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_options_is_answered_for_every_route(client):
    response = client.options("/api/users/1")
    assert response.status_code in (200, 204)
    assert {"GET", "PUT", "PATCH", "DELETE"} <= set(response.headers["Allow"].split(", "))


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", "1.5", "1e3", "%20", "١"])  # noqa: RUF001
def test_path_id_that_is_not_a_positive_integer_is_400(client, admin_headers, raw_id):
    assert_problem(client.get(f"/api/users/{raw_id}", headers=admin_headers), 400, "INVALID_ID")


def test_path_id_beyond_any_row_is_404(client, admin_headers):
    response = client.get("/api/users/99999999999999999999", headers=admin_headers)
    assert_problem(response, 404, "NOT_FOUND")


def test_every_response_has_request_id_and_nosniff(client):
    for response in (client.get("/healthz"), client.get("/api/nope")):
        assert len(response.headers["X-Request-ID"]) >= 16
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_well_formed_request_id_is_echoed(client):
    response = client.get("/api/nope", headers={"X-Request-ID": "abc.DEF_123-xyz"})
    assert response.headers["X-Request-ID"] == "abc.DEF_123-xyz"
    assert response.get_json()["request_id"] == "abc.DEF_123-xyz"


@pytest.mark.parametrize("bad", ["a" * 65, "has space", "semi;colon", "<script>", "ü"])
def test_malformed_request_id_is_replaced(client, bad):
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    assert response.headers["X-Request-ID"] != bad
    assert len(response.headers["X-Request-ID"]) == 32


def test_generated_request_ids_are_random_version_4_uuids(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(50)}
    assert len(ids) == 50
    for found in ids:
        as_uuid = uuid.UUID(hex=found)
        assert (as_uuid.hex, as_uuid.version, as_uuid.variant) == (found, 4, uuid.RFC_4122)


def test_private_responses_are_not_cacheable(client, viewer_headers):
    response = client.get("/api/auth/me", headers=viewer_headers)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Authorization" in response.headers["Vary"]


def test_every_pipeline_header_is_sent_once(client, viewer_headers):
    for response in (
        client.get("/api/auth/me", headers=viewer_headers),
        client.get("/api/nope"),
        client.get("/healthz"),
    ):
        for name in ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Vary"):
            assert len(response.headers.getlist(name)) == 1, (response.request.path, name)


@pytest.mark.parametrize(
    ("vary", "sent"),
    [
        (None, "Authorization"),
        ("", "Authorization"),
        ("Accept-Encoding", "Accept-Encoding, Authorization"),
        ("Origin, authorization", "Origin, authorization"),
    ],
)
def test_a_private_response_varies_on_authorization_beside_the_views_own_vary(make_app, vary, sent):
    app = make_app()

    @app.get("/api/varies")
    def varies():
        return {}, 200, {} if vary is None else {"Vary": vary}

    response = app.test_client().get("/api/varies")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.getlist("Vary") == [sent]


def test_unexpected_error_is_500_without_internals(make_app, caplog):
    app = make_app()

    @app.get("/api/explode")
    def explode():
        raise RuntimeError("secret internals: SELECT * FROM users")

    response = app.test_client().get("/api/explode", headers={"X-Request-ID": "trace-me-1"})
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    text = response.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text and "SELECT" not in text
    assert body["request_id"] == "trace-me-1"
    errors = [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info]
    assert errors and errors[0].exc_info[0] is RuntimeError


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-directory/for/sure/app.db",
        "postgresql+psycopg://postgres@127.0.0.1:1/test",
    ],
    ids=["sqlite", "postgresql"],
)
def test_database_unreachable_is_503(make_app, url):
    client = make_app(DATABASE_URL=url).test_client()
    assert_problem(client.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    login = client.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
    body = assert_problem(login, 503, "SERVICE_UNAVAILABLE")
    assert "127.0.0.1" not in json.dumps(body) and "sqlite" not in json.dumps(body)
    assert client.get("/healthz").status_code == 200


def test_health_probes(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ok"


def test_chunked_body_over_the_limit_is_413_not_truncated(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    body = json.dumps({**VALID, "name": "x" * 2000}).encode()
    response = client.post(
        REGISTER,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_chunked_body_under_the_limit_is_read(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    response = client.post(
        REGISTER,
        input_stream=io.BytesIO(json.dumps(VALID).encode()),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201
