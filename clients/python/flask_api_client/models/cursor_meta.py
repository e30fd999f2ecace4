from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="CursorMeta")


@_attrs_define
class CursorMeta:
    """
    Attributes:
        limit (int):
        next_cursor (None | str): Null on the last page.
        has_more (bool):
    """

    limit: int
    next_cursor: None | str
    has_more: bool

    def to_dict(self) -> dict[str, Any]:
        limit = self.limit

        next_cursor: None | str
        next_cursor = self.next_cursor

        has_more = self.has_more

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "limit": limit,
                "next_cursor": next_cursor,
                "has_more": has_more,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        limit = d.pop("limit")

        def _parse_next_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))

        has_more = d.pop("has_more")

        cursor_meta = cls(
            limit=limit,
            next_cursor=next_cursor,
            has_more=has_more,
        )

        return cursor_meta
