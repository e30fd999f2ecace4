"""Pages of a list: numbered pages with a total, or keyset pages behind a cursor.

A list declares its statements once (``ListStatements`` of a ``select()`` of
one model); its view validates the query string through a
``schemas.pagination.ListQuerySchema`` subclass and calls ``paginate`` with the
request's filters as conditions. Every list shares the same parameters, body
shape, links and ``Link`` header this way.

Cursor pages seek with ``WHERE (order_by column, id) > (last value, last id)``
(``<`` when descending) over an index on (column, id): no OFFSET and no COUNT,
so page 50,000 costs what page 1 costs, and ``id`` breaks ties so rows with
equal values are neither skipped nor repeated. The cursor is signed and names
the query it belongs to; it cannot be forged or reused for another query.
"""

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from flask import current_app, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.types import TypeDecorator

from errors import InvalidCursor
from models.fast_read import read_connection

# List views filter ``q`` with it beside ``paginate``; it lives with the models
# because on PostgreSQL it reads the column's statistics (models/search.py).
from models.search import contains_text as contains_text

CURSOR_SALT = "pagination-cursor"
# Parameters that choose a page within a query rather than the query itself.
_POSITION = ("page", "cursor", "limit")


class ListStatements:
    """The statements one list reads its pages with, built once when the list is declared.

    ``base`` is the list's ``select()`` of one model, with no filter of any
    request (``select(Product)``); ``order_columns`` maps each name ``order_by``
    accepts to its column, and must include ``id``; ``pages`` is the list's
    ``schemas.pagination.ListPages``, which the body is dumped through.
    ``version``, if given, is a scalar subquery of a token that changes in the
    same transaction as every write to the listed rows (``models.catalog``):
    numbered pages then count each filter's total once per token (``TOTALS``).

    Every statement a page needs (the first page with the version token, a later
    page, the ``COUNT``, a first and a later cursor page) is built here, for each
    ``order_by`` and ``sort``, from these four things only: a page's own values
    (its ``limit``, offset and cursor position) are bind parameters, passed when
    it is executed, and the request's filters are conditions that ``paginate``
    adds to the statement per request. So nothing a request sends, and nothing
    about its caller, is ever kept in a statement here, and a statement built for
    one query cannot answer another with that query's values. Per request this
    saves building the ``select()``, its ``ORDER BY``, ``LIMIT`` and extra
    columns, and SQLAlchemy's cache key of the result (kept on the statement),
    and the rows' dump is bound here once, to the columns of ``base`` that every
    page selects: a sixth of an uncached page's instructions (callgrind, first
    page of 20 products on PostgreSQL: 4.74 M to 3.98 M).
    """

    LIMIT = "list_limit"
    OFFSET = "list_offset"

    def __init__(self, base, order_columns, pages, version=None):
        self.version = version
        self.items = pages.rows(base.selected_columns)
        id_column = order_columns["id"]
        limit, offset = bindparam(self.LIMIT), bindparam(self.OFFSET)
        self.count = base.with_only_columns(func.count(), maintain_column_froms=True)
        # A later page reads the token before its COUNT (see ``Totals``).
        self.version_read = select(version) if version is not None else None
        self.orders = {}
        for name, column in order_columns.items():
            keys = (column,) if column is id_column else (column, id_column)
            for sort in ("asc", "desc"):
                descending = sort == "desc"
                ordered = base.order_by(*(key.desc() if descending else key.asc() for key in keys))
                first = ordered.limit(limit)
                if version is not None:
                    first = first.add_columns(version.label(VERSION_LABEL))
                cursor = ordered.add_columns(*keys).limit(limit)
                self.orders[name, sort] = _Ordered(
                    keys=keys,
                    first=first,
                    later=ordered.limit(limit).offset(offset),
                    cursor=cursor,
                    after=cursor.where(_after(keys, descending)),
                )


@dataclass(frozen=True)
class _Ordered:
    """One order of a list: its key columns and the statements of its pages."""

    keys: tuple
    first: object  # the first numbered page (with the version token, if any)
    later: object  # any numbered page, at an offset
    cursor: object  # the first cursor page
    after: object  # a cursor page after a position (the ``_AFTER`` parameters)


def paginate(statements, query, conditions=()):
    """One page of the list ``statements`` (a ``ListStatements``) as ``(body, headers)``.

    ``query`` is the validated query string; ``conditions`` are the request's
    filters (SQLAlchemy conditions, such as ``Product.category == "lighting"``),
    added to the list's statements for this request only.

    Both kinds of page are read as plain rows (tuples of the statement's
    columns) on one autocommit connection (``models.fast_read.read_connection``):
    a page is only shown, never changed, so it needs neither the session's
    identity map nor a transaction, and a first page reads its rows and the
    version token in one statement. On PostgreSQL that is one round trip where
    the session took four (BEGIN, the page, the version on a connection of its
    own, ROLLBACK). The rows are dumped by ``statements.items`` (a
    ``schemas.row_dump.RowDump``), which shows them exactly as the item schema's
    ``dump`` shows the ORM objects, at a fraction of its cost.
    """
    ordered = statements.orders[query["order_by"], query["sort"]]
    if "cursor" in query:
        return _cursor_page(statements, ordered, query, conditions)
    return _offset_page(statements, ordered, query, conditions)


