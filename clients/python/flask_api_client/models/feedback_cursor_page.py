from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.cursor_links import CursorLinks
    from ..models.cursor_meta import CursorMeta
    from ..models.feedback import Feedback


T = TypeVar("T", bound="FeedbackCursorPage")


@_attrs_define
class FeedbackCursorPage:
    """
    Attributes:
        data (list[Feedback]):
        meta (CursorMeta):
        links (CursorLinks):
    """

    data: list[Feedback]
    meta: CursorMeta
    links: CursorLinks

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
        from ..models.cursor_links import CursorLinks  # noqa: PLC0415
        from ..models.cursor_meta import CursorMeta  # noqa: PLC0415
        from ..models.feedback import Feedback  # noqa: PLC0415

        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = Feedback.from_dict(data_item_data)

            data.append(data_item)

        meta = CursorMeta.from_dict(d.pop("meta"))

        links = CursorLinks.from_dict(d.pop("links"))

        feedback_cursor_page = cls(
            data=data,
            meta=meta,
            links=links,
        )

        return feedback_cursor_page
