"""A view whose decorators are out of order stops the app from being built.

Each blueprint below holds one view in one wrong order, defined at module level
as a resource's views are; registering it (what ``create_app`` does for every
blueprint) raises ``ViewOrderError`` naming the view and the right order. The
order itself is in ``plumbing/view_order.py`` and docs/adding-a-resource.md.
"""

import pytest
from flask import Blueprint

from auth.access import login_required, role_required
from features.idempotency import idempotent
from features.rate_limits import feedback_limit
from features.server_cache import cached
from openapi import doc
from plumbing.flask_app import ApiFlask
from plumbing.view_order import ORDER, ViewOrderError, check_views
from schemas.pagination import ListQuerySchema

auth_above_route = Blueprint("auth_above_route", __name__)


@login_required
@auth_above_route.get("/secret")
@doc(status=204)
def secret():
    """Never protected: the route registered the function below the auth decorator."""


idempotent_above_auth = Blueprint("idempotent_above_auth", __name__)


@idempotent_above_auth.post("/things")
@idempotent
@role_required("admin")
@doc(status=204, idempotent=True)
def replayed_to_anyone():
    """A replay would skip the role check."""


cached_above_auth = Blueprint("cached_above_auth", __name__)


@cached_above_auth.get("/mine")
@cached("catalog")
@login_required
@doc(status=204)
def cached_for_everyone():
    """A cached answer would skip the auth decorator."""


auth_above_cached = Blueprint("auth_above_cached", __name__)


@auth_above_cached.get("/mine")
@login_required
@cached("catalog")
@doc(status=204)
def cached_per_address():
    """One caller's cached answer would be served to the next."""


idempotent_above_cached = Blueprint("idempotent_above_cached", __name__)


@idempotent_above_cached.post("/things")
@idempotent
@cached("catalog")
@doc(status=204, idempotent=True)
def claims_skip_the_cache():
    """Wrappers in the wrong order."""


twice = Blueprint("twice", __name__)


@twice.get("/me")
@login_required
@login_required
@doc(status=204)
def checked_twice():
    """The same wrapper twice."""


idempotent_undocumented = Blueprint("idempotent_undocumented", __name__)


@idempotent_undocumented.post("/things")
@idempotent
@doc(status=204)
def undocumented_key():
    """Honours Idempotency-Key, but the document does not say so."""


documented_not_idempotent = Blueprint("documented_not_idempotent", __name__)


@documented_not_idempotent.post("/things")
@doc(status=204, idempotent=True)
def promised_key():
    """The document promises Idempotency-Key; nothing honours it."""


idempotent_with_query = Blueprint("idempotent_with_query", __name__)


@idempotent_with_query.post("/things")
@idempotent
@doc(status=204, idempotent=True, query=ListQuerySchema())
def replay_with_query():
    """A replay refuses query parameters this view documents."""


marks_anywhere = Blueprint("marks_anywhere", __name__)


@doc(status=204, idempotent=True)
@marks_anywhere.post("/things")
@feedback_limit
@role_required("admin")
@idempotent
def marks_above_and_between():
    """@doc above the route and a rate limit between it and the wrappers: both
    only mark the function, so this order works and is accepted."""


MISORDERED = [
    (auth_above_route, "secret", "a decorator above the route"),
    (idempotent_above_auth, "replayed_to_anyone", "its wrappers run in the order @idempotent"),
    (cached_above_auth, "cached_for_everyone", "@cached together with an auth decorator"),
    (auth_above_cached, "cached_per_address", "@cached together with an auth decorator"),
    (idempotent_above_cached, "claims_skip_the_cache", "its wrappers run in the order"),
    (twice, "checked_twice", "is applied twice"),
    (idempotent_undocumented, "undocumented_key", "go together"),
    (documented_not_idempotent, "promised_key", "go together"),
    (idempotent_with_query, "replay_with_query", "takes no query parameters"),
]


@pytest.mark.parametrize(
    ("blueprint", "view", "problem"), MISORDERED, ids=[case[1] for case in MISORDERED]
)
def test_a_misordered_view_stops_the_build(blueprint, view, problem):
    app = ApiFlask(__name__)
    with pytest.raises(ViewOrderError) as raised:
        app.register_blueprint(blueprint)
    message = str(raised.value)
    assert f"view {blueprint.name}.{view} (tests.test_view_order.{view})" in message
    assert problem in message
    assert ORDER in message


def test_marks_may_go_anywhere_below_or_above_the_route():
    app = ApiFlask(__name__)
    app.register_blueprint(marks_anywhere)
    view = app.view_functions["marks_anywhere.marks_above_and_between"]
    assert view.api_doc.idempotent
    assert view.rate_limit is feedback_limit


def test_the_service_s_own_views_are_in_order(app):
    check_views(app)  # create_app ran it for each blueprint; it still passes
    layers = {
        endpoint: getattr(view, "view_layers", ()) for endpoint, view in app.view_functions.items()
    }
    assert layers["products.create_product"] == (
        "the auth decorator (@login_required / @role_required)",
        "@idempotent",
    )
    assert layers["products.get_product"] == ("@cached",)
