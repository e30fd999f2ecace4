"""What ``GET /api/config`` tells clients (only dumped; ``required`` documents that
every field is always there)."""

from marshmallow import Schema, fields, validate


class PaginationSettingsSchema(Schema):
    default_limit = fields.Integer(required=True, validate=validate.Range(min=1))
    max_limit = fields.Integer(required=True, validate=validate.Range(min=1))


class ClientConfigSchema(Schema):
    app_name = fields.String(required=True)
    version = fields.String(required=True)
    registration_open = fields.Boolean(required=True)
    pagination = fields.Nested(PaginationSettingsSchema, required=True)
