"""GET /api/admin/users: the admin-only user list, its filters and parameters."""

import pytest

from tests.helpers import assert_problem


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
