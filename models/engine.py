"""The database policy: how the service's SQLAlchemy engines connect and pool.

``engine_options`` turns the settings (config.py) into the engine's options,
``binds`` adds the autocommit engine of a server database (``AUTOCOMMIT``),
and ``configure`` adds what depends on the engines made from them.

The autocommit engine: on PostgreSQL, the statements that each stand alone (the
token lookup, the catalog version, list pages, a create's lone INSERT:
``models/fast_read.py``, ``models/single_insert.py``) run on an engine of their
own whose connections are in autocommit from the moment they connect, and go
back to the pool as they are. On the session's engine each such statement had
to switch autocommit on at checkout, off again at the return, and reset the
connection: three locked rounds in psycopg, no network, 94,000 instructions, 4
to 5 % of an authenticated request (bench/README.md). SQLite needs none of it
(its driver begins no transaction for a SELECT), so there those statements use
the session's engine. ``fast_read.autocommit_engine()`` picks the engine.
"""

from sqlalchemy import event

from models import sqlite

# The Flask-SQLAlchemy bind key of the autocommit engine: ``db.engines[AUTOCOMMIT]``.
AUTOCOMMIT = "autocommit"


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


def binds(config):
    """``SQLALCHEMY_BINDS``: the autocommit engine on a server database, none on SQLite.

    Its pool is sized like the session's (``DB_POOL_SIZE``, ``DB_MAX_OVERFLOW``),
    so a process may hold twice that many connections; in practice a thread holds
    at most one autocommit connection, for one statement or one page, and never
    waits for one while holding another (docs/topology.md counts both pools).
    """
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return {}
    return {
        AUTOCOMMIT: {
            **engine_options(config),
            "url": config["SQLALCHEMY_DATABASE_URI"],
            "isolation_level": "AUTOCOMMIT",
            "pool_reset_on_return": None,  # nothing to reset: no transaction, no state
        }
    }


def configure(engines):
    """What depends on the engines made: SQLite's pragmas, and one fate for both pools.

    A server that restarted left every pooled connection of both engines dead.
    SQLAlchemy marks a pool's older connections as to be replaced when one of
    them is found lost, but only that engine's pool; the first lost connection
    of either engine therefore disposes of the other's pool too, so a request
    whose token lookup met the restart does not then meet it again in its session
    (tests/test_database_faults.py).
    """
    engine = engines[None]
    if engine.dialect.name == "sqlite":
        sqlite.configure(engine)
    all_engines = list(engines.values())
    for one in all_engines:
        others = [other for other in all_engines if other is not one]
        if others:
            event.listen(one, "handle_error", _dispose_on_disconnect(others))


def _dispose_on_disconnect(others):
    def dispose_others(context):
        if context.is_disconnect:
            for other in others:
                other.dispose()

    return dispose_others
