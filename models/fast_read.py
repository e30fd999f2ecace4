"""One-row reads on a pooled DBAPI connection, for the queries nearly every request makes.

Every cached catalog read first reads the catalog version (``models/catalog.py``),
and every authenticated request looks its token up (``web/auth.py``). Through an
ORM session each cost 60 to 100 µs of SQLAlchemy around a statement the database
answers in a few: a session transaction, a ``Connection``, an execution context,
a result object, and closing them again. A ``FastRead`` keeps what the answer
needs:

- the statement, compiled once per dialect with its parameter order;
- the selected columns' own result processors (``TypeEngine.result_processor``),
  so values come back as SQLAlchemy returns them (aware datetimes, booleans on
  SQLite);
- a pooled DBAPI connection, checked out and given back (the pool rolls the read
  back, and pre-pings a connection where the engine is set to);
- the driver's errors raised as SQLAlchemy's (``DBAPIError.instance``), also
  when no connection can be opened (``Engine.raw_connection`` raises the
  driver's own), so a database that goes away is the 503 it is everywhere else;
  and a connection the driver reports lost is discarded, never handed out again.

When anything listens to the engine's statements (the SQL spans of traces,
``web/tracing.py``; a test counting queries), the read goes through a
``Connection`` instead, so that every listener sees it as it sees any other
query; the shortcut is only taken when nobody would notice.

Parameters go to the driver as they are: use it for keys that need no
conversion (strings, integers). The read runs in a transaction of its own,
outside the request's session; on SQLite every SELECT sees the latest commit and
on PostgreSQL (READ COMMITTED) every statement does, so it sees what a query
through the session would have seen.
"""

from sqlalchemy.exc import DBAPIError


class FastRead:
    """``FastRead(select(...)).first(engine, **params)``: the first row, or ``None``."""

    def __init__(self, statement):
        self.statement = statement
        self._by_dialect = {}

    def first(self, engine, **params):
        """The first row as a tuple of processed values, or ``None``."""
        dispatch = engine.dispatch
        if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
            with engine.connect() as connection:
                row = connection.execute(self.statement, params).first()
            return None if row is None else tuple(row)
        sql, names, defaults, processors = self._compiled(engine.dialect)
        values = {**defaults, **params}
        arguments = [values[name] for name in names] if names is not None else values
        try:
            connection = engine.raw_connection()
        except engine.dialect.loaded_dbapi.Error as error:  # no connection to be had
            raise _as_sqlalchemy_error(engine, None, sql, error) from error
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, arguments)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as error:
            raise _as_sqlalchemy_error(engine, connection, sql, error) from error
        finally:
            connection.close()  # back to the pool, which rolls the read back
        if row is None:
            return None
        return tuple(
            value if process is None else process(value)
            for value, process in zip(row, processors, strict=True)
        )

    def _compiled(self, dialect):
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            names = list(compiled.positiontup) if compiled.positional else None
            processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            ]
            found = (compiled.string, names, compiled.params, processors)
            self._by_dialect[dialect.name] = found
        return found


def _as_sqlalchemy_error(engine, connection, sql, error):
    dialect = engine.dialect
    driver_connection = connection.dbapi_connection if connection is not None else None
    lost = dialect.is_disconnect(error, driver_connection, None)
    if lost and connection is not None:
        connection.invalidate(error)
    return DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    )
