from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.index_index_response_200_links import IndexIndexResponse200Links


T = TypeVar("T", bound="IndexIndexResponse200")


@_attrs_define
class IndexIndexResponse200:
    """
    Attributes:
        name (str):
        version (str):
        links (IndexIndexResponse200Links):
    """

    name: str
    version: str
    links: IndexIndexResponse200Links

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        version = self.version

        links = self.links.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "version": version,
                "links": links,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.index_index_response_200_links import IndexIndexResponse200Links  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        version = d.pop("version")

        links = IndexIndexResponse200Links.from_dict(d.pop("links"))

        index_index_response_200 = cls(
            name=name,
            version=version,
            links=links,
        )

        return index_index_response_200
