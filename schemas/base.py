"""A base schema for rules between fields that the OpenAPI document can state too."""

from marshmallow import Schema, ValidationError, validates_schema


class ApiSchema(Schema):
    """``Meta.sent_with_any = {"a": ["b", "c"]}``: ``a`` may only be sent together
    with ``b`` or ``c`` (or both).

    Checked here and documented as JSON Schema ``dependentSchemas`` by
    ``openapi/builder.py``, so the rule is written once.
    """

    @validates_schema
    def check_sent_with_any(self, data, **kwargs):
        for field, companions in getattr(self.Meta, "sent_with_any", {}).items():
            if field in data and not any(name in data for name in companions):
                raise ValidationError(
                    f"Only used together with {' or '.join(companions)}.", field_name=field
                )
