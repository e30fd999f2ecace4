from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="FeedbackInput")


@_attrs_define
class FeedbackInput:
    """
    Attributes:
        name (str): Surrounding white space is trimmed before the length is checked.
        email (str): Trimmed and lower-cased before it is checked and stored. ASCII only, without a quoted local part.
        message (str): Surrounding white space is trimmed before the length is checked.
        rating (int | None | Unset):
    """

    name: str
    email: str
    message: str
    rating: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        email = self.email

        message = self.message

        rating: int | None | Unset
        if isinstance(self.rating, Unset):
            rating = UNSET
        else:
            rating = self.rating

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "email": email,
                "message": message,
            }
        )
        if rating is not UNSET:
            field_dict["rating"] = rating

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        email = d.pop("email")

        message = d.pop("message")

        def _parse_rating(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        rating = _parse_rating(d.pop("rating", UNSET))

        feedback_input = cls(
            name=name,
            email=email,
            message=message,
            rating=rating,
        )

        return feedback_input
