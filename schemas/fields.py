"""Field types shared by the schemas: stricter than marshmallow's defaults where
silent coercion would lose data (4.7 is not the integer 4)."""

import numbers
from datetime import UTC

from marshmallow import fields


class TrimmedString(fields.String):
    """A string with surrounding white space removed before it is validated."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class NormalizedEmail(fields.Email):
    """An email address, trimmed and lower-cased before it is validated."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


class StrictInteger(fields.Integer):
    """A JSON integer; numbers with a fraction, strings and booleans are refused."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictBoolean(fields.Boolean):
    """A JSON ``true`` or ``false`` and nothing else.

    Checked by type: ``0 in {False}`` is true in Python, so sets of allowed
    values alone would let ``0``, ``1`` and ``1.0`` through.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class UTCDateTime(fields.DateTime):
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2026-01-31T09:15:00.123Z``."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
