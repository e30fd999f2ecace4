"""A page's links are the URLs ``url_for`` builds, byte for byte, whatever the filters hold.

``plumbing.pagination`` builds the list's URL once and adds each link's query
string itself; these values are the ones where an encoder could differ.
"""

from urllib.parse import urlencode

import pytest
from flask import url_for

AWKWARD = [
    "plain",
    "two words",
    "a+b&c=d",
    "100% off",
    "snake_case\\path/with?marks",
    "!$'()*,/:;?@",
    '#hash[brackets]{braces}|pipe^caret`tick"quote<>',
    "Zürich ☃ 日本 🙂",
    "~tilde-dash.dot",
]


def _expected(app, path, **args):
    with app.test_request_context(path):
        return url_for("products.list_products", **args, _external=True)


@pytest.mark.parametrize("term", AWKWARD)
def test_numbered_page_links_are_what_url_for_builds(app, client, add_products, term):
    add_products(*({"name": f"{term} {number}"} for number in range(3)))
    query = {"q": term, "limit": 1, "sort": "desc"}
    response = client.get("/api/products?" + urlencode(query, safe=""))
    assert response.status_code == 200, response.get_json()
    links = response.get_json()["links"]
    path = "/api/products"
    assert links == {
        "self": _expected(app, path, **query, page=1),
        "first": _expected(app, path, **query, page=1),
        "prev": None,
        "next": _expected(app, path, **query, page=2),
        "last": _expected(app, path, **query, page=3),
    }
    assert response.headers["Link"] == (
        f'<{links["first"]}>; rel="first", <{links["next"]}>; rel="next", '
        f'<{links["last"]}>; rel="last"'
    )


@pytest.mark.parametrize("term", AWKWARD)
def test_cursor_page_links_are_what_url_for_builds(app, client, add_products, term):
    add_products(*({"name": f"{term} {number}"} for number in range(3)))
    query = {"q": term, "limit": 1}
    first = client.get("/api/products?" + urlencode({**query, "cursor": ""}, safe=""))
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    cursor = body["meta"]["next_cursor"]
    path = "/api/products"
    assert body["links"] == {
        "self": _expected(app, path, **query, cursor=""),
        "first": _expected(app, path, **query, cursor=""),
        "next": _expected(app, path, **query, cursor=cursor),
    }
    second = client.get(body["links"]["next"])
    assert second.status_code == 200
    assert second.get_json()["links"]["self"] == body["links"]["next"]
