from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="CursorLinks")


@_attrs_define
class CursorLinks:
    """
    Attributes:
        self_ (str):
        first (str):
        next_ (None | str):
    """

    self_: str
    first: str
    next_: None | str

    def to_dict(self) -> dict[str, Any]:
        self_ = self.self_

        first = self.first

        next_: None | str
        next_ = self.next_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "self": self_,
                "first": first,
                "next": next_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        self_ = d.pop("self")

        first = d.pop("first")

        def _parse_next_(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_ = _parse_next_(d.pop("next"))

        cursor_links = cls(
            self_=self_,
            first=first,
            next_=next_,
        )

        return cursor_links
