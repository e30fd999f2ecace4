from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.user import User
from ...models.user_update_patch import UserUpdatePatch
from ...types import Response


def _get_kwargs(
    user_id: int,
    *,
    body: UserUpdatePatch,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/api/users/{user_id}".format(
            user_id=quote(str(user_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | User | None:
    if response.status_code == 200:
        response_200 = User.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | User]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: int,
    *,
    client: AuthenticatedClient,
    body: UserUpdatePatch,
) -> Response[Problem | User]:
    """Update a user (self or admin). PUT needs name and email; PATCH any subset.

     Only an admin may send role or is_active (403 otherwise); changing your own password or email needs
    current_password (sending your current email again is no change), and wrong ones count toward a per-
    user limit (429 past it). Changing the password or deactivating the user ends all of its sessions.
    After an email change, by anyone, a notice goes to the old address. 409 when the email is taken or
    the change would leave no active admin.

    Requires a valid token (any role).

    Args:
        user_id (int):
        body (UserUpdatePatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | User]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: int,
    *,
    client: AuthenticatedClient,
    body: UserUpdatePatch,
) -> Problem | User | None:
    """Update a user (self or admin). PUT needs name and email; PATCH any subset.

     Only an admin may send role or is_active (403 otherwise); changing your own password or email needs
    current_password (sending your current email again is no change), and wrong ones count toward a per-
    user limit (429 past it). Changing the password or deactivating the user ends all of its sessions.
    After an email change, by anyone, a notice goes to the old address. 409 when the email is taken or
    the change would leave no active admin.

    Requires a valid token (any role).

    Args:
        user_id (int):
        body (UserUpdatePatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | User
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    user_id: int,
    *,
    client: AuthenticatedClient,
    body: UserUpdatePatch,
) -> Response[Problem | User]:
    """Update a user (self or admin). PUT needs name and email; PATCH any subset.

     Only an admin may send role or is_active (403 otherwise); changing your own password or email needs
    current_password (sending your current email again is no change), and wrong ones count toward a per-
    user limit (429 past it). Changing the password or deactivating the user ends all of its sessions.
    After an email change, by anyone, a notice goes to the old address. 409 when the email is taken or
    the change would leave no active admin.

    Requires a valid token (any role).

    Args:
        user_id (int):
        body (UserUpdatePatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | User]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: int,
    *,
    client: AuthenticatedClient,
    body: UserUpdatePatch,
) -> Problem | User | None:
    """Update a user (self or admin). PUT needs name and email; PATCH any subset.

     Only an admin may send role or is_active (403 otherwise); changing your own password or email needs
    current_password (sending your current email again is no change), and wrong ones count toward a per-
    user limit (429 past it). Changing the password or deactivating the user ends all of its sessions.
    After an email change, by anyone, a notice goes to the old address. 409 when the email is taken or
    the change would leave no active admin.

    Requires a valid token (any role).

    Args:
        user_id (int):
        body (UserUpdatePatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | User
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            body=body,
        )
    ).parsed
