from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ProductInput")


@_attrs_define
class ProductInput:
    """
    Attributes:
        name (str): Surrounding white space is trimmed before the length is checked.
        price (float | str): A decimal amount from 0 to 1000000 with at most two decimal places, such as "12.50"; always
            returned as a string with two places. A JSON number is accepted too.
        category (str): Surrounding white space is trimmed before the length is checked.
        description (None | str | Unset): Surrounding white space is trimmed before the length is checked.
    """

    name: str
    price: float | str
    category: str
    description: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        price: float | str
        price = self.price

        category = self.category

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "price": price,
                "category": category,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        def _parse_price(data: object) -> float | str:
            return cast(float | str, data)

        price = _parse_price(d.pop("price"))

        category = d.pop("category")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        product_input = cls(
            name=name,
            price=price,
            category=category,
            description=description,
        )

        return product_input
