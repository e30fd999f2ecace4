"""``ApiFlask``: the service's Flask class, with the per-hook sync check remembered.

Flask passes every view, ``before_request``, ``after_request`` and teardown
function through ``ensure_sync`` on every call, to run ``async def`` ones on an
event loop; ``inspect.iscoroutinefunction`` unwraps the function each time to
find out (2 to 3 µs a call, 14 calls in an authenticated GET). Whether a
function is a coroutine function never changes, so the answer is kept per
function: a function seen before is looked up, not inspected again. Coroutine
functions, and callables that cannot be dictionary keys, take Flask's own way,
so ``async def`` views still work as Flask documents.

Each blueprint registered is checked by ``view_order.check_views``: a view whose
decorators are out of order stops the app from being built, naming the view.
"""

import inspect

from flask import Flask

from .view_order import check_views


class ApiFlask(Flask):
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
