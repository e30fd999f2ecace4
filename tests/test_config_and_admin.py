"""GET /api/config and the admin user list."""

import pytest

from tests.helpers import assert_problem


def test_config_is_public_and_cacheable(client):
    response = client.get("/api/config")
    assert response.status_code == 200
    assert response.get_json() == {
        "app_name": "Flask API Service",
        "version": "1.0.0",
        "registration_open": True,
        "pagination": {"default_limit": 20, "max_limit": 100},
    }
    assert response.headers["Cache-Control"] == "public, s-maxage=300, stale-while-revalidate=60"
    etag = response.headers["ETag"]
    cached = client.get("/api/config", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""


def test_config_follows_settings(make_app):
    client = make_app(ALLOW_REGISTRATION="false").test_client()
    assert client.get("/api/config").get_json()["registration_open"] is False


def test_config_methods_and_parameters(client):
    response = client.post("/api/config", json={})
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_admin_users_needs_admin(client, create_user, login):
    assert_problem(client.get("/api/admin/users"), 401, "UNAUTHENTICATED")
    for role in ("viewer", "editor"):
        headers = login(create_user(role).email)
        assert_problem(client.get("/api/admin/users", headers=headers), 403, "FORBIDDEN")


def test_admin_users_list(client, admin, admin_headers, create_user):
    create_user("editor", name="Edith 100%", email="edith@example.com")
    create_user("viewer", name="Victor", email="v_x@example.com")
    response = client.get("/api/admin/users", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Authorization" in response.headers["Vary"]
    body = response.get_json()
    assert body["meta"] == {"page": 1, "limit": 20, "total": 3, "pages": 1}
    assert all("password_hash" not in user for user in body["data"])

    def emails(query):
        data = client.get(f"/api/admin/users?{query}", headers=admin_headers).get_json()["data"]
        return [user["email"] for user in data]

    assert emails("role=editor") == ["edith@example.com"]
    assert emails("q=EDITH") == ["edith@example.com"]
    assert emails("q=100%25") == ["edith@example.com"]
    assert emails("q=v_x") == ["v_x@example.com"]
    assert emails("q=_") == ["v_x@example.com"]
    assert emails("order_by=email&sort=desc") == [
        "v_x@example.com",
        "edith@example.com",
        admin.email,
    ]


@pytest.mark.parametrize(
    ("query", "param"),
    [("role=owner", "role"), ("role=", "role"), ("order_by=role", "order_by"),
     ("q=a&q=b", "q"), ("is_active=true", "is_active")],
)  # fmt: skip
def test_admin_users_bad_parameters(client, admin_headers, query, param):
    response = client.get(f"/api/admin/users?{query}", headers=admin_headers)
    assert param in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


def test_admin_users_405(client, admin_headers):
    response = client.post("/api/admin/users", json={}, headers=admin_headers)
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
