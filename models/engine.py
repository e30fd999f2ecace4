"""The database policy: how the service's SQLAlchemy engine connects and pools.

``engine_options`` turns the settings (config.py) into the engine's options;
``configure`` adds what depends on the engine made from them.
"""

from models import sqlite


def engine_options(config):
    """SQLAlchemy engine options: a bounded pool for server databases.

    ``hide_parameters`` on every database: an error's message (and so its logged
    traceback) names the SQL statement but never its values, which can be
    password hashes, tokens or whatever a client sent.

    SQLite's options are its own module's (``models/sqlite.py``).

    Behind PgBouncer in transaction pooling (``DB_POOLER=pgbouncer``) each
    transaction may run on a different server connection, so nothing may outlive
    a transaction on one. The service keeps no session state (it only ever uses
    ``SET LOCAL``); what psycopg would keep is its server-side prepared
    statements, prepared on one server connection and then missing (or already
    there) on the next: ``prepare_threshold=None`` turns them off. The pool
    stays: a connection to PgBouncer is cheap to keep and costs a round trip to
    open.

    No ``pool_pre_ping``: it cost a round trip on every checkout, three per
    request, to guard against a rare event that is handled anyway. A pooled
    connection that died (a restarted PostgreSQL or PgBouncer) fails its first
    statement with a disconnect error; SQLAlchemy then discards it and marks
    every connection pooled before it to be replaced. That first statement is
    nearly always a ``FastRead`` (the token or the catalog version), which runs
    once more on a new connection (``models/fast_read.py``); any other is
    answered 503 like every database error and the next request gets a live
    connection (tests/test_database_faults.py).
    """
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return {"hide_parameters": True, "connect_args": sqlite.connect_args()}
    connect_args = {"connect_timeout": 5}
    if config["DB_POOLER"] == "pgbouncer":
        connect_args["prepare_threshold"] = None
    return {
        "hide_parameters": True,
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": config["DB_MAX_OVERFLOW"],
        "pool_recycle": config["DB_POOL_RECYCLE"],
        "pool_timeout": config["DB_POOL_TIMEOUT"],
        "connect_args": connect_args,
    }


def configure(engine):
    if engine.dialect.name == "sqlite":
        sqlite.configure(engine)
