from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Product")


@_attrs_define
class Product:
    """
    Attributes:
        id (int):
        name (str): Surrounding white space is trimmed before the length is checked.
        price (float | str): A decimal amount from 0 to 1000000 with at most two decimal places, such as "12.50"; always
            returned as a string with two places. A JSON number is accepted too.
        category (str): Surrounding white space is trimmed before the length is checked.
        created_at (datetime.datetime): ISO 8601 in UTC with a Z suffix.
        updated_at (datetime.datetime): ISO 8601 in UTC with a Z suffix.
        description (None | str | Unset): Surrounding white space is trimmed before the length is checked.
    """

    id: int
    name: str
    price: float | str
    category: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    description: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        price: float | str
        price = self.price

        category = self.category

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "price": price,
                "category": category,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        def _parse_price(data: object) -> float | str:
            return cast(float | str, data)

        price = _parse_price(d.pop("price"))

        category = d.pop("category")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        product = cls(
            id=id,
            name=name,
            price=price,
            category=category,
            created_at=created_at,
            updated_at=updated_at,
            description=description,
        )

        return product
