"""The database policy: how the service's SQLAlchemy engine connects and pools.

``engine_options`` turns the settings (config.py) into the engine's options;
``configure`` adds what depends on the engine made from them.
"""

from models import sqlite


def engine_options(config):
    """SQLAlchemy engine options: a bounded, pre-pinged pool for server databases.

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
    open, and the pre-ping replaces one PgBouncer closed (restart,
    ``client_idle_timeout``) before a request meets it.
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
        "pool_pre_ping": True,
        "connect_args": connect_args,
    }


def configure(engine):
    if engine.dialect.name == "sqlite":
        sqlite.configure(engine)
