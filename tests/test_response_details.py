"""Details of the HTTP framing a client sees: one Date header, no Content-Type
on a body-less 204, and a newline at the end of every JSON body, errors included."""

import http.client
import threading

import pytest
from werkzeug.serving import make_server

from tests.helpers import assert_problem

LAMP = {"name": "Brass lamp", "price": "49.50", "category": "lighting"}


@pytest.fixture
def product_id(client, editor_headers):
    response = client.post("/api/products", json=LAMP, headers=editor_headers)
    assert response.status_code == 201
    return response.get_json()["id"]


@pytest.fixture
def served(app):
    """The app behind werkzeug's development server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheaders()
    finally:
        connection.close()


def _named(headers, name):
    return [value for key, value in headers if key.lower() == name.lower()]


@pytest.mark.parametrize("path", ["/api/products/{id}", "/api/products", "/api/openapi.json"])
def test_public_responses_carry_one_date_header(served, product_id, path):
    """Public data answers conditional requests, which must not add a second Date
    to the one the HTTP server sends."""
    status, headers = _get(served, path.format(id=product_id))
    assert status == 200
    assert len(_named(headers, "Date")) == 1
    (etag,) = _named(headers, "ETag")

    status, headers = _get(served, path.format(id=product_id), {"If-None-Match": etag})
    assert status == 304
    assert len(_named(headers, "Date")) == 1


def test_no_content_responses_have_no_content_type(
    client, admin_headers, editor_headers, viewer, viewer_headers, product_id
):
    feedback = client.post(
        "/api/feedback",
        json={"name": "Ann", "email": "ann@example.com", "message": "Lovely lamps, fast pages."},
    )
    assert feedback.status_code == 201
    answers = [
        client.delete(f"/api/products/{product_id}", headers=admin_headers),
        client.delete(f"/api/feedback/{feedback.get_json()['id']}", headers=admin_headers),
        client.post("/api/auth/logout", headers=editor_headers),
        client.delete(f"/api/users/{viewer.id}", headers=viewer_headers),
    ]
    for response in answers:
        assert response.status_code == 204
        assert response.data == b""
        assert "Content-Type" not in response.headers


def test_not_modified_has_no_content_type(client, product_id):
    etag = client.get(f"/api/products/{product_id}").headers["ETag"]
    response = client.get(f"/api/products/{product_id}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert "Content-Type" not in response.headers


def test_error_bodies_end_with_a_newline_like_success_bodies(client, product_id):
    success = client.get(f"/api/products/{product_id}")
    assert success.data.endswith(b"}\n")

    for response, status, code in [
        (client.get("/api/products/999999"), 404, "NOT_FOUND"),
        (client.get("/api/products/abc"), 400, "INVALID_ID"),
        (client.get("/api/auth/me"), 401, "UNAUTHENTICATED"),
        (client.post("/api/products", data="{", content_type="application/json"), 401, None),
    ]:
        if code:
            assert_problem(response, status, code)
        assert response.status_code == status
        assert response.data.endswith(b"}\n")
        assert response.data.count(b"\n") == 1


def test_missing_items_keep_their_own_detail(client, admin_headers, editor_headers):
    product = client.get("/api/products/999999")
    assert assert_problem(product, 404, "NOT_FOUND")["detail"] == "Product not found."
    for method in ("put", "patch", "delete"):
        headers = admin_headers if method == "delete" else editor_headers
        response = getattr(client, method)("/api/products/999999", json=LAMP, headers=headers)
        assert assert_problem(response, 404, "NOT_FOUND")["detail"] == "Product not found."

    feedback = client.get("/api/feedback/999999", headers=admin_headers)
    assert assert_problem(feedback, 404, "NOT_FOUND")["detail"] == "Feedback not found."
    deleted = client.delete("/api/feedback/999999", headers=admin_headers)
    assert assert_problem(deleted, 404, "NOT_FOUND")["detail"] == "Feedback not found."
