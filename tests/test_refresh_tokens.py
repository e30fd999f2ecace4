"""Refresh tokens: rotation, reuse detection, races, expiry, and what ends them."""

import threading
from datetime import timedelta

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from extensions import db
from models import AuthSession, User
from models.base import utcnow
from tests.conftest import SECRET_KEY
from tests.helpers import PASSWORD, assert_problem
from tests.servers import Gunicorn

LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
ME = "/api/auth/me"
TOKEN_KEYS = {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def log_in(client, user, password=PASSWORD, **kwargs):
    response = client.post(LOGIN, json={"email": user.email, "password": password}, **kwargs)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(client, tokens_or_token):
    token = tokens_or_token
    if isinstance(tokens_or_token, dict):
        token = tokens_or_token["refresh_token"]
    return client.post(REFRESH, json={"refresh_token": token})


def refreshed(client, tokens):
    response = refresh(client, tokens)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def past_the_grace():
    """The clock moved past ``REFRESH_REUSE_GRACE`` (default 15 s) for a block."""
    return time_machine.travel(utcnow() + timedelta(seconds=16), tick=True)


def assert_refused(response):
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_refresh_answers_like_a_login_with_new_tokens(client, viewer):
    tokens = log_in(client, viewer)
    response = refresh(client, tokens)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "Bearer"
    assert (body["expires_in"], body["refresh_expires_in"]) == (3600, 1209600)
    assert body["refresh_token"] != tokens["refresh_token"]
    assert client.get(ME, headers=bearer(body)).get_json()["email"] == viewer.email


def test_refresh_expires_in_follows_the_setting(make_app, create_user):
    client = make_app(REFRESH_TOKEN_TTL=600).test_client()
    tokens = log_in(client, create_user())
    assert tokens["refresh_expires_in"] == 600
    assert refreshed(client, tokens)["refresh_expires_in"] == 600


def test_rotation_keeps_the_session_and_earlier_access_tokens(client, app, viewer):
    first = log_in(client, viewer)
    second = refreshed(client, first)
    third = refreshed(client, second)
    for tokens in (first, second, third):
        assert client.get(ME, headers=bearer(tokens)).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(AuthSession)) == 1


def test_a_used_refresh_token_ends_the_whole_session(client, viewer):
    first = log_in(client, viewer)
    other_session = log_in(client, viewer)
    second = refreshed(client, first)

    with past_the_grace():
        reused = refresh(client, first)
    assert_refused(reused)
    assert "already used" in reused.get_json()["detail"]
    # Every token the session issued is dead, the newest refresh token too ...
    for tokens in (first, second):
        assert_refused(client.get(ME, headers=bearer(tokens)))
    assert_refused(refresh(client, second))
    # ... while the user's other session lives on.
    assert client.get(ME, headers=bearer(other_session)).status_code == 200
    assert refresh(client, other_session).status_code == 200


def test_reuse_is_logged_without_any_token(client, viewer, caplog):
    first = log_in(client, viewer)
    second = refreshed(client, first)
    with past_the_grace():
        refresh(client, first)
    warnings = [r for r in caplog.records if r.name == "api.sessions"]
    assert [r.getMessage() for r in warnings] == ["refresh token reused; session ended"]
    assert warnings[0].user_id == viewer.id
    logged = str([vars(r) for r in caplog.records])
    for token in (*first.values(), *second.values()):
        if isinstance(token, str) and len(token) > 20:
            assert token not in logged


def at_once(send, racers):
    """``send()`` from ``racers`` threads at the same moment; what each returned."""
    start = threading.Barrier(racers)
    answers = []

    def race():
        start.wait(timeout=30)
        answers.append(send())

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == racers
    return answers


def race_refreshes(app, tokens, racers):
    """``racers`` threads, each with its own client, refresh with ``tokens`` at once."""
    return at_once(lambda: refresh(app.test_client(), tokens), racers)


