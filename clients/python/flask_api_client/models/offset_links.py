from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="OffsetLinks")


@_attrs_define
class OffsetLinks:
    """
    Attributes:
        self_ (str):
        first (str):
        prev (None | str):
        next_ (None | str):
        last (str):
    """

    self_: str
    first: str
    prev: None | str
    next_: None | str
    last: str

    def to_dict(self) -> dict[str, Any]:
        self_ = self.self_

        first = self.first

        prev: None | str
        prev = self.prev

        next_: None | str
        next_ = self.next_

        last = self.last

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "self": self_,
                "first": first,
                "prev": prev,
                "next": next_,
                "last": last,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        self_ = d.pop("self")

        first = d.pop("first")

        def _parse_prev(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        prev = _parse_prev(d.pop("prev"))

        def _parse_next_(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_ = _parse_next_(d.pop("next"))

        last = d.pop("last")

        offset_links = cls(
            self_=self_,
            first=first,
            prev=prev,
            next_=next_,
            last=last,
        )

        return offset_links
