"""/api/users: self or admin, admin-only fields, the last admin."""

import pytest
from sqlalchemy import func, select

from extensions import db
from models import AuthSession, User
from tests.helpers import PASSWORD, assert_problem


def url(user):
    return f"/api/users/{user.id}"


# --- reading -------------------------------------------------------------------------


def test_user_reads_itself(client, viewer, viewer_headers):
    response = client.get(url(viewer), headers=viewer_headers)
    assert response.status_code == 200
    assert response.get_json()["id"] == viewer.id
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_non_admin_gets_404_for_another_user(client, create_user, login, admin, role):
    caller = create_user(role)
    headers = login(caller.email)
    other = client.get(url(admin), headers=headers)
    missing = client.get("/api/users/9999", headers=headers)
    first, second = (
        assert_problem(other, 404, "NOT_FOUND"),
        assert_problem(missing, 404, "NOT_FOUND"),
    )
    assert first["detail"] == second["detail"]


def test_admin_reads_anyone(client, viewer, admin_headers):
    response = client.get(url(viewer), headers=admin_headers)
    assert response.status_code == 200 and response.get_json()["email"] == viewer.email


def test_anonymous_is_401(client, viewer):
    for method in ("get", "put", "patch", "delete"):
        assert_problem(getattr(client, method)(url(viewer)), 401, "UNAUTHENTICATED")


# --- updating ------------------------------------------------------------------------


def test_user_updates_own_name_and_email(client, app, viewer, viewer_headers):
    response = client.patch(
        url(viewer),
        headers=viewer_headers,
        json={"name": " New Name ", "email": " NEW@Example.com", "current_password": PASSWORD},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["email"]) == ("New Name", "new@example.com")
    assert body["updated_at"] >= body["created_at"]
    with app.app_context():
        assert db.session.get(User, viewer.id).email == "new@example.com"


def test_put_needs_name_and_email(client, viewer, viewer_headers):
    problem = assert_problem(
        client.put(url(viewer), headers=viewer_headers, json={"name": "X"}), 400, "VALIDATION_ERROR"
    )
    assert problem["errors"] == {"email": ["Missing data for required field."]}
    response = client.put(
        url(viewer),
        headers=viewer_headers,
        json={"name": "X", "email": "x@example.com", "current_password": PASSWORD},
    )
    assert response.status_code == 200


@pytest.mark.parametrize("field", [{"role": "admin"}, {"is_active": False}, {"role": "viewer"}])
def test_non_admin_cannot_send_admin_fields(client, app, editor, editor_headers, field):
    response = client.patch(url(editor), headers=editor_headers, json=field)
    assert_problem(response, 403, "FORBIDDEN")
    with app.app_context():
        stored = db.session.get(User, editor.id)
        assert (stored.role, stored.is_active) == ("editor", True)


def test_non_admin_cannot_update_another_user(client, app, admin, viewer_headers):
    response = client.patch(url(admin), headers=viewer_headers, json={"name": "Hacked"})
    assert_problem(response, 404, "NOT_FOUND")
    with app.app_context():
        assert db.session.get(User, admin.id).name == admin.name


def test_admin_changes_role_and_state(client, viewer, admin_headers):
    response = client.patch(
        url(viewer), headers=admin_headers, json={"role": "editor", "is_active": False}
    )
    assert response.status_code == 200
    assert response.get_json()["role"] == "editor" and response.get_json()["is_active"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "superuser"}, "role"),
        ({"is_active": "no"}, "is_active"),
        ({"is_active": 0}, "is_active"),
        ({"name": ""}, "name"),
        ({"email": "nope"}, "email"),
        ({"id": 5}, "id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"password_hash": "x"}, "password_hash"),
    ],
)
def test_invalid_updates_are_400_and_change_nothing(
    client, app, viewer, admin_headers, body, field
):
    problem = assert_problem(
        client.patch(url(viewer), headers=admin_headers, json=body), 400, "VALIDATION_ERROR"
    )
    assert field in problem["errors"]
    with app.app_context():
        stored = db.session.get(User, viewer.id)
        assert (stored.name, stored.email, stored.role, stored.is_active) == (
            viewer.name,
            viewer.email,
            "viewer",
            True,
        )


def test_email_taken_by_another_user_is_409(client, viewer, admin, viewer_headers):
    response = client.patch(
        url(viewer),
        headers=viewer_headers,
        json={"email": admin.email.upper(), "current_password": PASSWORD},
    )
    assert_problem(response, 409, "CONFLICT")


def test_keeping_own_email_is_fine(client, viewer, viewer_headers):
    response = client.put(
        url(viewer), headers=viewer_headers, json={"name": "Same", "email": viewer.email}
    )
    assert response.status_code == 200


def test_own_password_change_needs_the_current_password(client, viewer, viewer_headers, login):
    missing = client.patch(
        url(viewer), headers=viewer_headers, json={"password": "another password"}
    )
    assert "current_password" in assert_problem(missing, 400, "VALIDATION_ERROR")["errors"]
    wrong = client.patch(
        url(viewer),
        headers=viewer_headers,
        json={"password": "another password", "current_password": "wrong one"},
    )
    assert "current_password" in assert_problem(wrong, 400, "VALIDATION_ERROR")["errors"]
    assert login(viewer.email)  # the old password still works


