from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.refresh import Refresh
from ...models.token import Token
from ...types import Response


def _get_kwargs(
    *,
    body: Refresh,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/auth/refresh",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | Token | None:
    if response.status_code == 200:
        response_200 = Token.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | Token]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: Refresh,
) -> Response[Problem | Token]:
    """Exchange a refresh token for a new access token and refresh token (public).

     The refresh token sent is used up. Sent again within REFRESH_REUSE_GRACE seconds (default 15) of its
    first use, as parallel refreshes do, it answers with a new access token and the same refresh token
    as that first use. Sent again later, it is 401 and ends its session at once, with every token the
    session issued. An expired, revoked or tampered refresh token, an access token, or one of an
    inactive user is 401.

    Args:
        body (Refresh):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Token]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: Refresh,
) -> Problem | Token | None:
    """Exchange a refresh token for a new access token and refresh token (public).

     The refresh token sent is used up. Sent again within REFRESH_REUSE_GRACE seconds (default 15) of its
    first use, as parallel refreshes do, it answers with a new access token and the same refresh token
    as that first use. Sent again later, it is 401 and ends its session at once, with every token the
    session issued. An expired, revoked or tampered refresh token, an access token, or one of an
    inactive user is 401.

    Args:
        body (Refresh):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Token
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: Refresh,
) -> Response[Problem | Token]:
    """Exchange a refresh token for a new access token and refresh token (public).

     The refresh token sent is used up. Sent again within REFRESH_REUSE_GRACE seconds (default 15) of its
    first use, as parallel refreshes do, it answers with a new access token and the same refresh token
    as that first use. Sent again later, it is 401 and ends its session at once, with every token the
    session issued. An expired, revoked or tampered refresh token, an access token, or one of an
    inactive user is 401.

    Args:
        body (Refresh):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Token]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: Refresh,
) -> Problem | Token | None:
    """Exchange a refresh token for a new access token and refresh token (public).

     The refresh token sent is used up. Sent again within REFRESH_REUSE_GRACE seconds (default 15) of its
    first use, as parallel refreshes do, it answers with a new access token and the same refresh token
    as that first use. Sent again later, it is 401 and ends its session at once, with every token the
    session issued. An expired, revoked or tampered refresh token, an access token, or one of an
    inactive user is 401.

    Args:
        body (Refresh):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Token
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
