from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="OffsetMeta")


@_attrs_define
class OffsetMeta:
    """
    Attributes:
        page (int):
        limit (int):
        total (int):
        pages (int):
    """

    page: int
    limit: int
    total: int
    pages: int

    def to_dict(self) -> dict[str, Any]:
        page = self.page

        limit = self.limit

        total = self.total

        pages = self.pages

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "page": page,
                "limit": limit,
                "total": total,
                "pages": pages,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        page = d.pop("page")

        limit = d.pop("limit")

        total = d.pop("total")

        pages = d.pop("pages")

        offset_meta = cls(
            page=page,
            limit=limit,
            total=total,
            pages=pages,
        )

        return offset_meta