def _filtered(statement, conditions):
    return statement.where(*conditions) if conditions else statement


class Totals:
    """Exact list totals, each counted once per (list, filters, version) in a process.

    The ``COUNT`` of a broad filter (``q=a`` over a million products) reads
    every matching row however small the page: without this, a client could
    make the database scan the table with every cheap request. Keyed by the
    version token, a total is never older than the database: the token is read
    before the count (so a count stored under a token is at least as new as
    it), and a write gives the rows a new token in its own transaction, so no
    total counted before it can be found again once it is answered. At most
    ``size`` totals are kept, the least recently used go first; a lock makes it
    safe for threaded workers (the count itself runs outside it).
    """

    def __init__(self, size):
        self.size = size
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        """The total kept under ``key``, or ``None``."""
        with self._lock:
            total = self._entries.get(key)
            if total is not None:
                self._entries.move_to_end(key)
            return total

    def put(self, key, total):
        with self._lock:
            self._entries[key] = total
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


TOTALS = Totals(size=2000)
# Parameters that change the order, not which rows a total counts.
_NOT_COUNTED = (*_POSITION, "sort", "order_by")


# The version token's column in a first page's rows; no table has a column so named.
VERSION_LABEL = "list_version_token"


def _totals_key(query, token):
    """Where ``TOTALS`` keeps this list's total under ``token``, or ``None`` without one."""
    if token is None:
        return None
    filters = sorted(
        (name, str(value)) for name, value in query.items() if name not in _NOT_COUNTED
    )
    return (request.endpoint, token, tuple(filters))


