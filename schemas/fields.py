"""Field types shared by the schemas: stricter than marshmallow's defaults where
silent coercion would lose data (4.7 is not the integer 4).

Each is written on marshmallow's public API only: it overrides the public
``Field.deserialize`` (and ``Field.serialize``), turns a present value into what
its marshmallow base expects, and leaves everything else to that base, so the
rules for a missing value, ``None``, defaults and validators stay marshmallow's
own. ``_deserialize`` / ``_serialize`` are not overridden: the service touches no
name of another library that starts with an underscore. A field whose output is
formatted (``Price``, ``UTCDateTime``) also has a public ``dump_value(value)``,
the formatting of one non-null value, which its ``serialize`` calls: code that
formats many stored values (the product export) calls it directly instead of
going through ``serialize`` per value.

A field whose rules JSON Schema cannot read off its marshmallow base states them
itself in ``openapi_rules(ret)``: ``ret`` is what apispec derived, the method
returns keys to add (and may drop derived ones that would be wrong). The OpenAPI
builder calls it for every field that has it, so a new field type needs no edit
anywhere else.
"""

import numbers
import re
from datetime import UTC
from decimal import Decimal

from marshmallow import fields, missing, validate

import emails
from models.base import CENT
from schemas.patterns import (
    PRICE_PATTERN,
    id_list_pattern,
    trimmed_length_pattern,
)

# A field converts only a value that was sent and is not null (``value is not
# missing and value is not None``, written out in each: a call costs more than
# the test); a missing value or None goes to marshmallow's own rules unchanged.


def _dumped(field, attr, obj, accessor):
    """The value ``field`` dumps, read as marshmallow's ``Field.serialize`` reads it:
    a missing attribute gives the field's ``dump_default``, or stays ``missing``
    (the key is left out)."""
    value = field.get_value(obj, attr, accessor=accessor)
    if value is missing:
        default = field.dump_default
        value = default() if callable(default) else default
    return value


class TrimmedString(fields.String):
    """A string with surrounding white space removed before it is validated."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str):
            value = value.strip()
        return super().deserialize(value, attr, data, **kwargs)

    def openapi_rules(self, ret):
        # The length limits apply after trimming, so minLength / maxLength on the
        # raw string would be wrong both ways (" " is too short, 100 letters with
        # a space around them are fine); a pattern says it exactly.
        if self.dump_only:
            return {}
        minimum, maximum = ret.pop("minLength", 0), ret.pop("maxLength", None)
        return {
            "pattern": trimmed_length_pattern(minimum, maximum),
            "description": "Surrounding white space is trimmed before the length is checked.",
        }


class Email(fields.Email):
    """An email address, trimmed and lower-cased, at most 254 characters.

    By default one an account may have (``emails.is_account_address``: ASCII, no
    quoted local part), for every address the service stores. ``lookup=True`` is
    for an address only looked up (login, password reset): one no account may
    have is not refused but left as sent (not lower-cased), and finds nobody.
    """

    default_error_messages = {"not_account_address": emails.NOT_AN_ACCOUNT_ADDRESS}

    def __init__(self, *, lookup=False, **kwargs):
        super().__init__(validate=validate.Length(max=emails.MAX_LENGTH), **kwargs)
        self.lookup = lookup

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str):
            value = value.strip()
            # Only ASCII is lower-cased: str.lower turns some other letters into
            # ASCII ones (the Kelvin sign into "k"), which would make a refused
            # or unknown address someone else's.
            if emails.is_account_address(value):
                value = value.lower()
            elif not self.lookup:
                raise self.make_error("not_account_address")
        return super().deserialize(value, attr, data, **kwargs)

    def openapi_rules(self, ret):
        description = "Trimmed and lower-cased before it is checked and stored."
        if self.lookup:
            return {
                "description": f"{description} An address with a non-ASCII character or a "
                "quoted local part belongs to no account."
            }
        # JSON Schema's "email" format is RFC 5321's ASCII address already (its
        # internationalised sibling is "idn-email"); a quoted local part, which
        # that format allows, is refused as the description says.
        return {"description": f"{description} ASCII only, without a quoted local part."}


class StrictInteger(fields.Integer):
    """A JSON integer; numbers with a fraction, strings and booleans are refused."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    # JSON numbers with a fraction part arrive as Decimal (see validation.py).
    # 4.0 is the integer 4; an exponent this large is no id or rating, and int()
    # of 1e999999999 would take forever.
    MAX_EXPONENT = 18

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is not missing and value is not None:
            if isinstance(value, Decimal) and value.is_finite():
                if value != value.to_integral_value() or value.adjusted() > self.MAX_EXPONENT:
                    raise self.make_error("invalid")
                value = int(value)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise self.make_error("invalid")
        return super().deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON ``true`` or ``false`` and nothing else.

    Checked by type: ``0 in {False}`` is true in Python, so sets of allowed
    values alone would let ``0``, ``1`` and ``1.0`` through.
    """

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is not missing and value is not None and not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        # marshmallow's Boolean returns True and False as they are
        return super().deserialize(value, attr, data, **kwargs)


class UTCDateTime(fields.DateTime):
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2026-01-31T09:15:00.123Z``."""

    def serialize(self, attr, obj, accessor=None, **kwargs):
        value = _dumped(self, attr, obj, accessor)
        return value if value is missing or value is None else self.dump_value(value)

    # What ``value.astimezone(UTC).isoformat(timespec="milliseconds")`` writes,
    # with ``Z`` for ``+00:00``, put together from the value's fields: half the
    # CPU of isoformat and replace, which matters in the export (two timestamps
    # per row, a million rows). tests/test_export.py checks it against isoformat.
    ISO_MILLISECONDS_Z = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"

    @classmethod
    def dump_value(cls, value):
        """``value`` (an aware datetime) as a response shows it; the product export
        calls this per cell, so both show a timestamp the same way."""
        utc = value.astimezone(UTC)
        return cls.ISO_MILLISECONDS_Z % (
            utc.year,
            utc.month,
            utc.day,
            utc.hour,
            utc.minute,
            utc.second,
            utc.microsecond // 1000,  # isoformat cuts to milliseconds, never rounds
        )

    def openapi_rules(self, ret):
        return {"description": "ISO 8601 in UTC with a Z suffix.", "pattern": r"Z$"}


