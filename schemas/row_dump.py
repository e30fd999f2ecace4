"""Plain database rows dumped as ``schema.dump`` dumps them, without marshmallow per value.

``RowDump(schema, columns)`` is bound to a schema and to the columns of the rows
it will get (a statement's ``selected_columns``, in row order); ``dump(rows)``
then gives the list ``schema.dump`` gives for mappings of those rows, key for
key and value for value, ``dump_one(row)`` the same for one row, and
``shown_columns(rows)`` the same values column by column (the product export
formats them that way). ``dump_object(obj)`` dumps one object whose attributes
are named and typed as the columns (the caller as its token lookup read it,
``auth.access.Caller``, shown by ``GET /api/auth/me`` and ``GET /api/users/{id}``).

marshmallow's ``Schema.dump`` calls ``Field.serialize`` for every value (with
its attribute lookup, its default and missing checks): for a page of 20 products
2.0 M instructions under callgrind, nearly a third of an uncached list page
(6.8 M). This dump of the same rows costs 0.67 M, four fifths of it the two
timestamps' formatting (``UTCDateTime.dump_value``; ``isoformat`` variants
measured 15 to 70 % dearer per value). Here
each field is looked at once, when the dump is bound, and shows a stored value by:

- its own ``dump_value(value)`` where it has one (``schemas.fields.Price`` and
  ``UTCDateTime``: the function their ``serialize`` calls for a non-null value);
- nothing at all where marshmallow would return the stored value unchanged: a
  ``String`` of a text column, an ``Integer`` (not ``as_string``) of an integer
  column, a ``Boolean`` (marshmallow 4 dumps any value of it as it is) or a
  plain ``Field``;
- otherwise its own ``serialize``, called as ``Schema.dump`` calls it (with the
  row as a mapping and the schema's ``get_attribute``), so any other field shows
  exactly what marshmallow shows, only not faster.

None stays None, as every field above dumps it. This relies on fields keeping
marshmallow's serialization rules as public ``serialize`` / ``dump_value``
(``schemas/fields.py`` overrides nothing else), and on the schema having no
``pre_dump`` / ``post_dump`` hook (none of the service's has). tests/
test_row_dump.py checks the result against ``schema.dump`` for awkward values.
"""

import operator
from dataclasses import dataclass

from marshmallow import fields, missing

# Field types whose serialize returns a stored value of this Python type as it is.
_UNCHANGED = ((fields.String, str), (fields.Integer, int))


@dataclass(frozen=True)
class ShownField:
    """How one of the schema's fields shows the stored value at ``index`` of a row.

    ``dump``: stored value (never None) -> shown value, or None when the value is
    shown as stored; ``shown_type``: the type of every non-null shown value where
    it is known (``str``, ``int``), else None; ``nullable``: whether the column may
    hold None (if not, a column of values is mapped with no per-value test).
    ``by_row``: the field's own ``serialize`` of the whole row (the general case).
    """

    key: str
    index: int
    dump: object
    shown_type: type | None
    nullable: bool
    by_row: bool = False


def _python_type(column):
    try:
        return column.type.python_type
    except (AttributeError, NotImplementedError):
        return None


def _shown_field(schema, name, field, names, columns):
    key = field.data_key if field.data_key is not None else name
    attribute = field.attribute if field.attribute is not None else name
    index = names.index(attribute) if attribute in names else None  # the first of that key
    overridden = type(field).serialize is not fields.Field.serialize
    if index is not None:
        column = columns[index]
        stored_type = _python_type(column)
        nullable = getattr(column, "nullable", True)
        if callable(getattr(field, "dump_value", None)):
            # Price and UTCDateTime: always a text (schemas/fields.py).
            return ShownField(key, index, field.dump_value, str, nullable)
        if not overridden:
            if type(field) is fields.Field or isinstance(field, fields.Boolean):
                return ShownField(key, index, None, stored_type, nullable)
            for field_type, python_type in _UNCHANGED:
                if isinstance(field, field_type) and stored_type is python_type:
                    if field_type is fields.Integer and field.as_string:
                        break
                    return ShownField(key, index, None, python_type, nullable)

    def dump(row):
        return field.serialize(name, row, accessor=schema.get_attribute)

    return ShownField(key, index, dump, None, nullable=True, by_row=True)


class RowDump:
    """``schema``'s dump of rows whose values are those of ``columns``, in that order.

    ``columns`` are SQLAlchemy column expressions (``statement.selected_columns``):
    a field finds its column by key, and a column's type and nullability choose
    how its values are shown. Rows are tuples (SQLAlchemy ``Row`` objects); extra
    columns after or between the fields' are ignored.
    """

    def __init__(self, schema, columns):
        columns = list(columns)
        self.names = [getattr(column, "key", None) for column in columns]
        self.fields = [
            _shown_field(schema, name, field, self.names, columns)
            for name, field in schema.dump_fields.items()
        ]
        self.keys = [shown.key for shown in self.fields]
        self._by_row = any(shown.by_row for shown in self.fields)
        # For dump_object: an object's values of the columns, in row order (only
        # columns with a key name an attribute).
        keyed = self.names and all(isinstance(name, str) for name in self.names)
        self._values_of = operator.attrgetter(*self.names) if keyed else None

    def dump(self, rows):
        """``schema.dump(rows, many=True)`` for the rows as mappings of their columns."""
        if not rows:
            return []
        values = zip(*self.shown_columns(rows), strict=True)
        keys = self.keys
        if not self._by_row:
            return [dict(zip(keys, shown, strict=True)) for shown in values]
        # A field's own serialize may leave its key out (``missing``), as in marshmallow.
        return [
            {key: value for key, value in zip(keys, shown, strict=True) if value is not missing}
            for shown in values
        ]

    def dump_one(self, row):
        """``schema.dump(row)`` for one row as a mapping of its columns."""
        if self._by_row:
            return self.dump([row])[0]
        shown = {}
        for field in self.fields:
            value = row[field.index]
            shown[field.key] = value if field.dump is None or value is None else field.dump(value)
        return shown

    def dump_object(self, obj):
        """``schema.dump(obj)`` for an object whose attributes are the columns' keys,
        holding values of the columns' types (a dataclass of a row's columns)."""
        if self._values_of is None:
            raise TypeError("dump_object needs columns that each have a key")
        values = self._values_of(obj)  # a tuple, but for a single column its value
        return self.dump_one(values if len(self.names) > 1 else (values,))

    def shown_columns(self, rows):
        """One list per field (in the schema's order) of the values ``dump`` shows."""
        stored = list(zip(*rows, strict=True))
        mappings = (
            [dict(zip(self.names, row, strict=True)) for row in rows] if self._by_row else None
        )
        return [self._column(shown, stored, mappings) for shown in self.fields]

    @staticmethod
    def _column(shown, stored, mappings):
        if shown.by_row:
            return list(map(shown.dump, mappings))
        values = stored[shown.index]
        if shown.dump is None:
            return values
        if not shown.nullable:
            return list(map(shown.dump, values))
        return [None if value is None else shown.dump(value) for value in values]
