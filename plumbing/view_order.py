"""The decorators a view carries, the one order they go in, and the check that
refuses any other order when a blueprint is registered (so ``create_app`` fails).

A view reads, top to bottom::

    @bp.post("")                          # 1. the route
    @role_required("editor", "admin")     # 2. @cached, or the auth decorator
    @idempotent                           # 3. @idempotent
    @doc(..., idempotent=True)            # marks: @doc and a rate limit
    def create_product(): ...

Why this order, and what is refused (``ViewOrderError``, naming the view):

- The route on top: ``@bp.get`` registers the function it is given, so a
  decorator above it wraps a function the app never calls: an auth decorator
  there would silently not run. Found by the view's module-level name being
  bound to a wrapper of the registered function.
- The wrappers below it, outermost first: ``@cached``, the auth decorator
  (``@login_required`` / ``@role_required``), ``@idempotent``. ``@cached`` and an
  auth decorator never go together: a cached answer is keyed by the address
  only, so it would be served to the next caller whoever that is. The auth
  decorator goes above ``@idempotent``: a replay skips everything below
  ``@idempotent``, and must only be sent to a caller the view would accept.
- ``@idempotent`` and ``@doc(..., idempotent=True)`` together or not at all: the
  document promises the header, 409 and 422 the wrapper answers. An idempotent
  view documents no query string: its wrapper refuses query parameters itself
  before a replay, which skips the view's own ``parse_no_query()``.
- Marks (``@doc``, a rate limit such as ``@login_limit``) set an attribute and
  return the function itself; ``functools.wraps`` copies it outward, so they
  may go anywhere below the route. By convention a rate limit sits right under
  the route and ``@doc`` last, just above the function.

Each wrapper records itself with ``record_layer``; the check reads the record
from the registered view, so a wrapper of another library (``functools.wraps``
copies the record) changes nothing.
"""

import sys

CACHED = "@cached"
AUTH = "the auth decorator (@login_required / @role_required)"
IDEMPOTENT = "@idempotent"
WRAPPERS = (CACHED, AUTH, IDEMPOTENT)  # outermost first

ORDER = (
    "the route (@bp.get / @bp.post / @bp.route ...) on top, then @cached or the auth "
    "decorator (@login_required / @role_required), then @idempotent; @doc and a rate "
    "limit anywhere below the route (docs/adding-a-resource.md)"
)


class ViewOrderError(TypeError):
    """A view's decorators are in an order that would not work as they read."""


def record_layer(wrapper, view, layer):
    """Note on ``wrapper`` (made with ``functools.wraps(view)``) that it is
    ``layer``, above whatever ``view`` already carries; returns ``wrapper``."""
    wrapper.view_layers = (layer, *getattr(view, "view_layers", ()))
    return wrapper


def check_views(app):
    """Raise ``ViewOrderError`` for the first view of ``app`` whose decorators are
    out of order; called each time a blueprint is registered."""
    for endpoint, view in app.view_functions.items():
        problem = _problem(view)
        if problem:
            name = f"{getattr(view, '__module__', '?')}.{getattr(view, '__name__', '?')}"
            raise ViewOrderError(f"view {endpoint} ({name}): {problem}. The order: {ORDER}.")


def _problem(view):
    if _wrapped_above_route(view):
        return "a decorator above the route wraps a function the app never calls"
    layers = getattr(view, "view_layers", ())
    for layer in layers:
        if layers.count(layer) > 1:
            return f"{layer} is applied twice"
    if CACHED in layers and AUTH in layers:
        return "@cached together with an auth decorator would serve one caller's answer to another"
    if [WRAPPERS.index(layer) for layer in layers] != sorted(
        WRAPPERS.index(layer) for layer in layers
    ):
        shown = ", then ".join(layers)
        return f"its wrappers run in the order {shown}"
    api_doc = getattr(view, "api_doc", None)
    documented = bool(api_doc and api_doc.idempotent)
    if documented != (IDEMPOTENT in layers):
        return "@idempotent and @doc(..., idempotent=True) go together"
    if documented and api_doc.query is not None:
        return "an @idempotent view takes no query parameters (a replay refuses them)"
    return None


def _wrapped_above_route(view):
    """True when the view's module-level name is bound to a wrapper (through
    ``__wrapped__``) of the registered function rather than to that function."""
    module = sys.modules.get(getattr(view, "__module__", None) or "")
    outer = getattr(module, getattr(view, "__name__", ""), None)
    if outer is view:
        return False
    inner = getattr(outer, "__wrapped__", None)
    while inner is not None:
        if inner is view:
            return True
        inner = getattr(inner, "__wrapped__", None)
    return False
