"""A base schema for rules between fields that the OpenAPI document can state too."""

from marshmallow import Schema, ValidationError, validates_schema


class ApiSchema(Schema):
    """``Meta.dependent_required = {"a": ["b"]}``: ``a`` may only be sent with ``b``.

    Checked here and documented as JSON Schema ``dependentRequired`` by
    ``openapi/builder.py``, so the rule is written once.
    """

    @validates_schema
    def check_dependent_required(self, data, **kwargs):
        for field, needed in getattr(self.Meta, "dependent_required", {}).items():
            if field in data and not all(name in data for name in needed):
                raise ValidationError(
                    f"Only used together with {', '.join(needed)}.", field_name=field
                )