def test_wrong_current_password_is_reported_on_that_field(client, viewer, viewer_headers):
    response = client.patch(
        url(viewer),
        json={"password": "a new password", "current_password": "not it at all"},
        headers=viewer_headers,
    )
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert body["errors"] == {"current_password": ["Incorrect password."]}


def test_current_password_alone_is_refused(client, viewer, viewer_headers):
    response = client.patch(
        url(viewer), headers=viewer_headers, json={"current_password": PASSWORD}
    )
    body = assert_problem(response, 400, "VALIDATION_ERROR")
    assert "current_password" in body["errors"]
    assert body["errors"] == {"current_password": ["Only used together with password or email."]}


def test_admin_resets_another_users_password(client, viewer, admin_headers, login):
    response = client.patch(url(viewer), headers=admin_headers, json={"password": "reset by admin"})
    assert response.status_code == 200
    assert login(viewer.email, "reset by admin")


def test_password_length_is_checked_on_update(client, viewer, admin_headers):
    response = client.patch(url(viewer), headers=admin_headers, json={"password": "short"})
    assert "password" in assert_problem(response, 400, "VALIDATION_ERROR")["errors"]


# --- the last active admin -----------------------------------------------------------


@pytest.mark.parametrize("change", [{"role": "editor"}, {"is_active": False}])
def test_last_active_admin_cannot_be_demoted_or_deactivated(
    client, app, admin, admin_headers, change
):
    assert_problem(client.patch(url(admin), headers=admin_headers, json=change), 409, "CONFLICT")
    with app.app_context():
        stored = db.session.get(User, admin.id)
        assert (stored.role, stored.is_active) == ("admin", True)


def test_last_active_admin_cannot_be_deleted(client, app, admin, admin_headers):
    assert_problem(client.delete(url(admin), headers=admin_headers), 409, "CONFLICT")
    with app.app_context():
        assert db.session.get(User, admin.id) is not None


def test_an_inactive_second_admin_does_not_count(client, create_user, admin, admin_headers):
    create_user("admin", is_active=False)
    assert_problem(client.delete(url(admin), headers=admin_headers), 409, "CONFLICT")


def test_admin_may_step_down_when_another_admin_remains(client, create_user, admin, admin_headers):
    create_user("admin")
    response = client.patch(url(admin), headers=admin_headers, json={"role": "viewer"})
    assert response.status_code == 200 and response.get_json()["role"] == "viewer"


# --- deleting ------------------------------------------------------------------------


def test_user_deletes_itself_and_its_sessions(client, app, viewer, viewer_headers):
    assert client.delete(url(viewer), headers=viewer_headers).status_code == 204
    with app.app_context():
        assert db.session.get(User, viewer.id) is None
        sessions = db.session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == viewer.id)
        )
        assert sessions == 0


def test_non_admin_cannot_delete_another_user(client, app, editor, viewer_headers):
    assert_problem(client.delete(url(editor), headers=viewer_headers), 404, "NOT_FOUND")
    with app.app_context():
        assert db.session.get(User, editor.id) is not None


def test_admin_deletes_a_user(client, viewer, admin_headers):
    assert client.delete(url(viewer), headers=admin_headers).status_code == 204
    assert_problem(client.get(url(viewer), headers=admin_headers), 404, "NOT_FOUND")


def test_ids_of_deleted_users_are_not_reused(client, viewer, admin_headers):
    client.delete(url(viewer), headers=admin_headers)
    response = client.post(
        "/api/users",
        headers=admin_headers,
        json={"name": "Next", "email": "next@example.com", "password": PASSWORD},
    )
    assert response.get_json()["id"] > viewer.id


# --- creating (admin) ----------------------------------------------------------------


def test_admin_creates_a_user_with_any_role(client, admin_headers, login):
    response = client.post(
        "/api/users",
        headers=admin_headers,
        json={"name": "Ed", "email": " ED@example.com ", "password": PASSWORD, "role": "editor"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["email"], body["role"], body["is_active"]) == ("ed@example.com", "editor", True)
    assert response.headers["Location"].endswith(f"/api/users/{body['id']}")
    assert login("ed@example.com")


@pytest.mark.parametrize(
    ("role", "status", "code"), [("viewer", 403, "FORBIDDEN"), ("editor", 403, "FORBIDDEN")]
)
def test_only_admins_create_users(client, create_user, login, role, status, code):
    headers = login(create_user(role).email)
    body = {"name": "X", "email": "x@example.com", "password": PASSWORD}
    assert_problem(client.post("/api/users", headers=headers, json=body), status, code)


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


def test_anonymous_cannot_create_users(client):
    body = {"name": "X", "email": "x@example.com", "password": PASSWORD}
    assert_problem(client.post("/api/users", json=body), 401, "UNAUTHENTICATED")


def test_create_user_with_taken_email_is_409(client, viewer, admin_headers):
    body = {"name": "X", "email": viewer.email, "password": PASSWORD}
    assert_problem(client.post("/api/users", headers=admin_headers, json=body), 409, "CONFLICT")


def test_timestamps_come_back_aware_in_utc(app, viewer):
    with app.app_context():
        stored = db.session.get(User, viewer.id)
        assert stored.created_at.utcoffset().total_seconds() == 0


def test_database_keeps_emails_unique_case_insensitively(app, viewer):
    from sqlalchemy.exc import IntegrityError

    with app.app_context():
        db.session.add(
            User(
                name="Dup",
                email=viewer.email.upper(),
                password_hash="x",
                role="viewer",
                is_active=True,
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
