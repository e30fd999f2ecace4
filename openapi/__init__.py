"""The OpenAPI document: what views declare (``doc``) and how it is built.

- ``declare``: ``@doc(...)`` and ``ApiDoc``, what a view states about itself;
- ``components``: headers, parameters and the security scheme shared by operations;
- ``patterns``: JSON Schema patterns the custom fields use for their own rules;
- ``builder``: walks the URL map and turns each declared view into an operation.
"""

from .builder import build_document
from .declare import ApiDoc, doc

__all__ = ["ApiDoc", "build_document", "doc"]
