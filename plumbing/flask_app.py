"""``ApiFlask``: the service's Flask class, with the per-hook sync check remembered
and one JSON encoder per set of options.

Flask passes every view, ``before_request``, ``after_request`` and teardown
function through ``ensure_sync`` on every call, to run ``async def`` ones on an
event loop; ``inspect.iscoroutinefunction`` unwraps the function each time to
find out (2 to 3 µs a call, 14 calls in an authenticated GET). Whether a
function is a coroutine function never changes, so the answer is kept per
function: a function seen before is looked up, not inspected again. Coroutine
functions, and callables that cannot be dictionary keys, take Flask's own way,
so ``async def`` views still work as Flask documents.

Every JSON body (``jsonify``, a view's dict, ``app.json.dumps``) goes through
``ReusedEncoderJSONProvider``: Flask's own provider, whose ``json.dumps`` with
``default=`` builds a ``json.JSONEncoder`` per call; here one encoder per set of
options is kept. An encoder keeps nothing between calls, so the bytes are the
ones Flask would send (sorting, ``ensure_ascii``, dates, ``Decimal``).

Each blueprint registered is checked by ``view_order.check_views``: a view whose
decorators are out of order stops the app from being built, naming the view.
"""

import inspect
import json

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from .view_order import check_views

# The options of ``json.dumps`` that ``DefaultJSONProvider.response`` passes.
KEPT_OPTIONS = frozenset({"indent", "separators"})


class ReusedEncoderJSONProvider(DefaultJSONProvider):
    """``DefaultJSONProvider`` with its encoders kept, one per set of options.

    The provider's settings are read on each call (``app.json.sort_keys = False``
    after the app is made still counts); a call with other options than those
    ``response`` passes takes Flask's own way.
    """

    def __init__(self, app):
        super().__init__(app)
        self.encoders = {}  # (default, ensure_ascii, sort_keys, indent, separators) -> encoder

    def dumps(self, obj, **kwargs):
        encoder = self.kept_encoder(kwargs)
        if encoder is None:
            return super().dumps(obj, **kwargs)
        return encoder.encode(obj)

    def kept_encoder(self, kwargs):
        """The encoder ``json.dumps`` would make for these options, kept; None
        for options that are not kept."""
        if not kwargs.keys() <= KEPT_OPTIONS:
            return None
        indent, separators = kwargs.get("indent"), kwargs.get("separators")
        options = (self.default, self.ensure_ascii, self.sort_keys, indent, separators)
        try:
            encoder = self.encoders.get(options)
        except TypeError:  # separators given as a list: not a dictionary key
            return None
        if encoder is None:
            encoder = self.encoders[options] = json.JSONEncoder(
                default=self.default,
                ensure_ascii=self.ensure_ascii,
                sort_keys=self.sort_keys,
                indent=indent,
                separators=separators,
            )
        return encoder


class ApiFlask(Flask):
    json_provider_class = ReusedEncoderJSONProvider

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plain_functions = set()  # functions known not to be coroutine functions

    def ensure_sync(self, func):
        try:
            if func in self.plain_functions:
                return func
        except TypeError:  # unhashable callable
            return super().ensure_sync(func)
        if inspect.iscoroutinefunction(func):
            return super().ensure_sync(func)
        self.plain_functions.add(func)
        return func

    def register_blueprint(self, blueprint, **options):
        super().register_blueprint(blueprint, **options)
        check_views(self)
