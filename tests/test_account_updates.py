"""A user update whose email is taken is 409 and changes nothing, whatever else it asks.

Issue 9 found a 500 here: a password change or a deactivation ends the user's
sessions with an UPDATE that flushed the taken email first, before the code that
answers 409 ran.
"""

import logging

import pytest

from tests.helpers import PASSWORD, assert_problem

NEW = "a brand new password"


@pytest.fixture
def taken(create_user):
    return create_user(email="taken@example.com")


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_own_update_with_a_taken_email_and_a_new_password_is_409(
    client, viewer, viewer_headers, taken, login, method, caplog
):
    caplog.set_level(logging.INFO)
    response = client.open(
        f"/api/users/{viewer.id}",
        method=method,
        headers=viewer_headers,
        json={
            "name": "New Name",
            "email": " Taken@Example.com ",
            "password": NEW,
            "current_password": PASSWORD,
        },
    )
    assert_problem(response, 409, "CONFLICT")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Nothing changed: the same name and email, the old password, the same session.
    me = client.get("/api/auth/me", headers=viewer_headers)
    assert me.status_code == 200
    assert (me.get_json()["name"], me.get_json()["email"]) == (viewer.name, viewer.email)
    login(viewer.email, PASSWORD)


def test_admin_deactivating_with_a_taken_email_is_409(
    client, admin_headers, viewer, viewer_headers, taken
):
    response = client.patch(
        f"/api/users/{viewer.id}",
        headers=admin_headers,
        json={"email": "taken@example.com", "is_active": False},
    )
    assert_problem(response, 409, "CONFLICT")
    me = client.get("/api/auth/me", headers=viewer_headers)
    assert me.status_code == 200 and me.get_json()["is_active"] is True


def test_the_same_change_with_a_free_email_goes_through(client, viewer, viewer_headers, login):
    response = client.patch(
        f"/api/users/{viewer.id}",
        headers=viewer_headers,
        json={"email": "free@example.com", "password": NEW, "current_password": PASSWORD},
    )
    assert response.status_code == 200
    assert response.get_json()["email"] == "free@example.com"
    assert client.get("/api/auth/me", headers=viewer_headers).status_code == 401  # sessions ended
    login("free@example.com", NEW)
