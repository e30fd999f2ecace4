from tests.helpers import assert_problem


def test_me_with_token(client, viewer, viewer_headers):
    response = client.get("/api/auth/me", headers=viewer_headers)
    assert response.status_code == 200
    assert response.get_json()["email"] == viewer.email


def test_unknown_route_is_problem(client):
    assert_problem(client.get("/api/nope"), 404, "NOT_FOUND")
