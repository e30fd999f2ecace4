from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.admin_list_users_order_by import AdminListUsersOrderBy
from ...models.admin_list_users_role import AdminListUsersRole
from ...models.admin_list_users_sort import AdminListUsersSort
from ...models.problem import Problem
from ...models.user_cursor_page import UserCursorPage
from ...models.user_page import UserPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: AdminListUsersSort | Unset = AdminListUsersSort.ASC,
    order_by: AdminListUsersOrderBy | Unset = AdminListUsersOrderBy.ID,
    cursor: str | Unset = UNSET,
    role: AdminListUsersRole | Unset = UNSET,
    q: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

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

    json_role: str | Unset = UNSET
    if not isinstance(role, Unset):
        json_role = role.value

    params["role"] = json_role

    params["q"] = q

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/admin/users",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | UserCursorPage | UserPage | None:
    if response.status_code == 200:

        def _parse_response_200(data: object) -> UserCursorPage | UserPage:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_200_type_0 = UserPage.from_dict(data)

                return response_200_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_200_type_1 = UserCursorPage.from_dict(data)

            return response_200_type_1

        response_200 = _parse_response_200(response.json())

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | UserCursorPage | UserPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: AdminListUsersSort | Unset = AdminListUsersSort.ASC,
    order_by: AdminListUsersOrderBy | Unset = AdminListUsersOrderBy.ID,
    cursor: str | Unset = UNSET,
    role: AdminListUsersRole | Unset = UNSET,
    q: str | Unset = UNSET,
) -> Response[Problem | UserCursorPage | UserPage]:
    """List users (admin): filter by role or by text in name or email, page or cursor.

     Requires the role admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (AdminListUsersSort | Unset):  Default: AdminListUsersSort.ASC.
        order_by (AdminListUsersOrderBy | Unset):  Default: AdminListUsersOrderBy.ID.
        cursor (str | Unset):
        role (AdminListUsersRole | Unset):
        q (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserCursorPage | UserPage]
    """

    kwargs = _get_kwargs(
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        role=role,
        q=q,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: AdminListUsersSort | Unset = AdminListUsersSort.ASC,
    order_by: AdminListUsersOrderBy | Unset = AdminListUsersOrderBy.ID,
    cursor: str | Unset = UNSET,
    role: AdminListUsersRole | Unset = UNSET,
    q: str | Unset = UNSET,
) -> Problem | UserCursorPage | UserPage | None:
    """List users (admin): filter by role or by text in name or email, page or cursor.

     Requires the role admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (AdminListUsersSort | Unset):  Default: AdminListUsersSort.ASC.
        order_by (AdminListUsersOrderBy | Unset):  Default: AdminListUsersOrderBy.ID.
        cursor (str | Unset):
        role (AdminListUsersRole | Unset):
        q (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserCursorPage | UserPage
    """

    return sync_detailed(
        client=client,
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        role=role,
        q=q,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: AdminListUsersSort | Unset = AdminListUsersSort.ASC,
    order_by: AdminListUsersOrderBy | Unset = AdminListUsersOrderBy.ID,
    cursor: str | Unset = UNSET,
    role: AdminListUsersRole | Unset = UNSET,
    q: str | Unset = UNSET,
) -> Response[Problem | UserCursorPage | UserPage]:
    """List users (admin): filter by role or by text in name or email, page or cursor.

     Requires the role admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (AdminListUsersSort | Unset):  Default: AdminListUsersSort.ASC.
        order_by (AdminListUsersOrderBy | Unset):  Default: AdminListUsersOrderBy.ID.
        cursor (str | Unset):
        role (AdminListUsersRole | Unset):
        q (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserCursorPage | UserPage]
    """

    kwargs = _get_kwargs(
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        role=role,
        q=q,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: AdminListUsersSort | Unset = AdminListUsersSort.ASC,
    order_by: AdminListUsersOrderBy | Unset = AdminListUsersOrderBy.ID,
    cursor: str | Unset = UNSET,
    role: AdminListUsersRole | Unset = UNSET,
    q: str | Unset = UNSET,
) -> Problem | UserCursorPage | UserPage | None:
    """List users (admin): filter by role or by text in name or email, page or cursor.

     Requires the role admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (AdminListUsersSort | Unset):  Default: AdminListUsersSort.ASC.
        order_by (AdminListUsersOrderBy | Unset):  Default: AdminListUsersOrderBy.ID.
        cursor (str | Unset):
        role (AdminListUsersRole | Unset):
        q (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserCursorPage | UserPage
    """

    return (
        await asyncio_detailed(
            client=client,
            page=page,
            limit=limit,
            sort=sort,
            order_by=order_by,
            cursor=cursor,
            role=role,
            q=q,
        )
    ).parsed
