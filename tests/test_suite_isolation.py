"""The suite's own databases: it never empties or drops data it did not create.

On a shared PostgreSQL or Redis (a newcomer's often is), the database a
developer names in ``TEST_DATABASE_URL`` or ``TEST_REDIS_URL`` may hold someone's
data; ``tests/conftest.py`` works only in databases it created and marked.
"""

import os
import secrets

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from deploy.marked_databases import marker_of, server_engine
from tests.conftest import REDIS_MARKER_KEY, TEST_MARKER, claim_redis, drop_test_database
from tests.helpers import skip_or_fail


def _postgresql(database_url):
    if not database_url.startswith("postgresql"):
        skip_or_fail("needs a PostgreSQL TEST_DATABASE_URL")
    return make_url(database_url)


def test_the_suite_runs_in_a_marked_database_of_its_own(database_url):
    url = _postgresql(database_url)
    named = make_url(os.environ["TEST_DATABASE_URL"]).database
    assert url.database != named and url.database.startswith(f"{named}_")
    assert marker_of(url) == TEST_MARKER


def test_a_database_the_suite_did_not_create_is_never_dropped(database_url):
    url = _postgresql(database_url)
    someone_elses = f"not_the_suites_{secrets.token_hex(4)}"
    engine = server_engine(url)
    exists = text("SELECT count(*) FROM pg_database WHERE datname = :name")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{someone_elses}"'))
        try:
            with pytest.raises(RuntimeError, match="did not create it"):
                drop_test_database(url.set(database=someone_elses).render_as_string(False))
            with engine.connect() as connection:
                assert connection.scalar(exists, {"name": someone_elses}) == 1
        finally:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{someone_elses}"'))
    finally:
        engine.dispose()


def test_a_redis_database_holding_other_data_is_not_flushed(redis_url):
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        client.delete(REDIS_MARKER_KEY)
        client.set("someone:else", "precious")
        with pytest.raises(pytest.fail.Exception, match=r"did not\s+write"):
            claim_redis(client)
        assert client.get("someone:else") == b"precious"

        client.set(REDIS_MARKER_KEY, TEST_MARKER)  # the suite's own: emptied
        claim_redis(client)
        assert client.get("someone:else") is None
        assert client.get(REDIS_MARKER_KEY) == TEST_MARKER.encode()
    finally:
        client.delete("someone:else")
        client.set(REDIS_MARKER_KEY, TEST_MARKER)
        client.close()
