"""The RFC 9457 problem details body that ``errors.problem_response`` sends."""

from marshmallow import Schema, fields, validate


class ProblemSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("about:blank"))
    title = fields.String(required=True, metadata={"description": "The HTTP reason phrase."})
    status = fields.Integer(required=True, validate=validate.Range(min=400, max=599))
    detail = fields.String(required=True, metadata={"description": "A human sentence."})
    code = fields.String(required=True, metadata={"description": "The stable machine code."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation only: messages by field or dotted path."},
    )
    request_id = fields.String(required=True)
