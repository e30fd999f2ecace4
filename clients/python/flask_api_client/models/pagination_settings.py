from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PaginationSettings")


@_attrs_define
class PaginationSettings:
    """
    Attributes:
        default_limit (int):
        max_limit (int):
    """

    default_limit: int
    max_limit: int

    def to_dict(self) -> dict[str, Any]:
        default_limit = self.default_limit

        max_limit = self.max_limit

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "default_limit": default_limit,
                "max_limit": max_limit,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        default_limit = d.pop("default_limit")

        max_limit = d.pop("max_limit")

        pagination_settings = cls(
            default_limit=default_limit,
            max_limit=max_limit,
        )

        return pagination_settings
