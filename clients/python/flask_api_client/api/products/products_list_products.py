from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.product_batch import ProductBatch
from ...models.product_cursor_page import ProductCursorPage
from ...models.product_page import ProductPage
from ...models.products_list_products_order_by import ProductsListProductsOrderBy
from ...models.products_list_products_sort import ProductsListProductsSort
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: ProductsListProductsSort | Unset = ProductsListProductsSort.ASC,
    order_by: ProductsListProductsOrderBy | Unset = ProductsListProductsOrderBy.ID,
    cursor: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    params: dict[str, Any] = {}

    params["category"] = category

    params["q"] = q

    params["min_price"] = min_price

    params["max_price"] = max_price

    params["page"] = page

    params["limit"] = limit

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    json_order_by: str | Unset = UNSET
    if not isinstance(order_by, Unset):
        json_order_by = order_by.value

    params["order_by"] = json_order_by

    params["cursor"] = cursor

    params["ids"] = ids

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/products",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | ProductBatch | ProductCursorPage | ProductPage | None:
    if response.status_code == 200:

        def _parse_response_200(data: object) -> ProductBatch | ProductCursorPage | ProductPage:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_200_type_0 = ProductPage.from_dict(data)

                return response_200_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_200_type_1 = ProductCursorPage.from_dict(data)

                return response_200_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_200_type_2 = ProductBatch.from_dict(data)

            return response_200_type_2

        response_200 = _parse_response_200(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Problem | ProductBatch | ProductCursorPage | ProductPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: ProductsListProductsSort | Unset = ProductsListProductsSort.ASC,
    order_by: ProductsListProductsOrderBy | Unset = ProductsListProductsOrderBy.ID,
    cursor: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | Problem | ProductBatch | ProductCursorPage | ProductPage]:
    """List products (public): filters, sort, page or cursor; or a batch by ids.

     A batch (ids=...) has no links and no Link header.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (ProductsListProductsSort | Unset):  Default: ProductsListProductsSort.ASC.
        order_by (ProductsListProductsOrderBy | Unset):  Default: ProductsListProductsOrderBy.ID.
        cursor (str | Unset):
        ids (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | ProductBatch | ProductCursorPage | ProductPage]
    """

    kwargs = _get_kwargs(
        category=category,
        q=q,
        min_price=min_price,
        max_price=max_price,
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        ids=ids,
        if_none_match=if_none_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: ProductsListProductsSort | Unset = ProductsListProductsSort.ASC,
    order_by: ProductsListProductsOrderBy | Unset = ProductsListProductsOrderBy.ID,
    cursor: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Any | Problem | ProductBatch | ProductCursorPage | ProductPage | None:
    """List products (public): filters, sort, page or cursor; or a batch by ids.

     A batch (ids=...) has no links and no Link header.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (ProductsListProductsSort | Unset):  Default: ProductsListProductsSort.ASC.
        order_by (ProductsListProductsOrderBy | Unset):  Default: ProductsListProductsOrderBy.ID.
        cursor (str | Unset):
        ids (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | ProductBatch | ProductCursorPage | ProductPage
    """

    return sync_detailed(
        client=client,
        category=category,
        q=q,
        min_price=min_price,
        max_price=max_price,
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        ids=ids,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: ProductsListProductsSort | Unset = ProductsListProductsSort.ASC,
    order_by: ProductsListProductsOrderBy | Unset = ProductsListProductsOrderBy.ID,
    cursor: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | Problem | ProductBatch | ProductCursorPage | ProductPage]:
    """List products (public): filters, sort, page or cursor; or a batch by ids.

     A batch (ids=...) has no links and no Link header.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (ProductsListProductsSort | Unset):  Default: ProductsListProductsSort.ASC.
        order_by (ProductsListProductsOrderBy | Unset):  Default: ProductsListProductsOrderBy.ID.
        cursor (str | Unset):
        ids (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | ProductBatch | ProductCursorPage | ProductPage]
    """

    kwargs = _get_kwargs(
        category=category,
        q=q,
        min_price=min_price,
        max_price=max_price,
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        ids=ids,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: ProductsListProductsSort | Unset = ProductsListProductsSort.ASC,
    order_by: ProductsListProductsOrderBy | Unset = ProductsListProductsOrderBy.ID,
    cursor: str | Unset = UNSET,
    ids: str | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Any | Problem | ProductBatch | ProductCursorPage | ProductPage | None:
    """List products (public): filters, sort, page or cursor; or a batch by ids.

     A batch (ids=...) has no links and no Link header.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (ProductsListProductsSort | Unset):  Default: ProductsListProductsSort.ASC.
        order_by (ProductsListProductsOrderBy | Unset):  Default: ProductsListProductsOrderBy.ID.
        cursor (str | Unset):
        ids (str | Unset):
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | ProductBatch | ProductCursorPage | ProductPage
    """

    return (
        await asyncio_detailed(
            client=client,
            category=category,
            q=q,
            min_price=min_price,
            max_price=max_price,
            page=page,
            limit=limit,
            sort=sort,
            order_by=order_by,
            cursor=cursor,
            ids=ids,
            if_none_match=if_none_match,
        )
    ).parsed
