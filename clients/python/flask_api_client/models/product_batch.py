from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.batch_meta import BatchMeta
    from ..models.product import Product


T = TypeVar("T", bound="ProductBatch")


@_attrs_define
class ProductBatch:
    """
    Attributes:
        data (list[Product]):
        meta (BatchMeta):
    """

    data: list[Product]
    meta: BatchMeta

    def to_dict(self) -> dict[str, Any]:
        data = []
        for data_item_data in self.data:
            data_item = data_item_data.to_dict()
            data.append(data_item)

        meta = self.meta.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "data": data,
                "meta": meta,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_meta import BatchMeta  # noqa: PLC0415
        from ..models.product import Product  # noqa: PLC0415

        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = Product.from_dict(data_item_data)

            data.append(data_item)

        meta = BatchMeta.from_dict(d.pop("meta"))

        product_batch = cls(
            data=data,
            meta=meta,
        )

        return product_batch