@pytest.mark.parametrize("round_", range(3))
def test_racing_refreshes_with_one_token_all_go_on_with_one_successor(app, viewer, round_):
    """Eight requests refresh with the same token at once (two tabs, parallel
    calls): each gets a new access token, all the same refresh token, and the
    session stays open. Some losers read the row before the winner wrote it."""
    client = app.test_client()
    answers = race_refreshes(app, log_in(client, viewer), racers=8)
    assert [answer.status_code for answer in answers] == [200] * 8
    bodies = [answer.get_json() for answer in answers]
    assert len({body["refresh_token"] for body in bodies}) == 1
    assert len({body["access_token"] for body in bodies}) == 8
    for body in bodies:
        assert client.get(ME, headers=bearer(body)).status_code == 200
    with app.app_context():
        session = db.session.scalar(select(AuthSession))
        assert session.revoked_at is None
    # The shared successor is the session's one current refresh token.
    following = refreshed(client, bodies[0])
    assert client.get(ME, headers=bearer(following)).status_code == 200


@pytest.mark.servers
def test_racing_refreshes_across_gunicorn_workers_share_one_successor(
    make_app, database_url, create_user, tmp_path
):
    """The same race between processes: eight threads send one refresh token at
    once to gunicorn's three workers, for three logins in turn."""
    make_app()  # its teardown empties the tables the server fills
    user = create_user()
    settings = {
        "FLASK_SKIP_DOTENV": "1",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": "false",
    }
    with Gunicorn(settings, workers=3, log_path=tmp_path / "gunicorn.log") as server:
        server.wait_ready()
        for _ in range(3):
            status, _, tokens = server.request_json(
                "POST", LOGIN, {"email": user.email, "password": PASSWORD}
            )
            assert status == 200
            token = tokens["refresh_token"]
            answers = at_once(
                lambda token=token: server.request_json("POST", REFRESH, {"refresh_token": token}),
                racers=8,
            )
            assert [status for status, _, _ in answers] == [200] * 8, server.log_tail()
            assert len({body["refresh_token"] for _, _, body in answers}) == 1
            assert len({body["access_token"] for _, _, body in answers}) == 8
            status, _, _ = server.request_json(
                "POST", REFRESH, {"refresh_token": answers[0][2]["refresh_token"]}
            )
            assert status == 200


def test_a_refresh_token_sent_again_within_the_grace_gets_the_same_successor(client, viewer):
    first = log_in(client, viewer)
    with time_machine.travel(utcnow(), tick=False) as traveller:
        second = refreshed(client, first)
        traveller.shift(timedelta(seconds=15))
        again = refreshed(client, first)
        assert again["refresh_token"] == second["refresh_token"]
        assert again["access_token"] not in (first["access_token"], second["access_token"])
        assert set(again) == TOKEN_KEYS
        for tokens in (first, second, again):
            assert client.get(ME, headers=bearer(tokens)).status_code == 200
        third = refreshed(client, again)
        assert client.get(ME, headers=bearer(third)).status_code == 200


def test_a_refresh_token_sent_again_after_the_grace_ends_the_session(client, viewer):
    first = log_in(client, viewer)
    with time_machine.travel(utcnow(), tick=False) as traveller:
        second = refreshed(client, first)
        traveller.shift(timedelta(seconds=16))
        assert_refused(refresh(client, first))
        for tokens in (first, second):
            assert_refused(client.get(ME, headers=bearer(tokens)))
        assert_refused(refresh(client, second))


def test_no_grace_once_the_successor_was_used_in_turn(client, viewer):
    """Within the grace too: the successor was used, so the first token's
    answer would be a used token; it is reuse, and ends the session."""
    first = log_in(client, viewer)
    second = refreshed(client, first)
    third = refreshed(client, second)
    assert_refused(refresh(client, first))
    assert_refused(client.get(ME, headers=bearer(third)))


def test_a_grace_of_zero_turns_it_off(make_app, create_user):
    client = make_app(REFRESH_REUSE_GRACE=0).test_client()
    first = log_in(client, create_user())
    second = refreshed(client, first)
    assert_refused(refresh(client, first))
    assert_refused(client.get(ME, headers=bearer(second)))


def test_the_grace_does_not_outlive_the_session(client, app, viewer, admin_headers):
    first = log_in(client, viewer)
    refreshed(client, first)
    client.patch(f"/api/users/{viewer.id}", headers=admin_headers, json={"is_active": False})
    assert_refused(refresh(client, first))


