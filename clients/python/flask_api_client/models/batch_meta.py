from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="BatchMeta")


@_attrs_define
class BatchMeta:
    """
    Attributes:
        missing_ids (list[int]): The ids asked for that do not exist, each once.
    """

    missing_ids: list[int]

    def to_dict(self) -> dict[str, Any]:
        missing_ids = self.missing_ids

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "missing_ids": missing_ids,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        missing_ids = cast(list[int], d.pop("missing_ids"))

        batch_meta = cls(
            missing_ids=missing_ids,
        )

        return batch_meta
