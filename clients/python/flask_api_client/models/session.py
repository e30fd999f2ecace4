from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="Session")


@_attrs_define
class Session:
    """
    Attributes:
        id (int):
        created_at (datetime.datetime): ISO 8601 in UTC with a Z suffix.
        last_used_at (datetime.datetime): ISO 8601 in UTC with a Z suffix.
        expires_at (datetime.datetime): ISO 8601 in UTC with a Z suffix.
        user_agent (None | str): The User-Agent of the login, trimmed to 255 characters.
        current (bool): True for the session of the token used.
    """

    id: int
    created_at: datetime.datetime
    last_used_at: datetime.datetime
    expires_at: datetime.datetime
    user_agent: None | str
    current: bool

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        created_at = self.created_at.isoformat()

        last_used_at = self.last_used_at.isoformat()

        expires_at = self.expires_at.isoformat()

        user_agent: None | str
        user_agent = self.user_agent

        current = self.current

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "created_at": created_at,
                "last_used_at": last_used_at,
                "expires_at": expires_at,
                "user_agent": user_agent,
                "current": current,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        last_used_at = datetime.datetime.fromisoformat(d.pop("last_used_at"))

        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        def _parse_user_agent(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        user_agent = _parse_user_agent(d.pop("user_agent"))

        current = d.pop("current")

        session = cls(
            id=id,
            created_at=created_at,
            last_used_at=last_used_at,
            expires_at=expires_at,
            user_agent=user_agent,
            current=current,
        )

        return session
