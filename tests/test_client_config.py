"""GET /api/config: the public configuration a client reads (not the settings,
which are ``test_settings.py``)."""

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