def test_every_token_is_distinct_even_within_one_second(client, viewer):
    with time_machine.travel(utcnow(), tick=False):
        first = log_in(client, viewer)
        second = refreshed(client, first)
        again = refreshed(client, first)  # within the grace
        third = refreshed(client, second)
        other = log_in(client, viewer)
    issued = [first, second, again, third, other]
    access = [tokens["access_token"] for tokens in issued]
    assert len(set(access)) == len(access)
    # ``again`` hands out ``second``'s refresh token again, by design; no other repeats.
    refresh_tokens = [tokens["refresh_token"] for tokens in (first, second, third, other)]
    assert len(set(refresh_tokens)) == len(refresh_tokens)
    assert len(set(refresh_tokens) | set(access)) == len(refresh_tokens) + len(access)


def test_the_session_keeps_only_a_digest_of_the_refresh_token(client, app, viewer):
    tokens = log_in(client, viewer, headers={"User-Agent": "probe"})
    with app.app_context():
        row = db.session.execute(select(AuthSession.__table__)).mappings().one()
    stored = " ".join(str(value) for value in row.values())
    payload = tokens["refresh_token"].split(".")[0]
    assert tokens["refresh_token"] not in stored and payload not in stored
    assert len(row["refresh_digest"]) == 64
    # After a refresh too: the row keeps digests of the used and the next secret.
    following = refreshed(client, tokens)
    with app.app_context():
        row = db.session.execute(select(AuthSession.__table__)).mappings().one()
    stored = " ".join(str(value) for value in row.values())
    for token in (tokens["refresh_token"], following["refresh_token"]):
        assert token not in stored and token.split(".")[0] not in stored
    assert len(row["refresh_digest"]) == len(row["previous_refresh_digest"]) == 64


@pytest.mark.parametrize("ttl", [60, 600])
def test_a_refresh_token_expires_after_its_ttl(make_app, create_user, ttl):
    client = make_app(REFRESH_TOKEN_TTL=ttl, ACCESS_TOKEN_TTL=30).test_client()
    user = create_user()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        tokens = log_in(client, user)
        traveller.shift(timedelta(seconds=ttl - 1))
        tokens = refreshed(client, tokens)
        # A refresh starts a new lifetime: the session lives on while it is used.
        traveller.shift(timedelta(seconds=ttl - 1))
        tokens = refreshed(client, tokens)
        traveller.shift(timedelta(seconds=ttl + 1))
        assert_refused(refresh(client, tokens))


def test_an_access_token_expires_before_its_refresh_token(make_app, create_user):
    client = make_app(ACCESS_TOKEN_TTL=60, REFRESH_TOKEN_TTL=3600).test_client()
    user = create_user()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        tokens = log_in(client, user)
        traveller.shift(timedelta(seconds=61))
        assert_refused(client.get(ME, headers=bearer(tokens)))
        fresh = refreshed(client, tokens)
        assert client.get(ME, headers=bearer(fresh)).status_code == 200


def test_refresh_after_logout_is_refused(client, viewer):
    tokens = log_in(client, viewer)
    assert client.post("/api/auth/logout", headers=bearer(tokens)).status_code == 204
    assert_refused(refresh(client, tokens))


def test_refresh_after_a_password_change_is_refused(client, viewer):
    tokens = log_in(client, viewer)
    changed = client.patch(
        f"/api/users/{viewer.id}",
        headers=bearer(tokens),
        json={"password": "another good password", "current_password": PASSWORD},
    )
    assert changed.status_code == 200
    assert_refused(refresh(client, tokens))


def test_refresh_after_deactivation_is_refused_even_once_reactivated(client, viewer, admin_headers):
    tokens = log_in(client, viewer)
    path = f"/api/users/{viewer.id}"
    assert client.patch(path, headers=admin_headers, json={"is_active": False}).status_code == 200
    assert_refused(refresh(client, tokens))
    assert client.patch(path, headers=admin_headers, json={"is_active": True}).status_code == 200
    assert_refused(refresh(client, tokens))


def test_refresh_of_an_inactive_user_is_refused(client, app, viewer):
    """Even when the account was switched off around the API, sessions left open."""
    tokens = log_in(client, viewer)
    with app.app_context():
        db.session.execute(update(User).values(is_active=False))
        db.session.commit()
    assert_refused(refresh(client, tokens))


