"""Marshmallow schemas: request validation and response shapes."""
