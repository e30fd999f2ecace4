"""Structured logs: one JSON line per request on stdout.

The request id is fixed before anything else runs, so every later hook, error
and log record can name it; the request's log line is written after every other
hook, so it records the status the client really gets. When traces are exported
(observability/tracing.py), every log record of a request also carries its ``trace_id``
and ``span_id``.

The line is written on every request, so its path is kept short: one JSON
encoder for the process (``json.dumps`` with ``default=`` builds a new one per
call) and a record made without ``Logger.findCaller``'s walk up the stack for a
file name and line number no formatter here prints.
"""

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

from flask import g, has_request_context
from sqlalchemy.exc import StatementError

from request_ids import request_id, request_id_of

_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_encode = json.JSONEncoder(default=str).encode

request_log = logging.getLogger("api.request")


# Werkzeug colours its banner with ANSI escapes whatever the output is.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra=`` fields become top-level keys.

    The development server's own messages ("Running on http://127.0.0.1:5000",
    only ever under ``flask run``) are plain text for the person who started it,
    its colours kept only when ``colour`` (stdout is a terminal).
    """

    def __init__(self, *, colour=False):
        super().__init__()
        self.colour = colour

    def format(self, record):
        if record.name == "werkzeug":
            text = super().format(record)
            return text if self.colour else ANSI_ESCAPE.sub("", text)
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}
        )
        # The request's own line has them already (``log_request``).
        if record.name != request_log.name and has_request_context():
            if "request_id" not in entry:
                entry["request_id"] = request_id()
            # Set by observability/tracing.py when traces are exported: search a trace's logs by it.
            if "trace_id" in g:
                entry.setdefault("trace_id", g.trace_id)
                entry.setdefault("span_id", g.span_id)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return _encode(entry)

    def formatException(self, exc_info):
        """The traceback, with what a database error quotes of the data left out
        (``withheld_traceback``)."""
        return withheld_traceback(super().formatException(exc_info), exc_info[1])


def withheld_traceback(text, error):
    """``text``, the formatted traceback of ``error``, with what a database error
    quotes of the data left out.

    The engine never renders SQL parameters (``hide_parameters``), but the
    database's own message can quote a value (PostgreSQL's ``DETAIL: Key
    (email)=(...)``, ``invalid input syntax for type ...: "..."``): such
    messages are replaced by the error's class, SQLSTATE and statement.
    """
    for link, summary in _database_errors(error):
        text = _withhold(text, link, summary)
    return text


class WithholdDatabaseText(logging.Filter):
    """A handler filter: no record it passes shows a database error's message.

    For records formatted by someone else's formatter (SQLAlchemy's pool and
    engine loggers, whose records reach the JSON handler; gunicorn's error log of
    a response that failed while streaming, on gunicorn's own handler, see
    ``gunicorn.conf.py``): the traceback is made here, withheld like the JSON
    formatter's, and kept as the record's ``exc_text``, which every
    ``logging.Formatter`` prints instead of formatting the exception again; a
    database error passed as an argument (``"reason: %s", error``) is replaced
    by its summary.
    """

    def filter(self, record):
        # Also when a handler before this one cached the traceback as it is.
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and any(_database_errors(error)):
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = withheld_traceback(text, error)
        if isinstance(record.args, tuple):
            record.args = tuple(_withheld_argument(arg) for arg in record.args)
        return True


def _withheld_argument(arg):
    if isinstance(arg, BaseException):
        for link, summary in _database_errors(arg):
            if link is arg:
                return summary
    return arg


def withheld_database_messages(error):
    """``{message: what to show instead}`` for each database error in ``error``'s
    chain: the summaries ``formatException`` puts in tracebacks, for other reports
    of the same error (``observability/error_reports.py``)."""
    withheld = {str(link): summary for link, summary in _database_errors(error)}
    withheld.pop("", None)
    return withheld


def _database_errors(error):
    """``(error, summary)`` for each database error in ``error``'s chain: an
    error of SQLAlchemy's, the driver error under it, and a driver error raised
    as it is (the pool's reset and pre-ping call the driver directly)."""
    seen = set()
    for link in _chain(error):
        if isinstance(link, StatementError):
            found = [(link, _database_error_summary(link))]
            if link.orig is not None:
                found.append((link.orig, _driver_error_summary(link.orig)))
        elif _is_driver_error(link):
            found = [(link, _driver_error_summary(link))]
        else:
            continue
        for pair in found:
            if id(pair[0]) not in seen:
                seen.add(id(pair[0]))
                yield pair


# The database drivers the service runs on (DB-API modules, each with its ``Error``).
DRIVER_MODULES = ("sqlite3", "psycopg")


def _is_driver_error(error):
    """Whether ``error`` comes from a database driver. A driver that was never
    imported raised nothing, so nothing is imported here."""
    for name in DRIVER_MODULES:
        module = sys.modules.get(name)
        if module is not None and isinstance(error, module.Error):
            return True
    return False


def _chain(error):
    """An exception and those it was raised from or while handling, each once."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _withhold(text, error, summary):
    """Replace the traceback's last line for ``error`` (``module.Class: message``)."""
    cls = type(error)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    message = str(error)
    return text.replace(f"{name}: {message}", f"{name}: {summary}") if message else text


def _driver_error_summary(error):
    sqlstate = getattr(error, "sqlstate", None)
    state = f", SQLSTATE {sqlstate}" if sqlstate else ""
    return f"{type(error).__name__} (message withheld: it may quote data{state})"


def _database_error_summary(error):
    orig = getattr(error, "orig", None)
    cause = _driver_error_summary(orig) if orig is not None else "message withheld"
    return f"{cause} [SQL: {error.statement}]"


class _DropDevServerAccessLines(logging.Filter):
    """The development server logs each request too; ours is the structured one."""

    def filter(self, record):
        return not (record.name == "werkzeug" and " - - [" in record.getMessage())


def configure_logging(level):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(colour=sys.stdout.isatty()))
    handler.addFilter(_DropDevServerAccessLines())
    handler.addFilter(WithholdDatabaseText())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def start_request(req, ctx_g):
    """Start the request's clock and fix its id."""
    ctx_g.started_at = time.perf_counter()
    request_id_of(req, ctx_g)


def identify_response(response, req, ctx_g):
    """The headers every response carries: its request id, and ``nosniff``.

    No other step or view writes them, so they are added, not set (which
    looks through every header for one to replace)."""
    response.headers.add("X-Request-ID", request_id_of(req, ctx_g))
    response.headers.add("X-Content-Type-Options", "nosniff")
    return response


def log_request(response, req, ctx_g):
    """The request's one log line; never a body, a header value or a query string.

    Written for every response, also one answered before ``start_request`` ran
    (an error while the URL was matched): then without a duration. It carries
    the request's fields itself (``JsonFormatter`` adds them to other records).
    """
    if not request_log.isEnabledFor(logging.INFO):
        return response
    authentication = ctx_g.get("authentication")
    started_at = ctx_g.get("started_at")
    fields = {
        "request_id": request_id_of(req, ctx_g),
        "method": req.method,
        "path": req.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started_at) * 1000, 2) if started_at else None,
        "user_id": authentication.user_id if authentication else None,
        "remote_addr": req.remote_addr,
    }
    if "trace_id" in ctx_g:
        fields["trace_id"], fields["span_id"] = ctx_g.trace_id, ctx_g.span_id
    record = request_log.makeRecord(
        request_log.name,
        logging.INFO,
        __file__,
        0,
        "request",
        None,
        None,
        extra=fields,
    )
    request_log.handle(record)
    return response
