from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.user_update_role import UserUpdateRole
from ..types import UNSET, Unset

T = TypeVar("T", bound="UserUpdate")


@_attrs_define
class UserUpdate:
    """
    Attributes:
        name (str): Surrounding white space is trimmed before the length is checked.
        email (str): Trimmed and lower-cased before it is checked and stored. ASCII only, without a quoted local part.
        password (str | Unset):
        current_password (str | Unset): Your current password: needed to change your own password or email (not for an
            admin changing another user's).
        role (UserUpdateRole | Unset):
        is_active (bool | Unset):
    """

    name: str
    email: str
    password: str | Unset = UNSET
    current_password: str | Unset = UNSET
    role: UserUpdateRole | Unset = UNSET
    is_active: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        email = self.email

        password = self.password

        current_password = self.current_password

        role: str | Unset = UNSET
        if not isinstance(self.role, Unset):
            role = self.role.value

        is_active = self.is_active

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "email": email,
            }
        )
        if password is not UNSET:
            field_dict["password"] = password
        if current_password is not UNSET:
            field_dict["current_password"] = current_password
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

        password = d.pop("password", UNSET)

        current_password = d.pop("current_password", UNSET)

        _role = d.pop("role", UNSET)
        role: UserUpdateRole | Unset
        if isinstance(_role, Unset):
            role = UNSET
        else:
            role = UserUpdateRole(_role)

        is_active = d.pop("is_active", UNSET)

        user_update = cls(
            name=name,
            email=email,
            password=password,
            current_password=current_password,
            role=role,
            is_active=is_active,
        )

        return user_update
