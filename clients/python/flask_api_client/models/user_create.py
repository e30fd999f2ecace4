from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.user_create_role import UserCreateRole
from ..types import UNSET, Unset

T = TypeVar("T", bound="UserCreate")


@_attrs_define
class UserCreate:
    """
    Attributes:
        name (str): Surrounding white space is trimmed before the length is checked.
        email (str): Trimmed and lower-cased before it is checked and stored. ASCII only, without a quoted local part.
        password (str):
        role (UserCreateRole | Unset):  Default: UserCreateRole.VIEWER.
        is_active (bool | Unset):  Default: True.
    """

    name: str
    email: str
    password: str
    role: UserCreateRole | Unset = UserCreateRole.VIEWER
    is_active: bool | Unset = True

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        email = self.email

        password = self.password

        role: str | Unset = UNSET
        if not isinstance(self.role, Unset):
            role = self.role.value

        is_active = self.is_active

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "email": email,
                "password": password,
            }
        )
        if role is not UNSET:
            field_dict["role"] = role
        if is_active is not UNSET:
            field_dict["is_active"] = is_active

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        email = d.pop("email")

        password = d.pop("password")

        _role = d.pop("role", UNSET)
        role: UserCreateRole | Unset
        if isinstance(_role, Unset):
            role = UNSET
        else:
            role = UserCreateRole(_role)

        is_active = d.pop("is_active", UNSET)

        user_create = cls(
            name=name,
            email=email,
            password=password,
            role=role,
            is_active=is_active,
        )

        return user_create