def test_refresh_of_a_deleted_user_is_refused(client, viewer, admin_headers):
    tokens = log_in(client, viewer)
    assert client.delete(f"/api/users/{viewer.id}", headers=admin_headers).status_code == 204
    assert_refused(refresh(client, tokens))


def test_an_access_token_is_no_refresh_token_nor_the_reverse(client, viewer):
    tokens = log_in(client, viewer)
    assert_refused(refresh(client, tokens["access_token"]))
    assert_refused(client.get(ME, headers={"Authorization": f"Bearer {tokens['refresh_token']}"}))
    # Neither attempt used anything up.
    assert refresh(client, tokens).status_code == 200


def test_tampered_and_foreign_refresh_tokens_are_refused(client, app, viewer):
    tokens = log_in(client, viewer)
    payload, timestamp, signature = tokens["refresh_token"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with app.app_context():
        row = db.session.scalar(select(AuthSession))
        token_id = row.token_id
    foreign = URLSafeTimedSerializer(
        "another-secret-key-of-enough-length-000000", salt="refresh-token"
    ).dumps([token_id, "guessed-secret"])
    for bad in (
        f"{payload}.{timestamp}.{flipped}",
        f"{payload}x.{timestamp}.{signature}",
        foreign,
        "not-a-token",
        "",
    ):
        assert_refused(refresh(client, bad))
    # None of those was a reuse: the session still refreshes.
    assert refresh(client, tokens).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "refresh_token"),
        ({"refresh_token": 12}, "refresh_token"),
        ({"refresh_token": "x" * 1025}, "refresh_token"),
        ({"refresh_token": "x", "access_token": "y"}, "access_token"),
    ],
)
def test_refresh_body_is_validated(client, body, field):
    problem = assert_problem(client.post(REFRESH, json=body), 400, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]


def test_refresh_token_ttl_default_and_bad_value(tmp_path):
    from config import ConfigError, load_settings

    assert load_settings({}, str(tmp_path))["REFRESH_TOKEN_TTL"] == 1209600
    with pytest.raises(ConfigError) as caught:
        load_settings({"REFRESH_TOKEN_TTL": "0"}, str(tmp_path))
    assert caught.value.name == "REFRESH_TOKEN_TTL"


def test_refresh_reuse_grace_default_and_bad_values(tmp_path):
    from config import ConfigError, load_settings

    assert load_settings({}, str(tmp_path))["REFRESH_REUSE_GRACE"] == 15
    assert load_settings({"REFRESH_REUSE_GRACE": "0"}, str(tmp_path))["REFRESH_REUSE_GRACE"] == 0
    for bad in ("-1", "soon"):
        with pytest.raises(ConfigError) as caught:
            load_settings({"REFRESH_REUSE_GRACE": bad}, str(tmp_path))
        assert caught.value.name == "REFRESH_REUSE_GRACE"


def test_refresh_is_documented_as_a_public_operation(client):
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/auth/refresh"]["post"]
    assert "security" not in operation
    assert {"200", "400", "401", "429"} <= operation["responses"].keys()
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Token"
    }
    assert sorted(document["components"]["schemas"]["Token"]["required"]) == sorted(TOKEN_KEYS)
    assert document["components"]["schemas"]["Refresh"]["required"] == ["refresh_token"]


def test_refused_refreshes_are_counted_by_reason(make_app, create_user):
    app = make_app(METRICS_ENABLED=True)
    client = app.test_client()

    def failures():
        text = client.get("/metrics").get_data(as_text=True)
        counted = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "authentication_failures_total":
                    counted[sample.labels["reason"]] = sample.value
        return counted

    first = log_in(client, create_user())
    before = failures()
    refreshed(client, first)
    assert_refused(refresh(client, "not-a-token"))
    with past_the_grace():
        assert_refused(refresh(client, first))  # reuse: ends the session
        assert_refused(refresh(client, first))  # the session has ended
    after = failures()
    for reason in ("bad_signature", "refresh_token_reused", "revoked_or_expired_session"):
        assert after.get(reason, 0) - before.get(reason, 0) == 1, reason
