from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Register")


@_attrs_define
class Register:
    """
    Attributes:
        name (str): Surrounding white space is trimmed before the length is checked.
        email (str): Trimmed and lower-cased before it is checked and stored. ASCII only, without a quoted local part.
        password (str):
    """

    name: str
    email: str
    password: str

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        email = self.email

        password = self.password

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "email": email,
                "password": password,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        email = d.pop("email")

        password = d.pop("password")

        register = cls(
            name=name,
            email=email,
            password=password,
        )

        return register
