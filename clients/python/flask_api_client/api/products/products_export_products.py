from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.products_export_products_format import ProductsExportProductsFormat
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    format_: ProductsExportProductsFormat | Unset = ProductsExportProductsFormat.NDJSON,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["category"] = category

    params["q"] = q

    params["min_price"] = min_price

    params["max_price"] = max_price

    json_format_: str | Unset = UNSET
    if not isinstance(format_, Unset):
        json_format_ = format_.value

    params["format"] = json_format_

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/products/export",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | str | None:
    if response.status_code == 200:
        response_200 = response.text
        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | str]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    format_: ProductsExportProductsFormat | Unset = ProductsExportProductsFormat.NDJSON,
) -> Response[Problem | str]:
    """Export every product the list's filters match, in id order (editor, admin).

     format=ndjson (the default) or csv, sent as a file (Content-Disposition) for csv. Streamed: the
    first products arrive before the last are read, and the server's memory does not grow with the
    catalog.

    Requires the role editor or admin.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        format_ (ProductsExportProductsFormat | Unset):  Default:
            ProductsExportProductsFormat.NDJSON.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        category=category,
        q=q,
        min_price=min_price,
        max_price=max_price,
        format_=format_,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    format_: ProductsExportProductsFormat | Unset = ProductsExportProductsFormat.NDJSON,
) -> Problem | str | None:
    """Export every product the list's filters match, in id order (editor, admin).

     format=ndjson (the default) or csv, sent as a file (Content-Disposition) for csv. Streamed: the
    first products arrive before the last are read, and the server's memory does not grow with the
    catalog.

    Requires the role editor or admin.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        format_ (ProductsExportProductsFormat | Unset):  Default:
            ProductsExportProductsFormat.NDJSON.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return sync_detailed(
        client=client,
        category=category,
        q=q,
        min_price=min_price,
        max_price=max_price,
        format_=format_,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    format_: ProductsExportProductsFormat | Unset = ProductsExportProductsFormat.NDJSON,
) -> Response[Problem | str]:
    """Export every product the list's filters match, in id order (editor, admin).

     format=ndjson (the default) or csv, sent as a file (Content-Disposition) for csv. Streamed: the
    first products arrive before the last are read, and the server's memory does not grow with the
    catalog.

    Requires the role editor or admin.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        format_ (ProductsExportProductsFormat | Unset):  Default:
            ProductsExportProductsFormat.NDJSON.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | str]
    """

    kwargs = _get_kwargs(
        category=category,
        q=q,
        min_price=min_price,
        max_price=max_price,
        format_=format_,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    category: str | Unset = UNSET,
    q: str | Unset = UNSET,
    min_price: str | Unset = UNSET,
    max_price: str | Unset = UNSET,
    format_: ProductsExportProductsFormat | Unset = ProductsExportProductsFormat.NDJSON,
) -> Problem | str | None:
    """Export every product the list's filters match, in id order (editor, admin).

     format=ndjson (the default) or csv, sent as a file (Content-Disposition) for csv. Streamed: the
    first products arrive before the last are read, and the server's memory does not grow with the
    catalog.

    Requires the role editor or admin.

    Args:
        category (str | Unset):
        q (str | Unset):
        min_price (str | Unset):
        max_price (str | Unset):
        format_ (ProductsExportProductsFormat | Unset):  Default:
            ProductsExportProductsFormat.NDJSON.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | str
    """

    return (
        await asyncio_detailed(
            client=client,
            category=category,
            q=q,
            min_price=min_price,
            max_price=max_price,
            format_=format_,
        )
    ).parsed
