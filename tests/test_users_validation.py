"""Validation defects the schemathesis run found, pinned as plain tests."""

from tests.helpers import PASSWORD, assert_problem


def test_is_active_must_be_a_json_boolean(client, admin_headers):
    for value in (0, 1, 1.0, "true"):
        response = client.post(
            "/api/users",
            json={
                "name": "Bo",
                "email": "bo@example.com",
                "password": PASSWORD,
                "is_active": value,
            },
            headers=admin_headers,
        )
        body = assert_problem(response, 400, "VALIDATION_ERROR")
        assert list(body["errors"]) == ["is_active"]


def test_wrong_current_password_is_reported_on_that_field(client, viewer, viewer_headers):
    response = client.patch(
        f"/api/users/{viewer.id}",
        json={"password": "a new password", "current_password": "not it at all"},
        headers=viewer_headers,
    )
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {"current_password": ["Incorrect password."]}


def test_current_password_alone_is_refused(client, viewer, viewer_headers):
    response = client.patch(
        f"/api/users/{viewer.id}", json={"current_password": PASSWORD}, headers=viewer_headers
    )
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {"current_password": ["Only used together with password."]}


def test_a_name_of_white_space_python_trims_is_refused(client):
    response = client.post(
        "/api/auth/register",
        json={"name": "\x1d \u3000\x85", "email": "ann@example.com", "password": PASSWORD},
    )
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert list(body["errors"]) == ["name"]