def _offset_page(statements, ordered, query, conditions):
    page, limit = query.get("page", 1), query["limit"]
    offset = (page - 1) * limit
    has_version = statements.version is not None
    rows = total = None
    with read_connection() as connection:
        if offset == 0:
            # A first page read one row past its limit holds the whole list when
            # that row is missing: its length is the total, and a selective search
            # needs no COUNT (nor a version read), even one that fills the page.
            # A longer list's page carries the version token, read in the same
            # statement, so before any COUNT.
            first = _filtered(ordered.first, conditions)
            rows = connection.execute(first, {ListStatements.LIMIT: limit + 1}).all()
            if len(rows) <= limit:
                total = len(rows)
            rows = rows[:limit]
        if total is None:
            if not has_version:
                token = None
            elif rows is not None:  # a full first page: the token is its last column
                token = rows[0][-1]
            else:  # read before the COUNT it keys: see ``Totals``
                token = connection.execute(statements.version_read).scalar()
            key = _totals_key(query, token)
            total = TOTALS.get(key) if key is not None else None
            if total is None:
                total = connection.execute(_filtered(statements.count, conditions)).scalar()
                if key is not None:
                    TOTALS.put(key, total)
        if rows is None:
            # A page past the end is known to be empty; the database never sees the offset.
            rows = (
                connection.execute(
                    _filtered(ordered.later, conditions),
                    {ListStatements.LIMIT: limit, ListStatements.OFFSET: offset},
                ).all()
                if offset < total
                else []
            )
    pages = -(-total // limit)
    last = max(pages, 1)
    page_url = _PageUrls()
    links = {
        "self": page_url(page=page),
        "first": page_url(page=1),
        "prev": page_url(page=min(page - 1, last)) if page > 1 else None,
        "next": page_url(page=page + 1) if page < pages else None,
        "last": page_url(page=last),
    }
    body = {
        "data": statements.items.dump(rows),
        "meta": {"page": page, "limit": limit, "total": total, "pages": pages},
        "links": links,
    }
    return body, _link_header(links)


def _cursor_page(statements, ordered, query, conditions):
    limit, keys = query["limit"], ordered.keys
    binding = query_binding(query)
    # One row more than the page says whether another page follows, without a COUNT.
    params = {ListStatements.LIMIT: limit + 1}
    if query["cursor"]:
        values = _decode_cursor(query["cursor"], binding, keys)
        params.update(zip(_AFTER[: len(keys)], values, strict=True))
        statement = ordered.after
    else:
        statement = ordered.cursor
    with read_connection() as connection:
        rows = connection.execute(_filtered(statement, conditions), params).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    # The keys were added last, so a row ends with its position in the order.
    next_cursor = encode_cursor(binding, rows[-1][-len(keys) :]) if has_more else None
    page_url = _PageUrls()
    links = {
        "self": page_url(cursor=query["cursor"]),
        "first": page_url(cursor=""),
        "next": page_url(cursor=next_cursor) if next_cursor else None,
    }
    body = {
        "data": statements.items.dump(rows),
        "meta": {"limit": limit, "next_cursor": next_cursor, "has_more": has_more},
        "links": links,
    }
    return body, _link_header(links)


# The bind parameters of a cursor's position: one per key of the order (at most two).
_AFTER = ("list_after_0", "list_after_1")


def _after(keys, descending):
    """Rows strictly after the position ``_AFTER`` gives, in the list's order."""
    values = [bindparam(name, type_=key.type) for name, key in zip(_AFTER, keys, strict=False)]
    if len(keys) == 1:
        return keys[0] < values[0] if descending else keys[0] > values[0]
    position, last = tuple_(*keys), tuple_(*values)
    return position < last if descending else position > last


class _PageUrls:
    """This list's URL with the caller's filters, for any position (page or cursor).

    ``url_for`` builds the list's own URL once, and the filters are encoded once;
    each link adds its position, encoded as Werkzeug's URL builder encodes a
    query (``QUERY_SAFE``): the same bytes as ``url_for`` with the arguments
    (tests/test_pagination_links.py). The position is never one of the filters,
    so it comes last either way. A numbered page's links measured 60 µs this way
    against 133 µs with one ``url_for`` each, of an uncached page's 1.9 ms
    (PostgreSQL, in-process), before the filters were encoded once per page
    rather than once per link.
    """

    # What Werkzeug leaves unquoted in a built URL's query (the WHATWG's list).
    QUERY_SAFE = "!$'()*,/:;?@"

    def __init__(self):
        base = url_for(request.endpoint, **(request.view_args or {}), _external=True)
        filters = urlencode(
            [(name, value) for name, value in request.args.items() if name not in _SET_BY_LINKS],
            safe=self.QUERY_SAFE,
        )
        self.prefix = f"{base}?{filters}&" if filters else f"{base}?"

    def __call__(self, **position):
        return self.prefix + urlencode(position, safe=self.QUERY_SAFE)


# What a link sets itself (unlike ``_POSITION``, not ``limit``, which links
# carry as the caller sent it): the rest of the query string is kept as it came.
_SET_BY_LINKS = ("page", "cursor")


def _link_header(links):
    """RFC 8288 ``Link`` header for the links a client can follow."""
    parts = [f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel != "self"]
    return {"Link": ", ".join(parts)} if parts else {}


def query_binding(query):
    """A short digest of the filters and order, so a cursor fits only its own query."""
    shape = {name: str(value) for name, value in query.items() if name not in _POSITION}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def _serializer():
    return _serializer_for(current_app.config["SECRET_KEY"])


@functools.cache
def _serializer_for(secret_key):
    """The cursors' serializer for ``secret_key``, built once (a cursor page reads
    one cursor and writes another). SHA-1 is given as hashlib's own function,
    which ``hmac`` runs in OpenSSL; itsdangerous's default, a Python function
    wrapping the same SHA-1, makes ``hmac`` compute it in Python. The cursors
    are the same bytes (tests/test_pagination.py)."""
    return URLSafeSerializer(
        secret_key, salt=CURSOR_SALT, signer_kwargs={"digest_method": hashlib.sha1}
    )


def encode_cursor(binding, values):
    return _serializer().dumps([binding, *(_to_json(value) for value in values)])


def _decode_cursor(cursor, binding, keys):
    try:
        payload = _serializer().loads(cursor)
    except BadSignature:
        raise InvalidCursor() from None
    if not isinstance(payload, list) or len(payload) != len(keys) + 1:
        raise InvalidCursor()
    if payload[0] != binding:
        raise InvalidCursor("The cursor belongs to another query; start again without it.")
    return [_from_json(value, key) for value, key in zip(payload[1:], keys, strict=True)]


def _to_json(value):
    """Keyset values as JSON, exactly: Decimal and datetime travel as strings."""
    if isinstance(value, Decimal | datetime):
        return value.isoformat() if isinstance(value, datetime) else str(value)
    return value


def _from_json(value, key):
    """A keyset value back from the cursor, checked against its column's type."""
    python_type = _python_type(key)
    if python_type in (int, str):
        if type(value) is python_type:  # type(), not isinstance(): True is no id
            return value
        raise InvalidCursor()
    if not isinstance(value, str):
        raise InvalidCursor()
    try:
        parsed = Decimal(value) if python_type is Decimal else datetime.fromisoformat(value)
    except (InvalidOperation, ValueError):
        raise InvalidCursor() from None
    usable = parsed.is_finite() if python_type is Decimal else parsed.tzinfo is not None
    if not usable:
        raise InvalidCursor()
    return parsed


def _python_type(key):
    column_type = key.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    return column_type.python_type
