from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Feedback")


@_attrs_define
class Feedback:
    """
    Attributes:
        id (int):
        name (str): Surrounding white space is trimmed before the length is checked.
        email (str): Trimmed and lower-cased before it is checked and stored. ASCII only, without a quoted local part.
        message (str): Surrounding white space is trimmed before the length is checked.
        user_id (int | None):
        created_at (datetime.datetime): ISO 8601 in UTC with a Z suffix.
        rating (int | None | Unset):
    """

    id: int
    name: str
    email: str
    message: str
    user_id: int | None
    created_at: datetime.datetime
    rating: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        email = self.email

        message = self.message

        user_id: int | None
        user_id = self.user_id

        created_at = self.created_at.isoformat()

        rating: int | None | Unset
        if isinstance(self.rating, Unset):
            rating = UNSET
        else:
            rating = self.rating

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "email": email,
                "message": message,
                "user_id": user_id,
                "created_at": created_at,
            }
        )
        if rating is not UNSET:
            field_dict["rating"] = rating

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        email = d.pop("email")

        message = d.pop("message")

        def _parse_user_id(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        user_id = _parse_user_id(d.pop("user_id"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_rating(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        rating = _parse_rating(d.pop("rating", UNSET))

        feedback = cls(
            id=id,
            name=name,
            email=email,
            message=message,
            user_id=user_id,
            created_at=created_at,
            rating=rating,
        )

        return feedback