class QueryInteger(fields.Integer):
    """An integer written in ASCII digits, as query strings carry them.

    ``int()`` alone would take ``" 1_0"`` or other scripts' digits; the length
    bound keeps absurd values from becoming huge numbers.
    """

    MAX_DIGITS = 18
    PATTERN = re.compile(f"-?[0-9]{{1,{MAX_DIGITS}}}")

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is not missing and value is not None:
            if not isinstance(value, str) or not self.PATTERN.fullmatch(value):
                raise self.make_error("invalid")
            value = int(value)  # an int, which marshmallow's Integer keeps as it is
        return super().deserialize(value, attr, data, **kwargs)

    def openapi_rules(self, ret):
        # Longer digit strings are refused rather than read as huge numbers.
        largest = 10**self.MAX_DIGITS - 1
        ret["maximum"] = min(ret.get("maximum", largest), largest)
        ret["minimum"] = max(ret.get("minimum", -largest), -largest)
        return {}


class Price(fields.Field):
    """An amount from 0 to 1000000 with at most two decimal places.

    Accepted as a decimal string (``"12.50"``) or a JSON number, and always
    returned as a string with two places (``"5"`` comes back ``"5.00"``).
    Exponents, ``NaN``, ``Infinity``, thousands separators and booleans are refused.
    """

    MAXIMUM = Decimal(1_000_000)
    PATTERN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
    default_error_messages = {
        "invalid": 'Not a valid amount; send a decimal string such as "12.50".',
        "range": "Must be between 0 and 1000000.",
        "places": "At most two decimal places.",
    }

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is not missing and value is not None:
            value = self.amount(value)
        # Field's own conversion keeps the Decimal as it is; validators run after
        return super().deserialize(value, attr, data, **kwargs)

    def amount(self, value):
        """The Decimal a sent value stands for, or the field's error."""
        if isinstance(value, str):
            text = value.strip()
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            # JSON numbers arrive as int or exact Decimal (see validation.py);
            # str() of a Decimal with an exponent ("1E+2") fails the pattern below.
            text = str(value)
        else:
            raise self.make_error("invalid")
        if not self.PATTERN.fullmatch(text):
            raise self.make_error("invalid")
        amount = Decimal(text)
        if not 0 <= amount <= self.MAXIMUM:
            raise self.make_error("range")
        if amount != amount.quantize(CENT):
            raise self.make_error("places")
        return amount.quantize(CENT).copy_abs()  # copy_abs: "-0" is 0.00

    def serialize(self, attr, obj, accessor=None, **kwargs):
        value = _dumped(self, attr, obj, accessor)
        return value if value is missing or value is None else self.dump_value(value)

    @staticmethod
    def dump_value(value):
        """``value`` (a Decimal) as a response shows it; the product export calls
        this per cell, so both show an amount the same way."""
        return f"{value:.2f}"

    def openapi_rules(self, ret):
        """A string in requests and responses; a request body may send a JSON
        number instead, so only query parameters (always strings) leave it out."""
        rules = {
            "pattern": PRICE_PATTERN,
            "description": "A decimal amount from 0 to 1000000 with at most two decimal places, "
            'such as "12.50"; always returned as a string with two places.',
        }
        if self.dump_only or getattr(self.parent, "from_query_string", False):
            return {**rules, "type": "string"}
        rules["description"] += " A JSON number is accepted too."
        return {
            **rules,
            "type": ["string", "number"],
            "minimum": 0,
            "maximum": int(self.MAXIMUM),
            "multipleOf": 0.01,
        }


class IdList(fields.Field):
    """Comma-separated positive integer ids, e.g. ``1,2,3``; order kept."""

    default_error_messages = {
        "invalid": "Must be comma-separated positive integer ids, such as 1,2,3.",
        "too_many": "At most {maximum} ids.",
    }

    MAX_DIGITS = 18  # no id has more; int() of a huge digit string is slow

    def __init__(self, *, maximum, **kwargs):
        super().__init__(**kwargs)
        self.maximum = maximum

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is not missing and value is not None:
            value = self.ids(value)
        return super().deserialize(value, attr, data, **kwargs)  # Field's keeps the list

    def ids(self, value):
        """The ids a sent value lists, in order, or the field's error."""
        if not isinstance(value, str):
            raise self.make_error("invalid")
        parts = [part.strip() for part in value.split(",")]
        if len(parts) > self.maximum:
            raise self.make_error("too_many", maximum=self.maximum)
        well_formed = (
            part.isascii() and part.isdigit() and len(part) <= self.MAX_DIGITS for part in parts
        )
        if not all(well_formed):
            raise self.make_error("invalid")
        ids = [int(part) for part in parts]
        if 0 in ids:
            raise self.make_error("invalid")
        return ids

    def openapi_rules(self, ret):
        return {"type": "string", "pattern": id_list_pattern(self.maximum, self.MAX_DIGITS)}
