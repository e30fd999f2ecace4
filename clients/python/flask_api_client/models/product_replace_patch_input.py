from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ProductReplacePatchInput")


@_attrs_define
class ProductReplacePatchInput:
    """
    Attributes:
        name (str | Unset): Surrounding white space is trimmed before the length is checked.
        description (None | str | Unset): Surrounding white space is trimmed before the length is checked.
        price (float | str | Unset): A decimal amount from 0 to 1000000 with at most two decimal places, such as
            "12.50"; always returned as a string with two places. A JSON number is accepted too.
        category (str | Unset): Surrounding white space is trimmed before the length is checked.
    """

    name: str | Unset = UNSET
    description: None | str | Unset = UNSET
    price: float | str | Unset = UNSET
    category: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        price: float | str | Unset
        if isinstance(self.price, Unset):
            price = UNSET
        else:
            price = self.price

        category = self.category

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if price is not UNSET:
            field_dict["price"] = price
        if category is not UNSET:
            field_dict["category"] = category

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name", UNSET)

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_price(data: object) -> float | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(float | str | Unset, data)

        price = _parse_price(d.pop("price", UNSET))

        category = d.pop("category", UNSET)

        product_replace_patch_input = cls(
            name=name,
            description=description,
            price=price,
            category=category,
        )

        return product_replace_patch_input
