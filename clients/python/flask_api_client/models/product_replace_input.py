from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="ProductReplaceInput")


@_attrs_define
class ProductReplaceInput:
    """
    Attributes:
        name (str): Surrounding white space is trimmed before the length is checked.
        description (None | str): Surrounding white space is trimmed before the length is checked.
        price (float | str): A decimal amount from 0 to 1000000 with at most two decimal places, such as "12.50"; always
            returned as a string with two places. A JSON number is accepted too.
        category (str): Surrounding white space is trimmed before the length is checked.
    """

    name: str
    description: None | str
    price: float | str
    category: str

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        description: None | str
        description = self.description

        price: float | str
        price = self.price

        category = self.category

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "description": description,
                "price": price,
                "category": category,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        def _parse_price(data: object) -> float | str:
            return cast(float | str, data)

        price = _parse_price(d.pop("price"))

        category = d.pop("category")

        product_replace_input = cls(
            name=name,
            description=description,
            price=price,
            category=category,
        )

        return product_replace_input
