from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.offset_links import OffsetLinks
    from ..models.offset_meta import OffsetMeta
    from ..models.user import User


T = TypeVar("T", bound="UserPage")


@_attrs_define
class UserPage:
    """
    Attributes:
        data (list[User]):
        meta (OffsetMeta):
        links (OffsetLinks):
    """

    data: list[User]
    meta: OffsetMeta
    links: OffsetLinks

    def to_dict(self) -> dict[str, Any]:
        data = []
        for data_item_data in self.data:
            data_item = data_item_data.to_dict()
            data.append(data_item)

        meta = self.meta.to_dict()

        links = self.links.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "data": data,
                "meta": meta,
                "links": links,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.offset_links import OffsetLinks  # noqa: PLC0415
        from ..models.offset_meta import OffsetMeta  # noqa: PLC0415
        from ..models.user import User  # noqa: PLC0415

        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = User.from_dict(data_item_data)

            data.append(data_item)

        meta = OffsetMeta.from_dict(d.pop("meta"))

        links = OffsetLinks.from_dict(d.pop("links"))

        user_page = cls(
            data=data,
            meta=meta,
            links=links,
        )

        return user_page
