from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.feedback_cursor_page import FeedbackCursorPage
from ...models.feedback_list_feedback_order_by import FeedbackListFeedbackOrderBy
from ...models.feedback_list_feedback_sort import FeedbackListFeedbackSort
from ...models.feedback_page import FeedbackPage
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: FeedbackListFeedbackSort | Unset = FeedbackListFeedbackSort.ASC,
    order_by: FeedbackListFeedbackOrderBy | Unset = FeedbackListFeedbackOrderBy.ID,
    cursor: str | Unset = UNSET,
    rating: int | Unset = UNSET,
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

    params["rating"] = rating

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/feedback",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> FeedbackCursorPage | FeedbackPage | Problem | None:
    if response.status_code == 200:

        def _parse_response_200(data: object) -> FeedbackCursorPage | FeedbackPage:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_200_type_0 = FeedbackPage.from_dict(data)

                return response_200_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_200_type_1 = FeedbackCursorPage.from_dict(data)

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
) -> Response[FeedbackCursorPage | FeedbackPage | Problem]:
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
    sort: FeedbackListFeedbackSort | Unset = FeedbackListFeedbackSort.ASC,
    order_by: FeedbackListFeedbackOrderBy | Unset = FeedbackListFeedbackOrderBy.ID,
    cursor: str | Unset = UNSET,
    rating: int | Unset = UNSET,
) -> Response[FeedbackCursorPage | FeedbackPage | Problem]:
    """List feedback (editor, admin): filter by rating, page or cursor.

     Requires the role editor or admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (FeedbackListFeedbackSort | Unset):  Default: FeedbackListFeedbackSort.ASC.
        order_by (FeedbackListFeedbackOrderBy | Unset):  Default: FeedbackListFeedbackOrderBy.ID.
        cursor (str | Unset):
        rating (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[FeedbackCursorPage | FeedbackPage | Problem]
    """

    kwargs = _get_kwargs(
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        rating=rating,
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
    sort: FeedbackListFeedbackSort | Unset = FeedbackListFeedbackSort.ASC,
    order_by: FeedbackListFeedbackOrderBy | Unset = FeedbackListFeedbackOrderBy.ID,
    cursor: str | Unset = UNSET,
    rating: int | Unset = UNSET,
) -> FeedbackCursorPage | FeedbackPage | Problem | None:
    """List feedback (editor, admin): filter by rating, page or cursor.

     Requires the role editor or admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (FeedbackListFeedbackSort | Unset):  Default: FeedbackListFeedbackSort.ASC.
        order_by (FeedbackListFeedbackOrderBy | Unset):  Default: FeedbackListFeedbackOrderBy.ID.
        cursor (str | Unset):
        rating (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        FeedbackCursorPage | FeedbackPage | Problem
    """

    return sync_detailed(
        client=client,
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        rating=rating,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: FeedbackListFeedbackSort | Unset = FeedbackListFeedbackSort.ASC,
    order_by: FeedbackListFeedbackOrderBy | Unset = FeedbackListFeedbackOrderBy.ID,
    cursor: str | Unset = UNSET,
    rating: int | Unset = UNSET,
) -> Response[FeedbackCursorPage | FeedbackPage | Problem]:
    """List feedback (editor, admin): filter by rating, page or cursor.

     Requires the role editor or admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (FeedbackListFeedbackSort | Unset):  Default: FeedbackListFeedbackSort.ASC.
        order_by (FeedbackListFeedbackOrderBy | Unset):  Default: FeedbackListFeedbackOrderBy.ID.
        cursor (str | Unset):
        rating (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[FeedbackCursorPage | FeedbackPage | Problem]
    """

    kwargs = _get_kwargs(
        page=page,
        limit=limit,
        sort=sort,
        order_by=order_by,
        cursor=cursor,
        rating=rating,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    page: int | Unset = UNSET,
    limit: int | Unset = 20,
    sort: FeedbackListFeedbackSort | Unset = FeedbackListFeedbackSort.ASC,
    order_by: FeedbackListFeedbackOrderBy | Unset = FeedbackListFeedbackOrderBy.ID,
    cursor: str | Unset = UNSET,
    rating: int | Unset = UNSET,
) -> FeedbackCursorPage | FeedbackPage | Problem | None:
    """List feedback (editor, admin): filter by rating, page or cursor.

     Requires the role editor or admin.

    Args:
        page (int | Unset):
        limit (int | Unset):  Default: 20.
        sort (FeedbackListFeedbackSort | Unset):  Default: FeedbackListFeedbackSort.ASC.
        order_by (FeedbackListFeedbackOrderBy | Unset):  Default: FeedbackListFeedbackOrderBy.ID.
        cursor (str | Unset):
        rating (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        FeedbackCursorPage | FeedbackPage | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            page=page,
            limit=limit,
            sort=sort,
            order_by=order_by,
            cursor=cursor,
            rating=rating,
        )
    ).parsed
