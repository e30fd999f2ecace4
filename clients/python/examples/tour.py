"""A tour of the API through the generated Python client: log in, refresh, walk
the product list by cursor, create a product safely retryable with an
Idempotency-Key, and read a problem+json error as a typed value.

    python clients/python/examples/tour.py http://127.0.0.1:5000

with ``flask_api_client`` installed (``pip install ./clients/python``) or on
``PYTHONPATH``. API_EMAIL and API_PASSWORD name an editor (default: the demo
editor of ``python3 dev.py serve``). tests/test_clients.py runs it against a
live server.
"""

import os
import sys
import uuid

from flask_api_client import AuthenticatedClient, Client
from flask_api_client.api.auth import auth_login, auth_me, auth_refresh
from flask_api_client.api.products import products_create_product, products_list_products
from flask_api_client.models import Login, Problem, ProductCursorPage, ProductInput, Refresh, Token


def describe(problem: Problem) -> str:
    return f"{problem.status} {problem.code}: {problem.detail}"


def tour(base_url: str, email: str, password: str) -> None:
    public = Client(base_url=base_url, raise_on_unexpected_status=True)

    # Log in: the parsed answer is a Token on success, a Problem otherwise.
    login = auth_login.sync(client=public, body=Login(email=email, password=password))
    if not isinstance(login, Token):
        raise SystemExit(f"login failed: {describe(login)}")
    print(f"logged in; the access token lasts {login.expires_in} s")

    # Refresh: a refresh token works once and comes back replaced.
    refreshed = auth_refresh.sync(client=public, body=Refresh(refresh_token=login.refresh_token))
    if not isinstance(refreshed, Token):
        raise SystemExit(f"refresh failed: {describe(refreshed)}")
    assert refreshed.refresh_token != login.refresh_token
    api = AuthenticatedClient(
        base_url=base_url, token=refreshed.access_token, raise_on_unexpected_status=True
    )
    me = auth_me.sync(client=api)
    assert not isinstance(me, Problem) and me.email == email
    print(f"refreshed; still {me.email} ({me.role.value})")

    # The product list, two pages by cursor: cursor="" asks for the first page.
    seen = []
    cursor = ""
    for page in (1, 2):
        listed = products_list_products.sync(client=public, cursor=cursor, limit=2)
        if not isinstance(listed, ProductCursorPage):
            raise SystemExit(f"list failed: {listed}")
        seen += [product.id for product in listed.data]
        print(f"page {page}: {', '.join(product.name for product in listed.data)}")
        if not listed.meta.has_more:
            break
        cursor = listed.meta.next_cursor
    assert len(set(seen)) == len(seen), "no product twice across pages"

    # Create a product with an Idempotency-Key: sending the same request again (a
    # retry after a timeout, say) replays the first answer and creates nothing more.
    key = str(uuid.uuid4())
    body = ProductInput(name="Brass lamp", price="49.5", category="lighting")
    created = products_create_product.sync_detailed(client=api, body=body, idempotency_key=key)
    if created.status_code != 201 or isinstance(created.parsed, Problem):
        raise SystemExit(f"create failed: {created.parsed}")
    assert created.parsed.price == "49.50", "prices come back with two places"
    retried = products_create_product.sync_detailed(client=api, body=body, idempotency_key=key)
    assert retried.headers.get("Idempotent-Replayed") == "true", "the retry is a replay"
    assert retried.parsed.id == created.parsed.id, "the retry names the same product"
    print(f"created product {created.parsed.id} once, at {created.parsed.price}")

    # A problem+json error is a typed value: `code` is the stable machine name and
    # `errors` names each field that failed.
    refused = products_create_product.sync(
        client=api, body=ProductInput(name="", price="cheap", category="lighting")
    )
    assert isinstance(refused, Problem), "an invalid product is refused"
    assert refused.status == 400 and refused.code == "VALIDATION_ERROR", describe(refused)
    fields = sorted(refused.errors.additional_properties)
    assert fields == ["name", "price"], fields
    print(f"refused: {describe(refused)} (fields: {', '.join(fields)})")

    print("tour complete")


if __name__ == "__main__":
    tour(
        sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000",
        os.environ.get("API_EMAIL", "editor@example.com"),
        os.environ.get("API_PASSWORD", "editor-demo-pass"),
    )
