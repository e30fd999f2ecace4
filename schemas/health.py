"""What the liveness and readiness probes answer."""

from marshmallow import Schema, fields, validate


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.Equal("ok"))


class ReadinessSchema(HealthSchema):
    database = fields.String(required=True, validate=validate.Equal("ok"))
