from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.pagination_settings import PaginationSettings


T = TypeVar("T", bound="ClientConfig")


@_attrs_define
class ClientConfig:
    """
    Attributes:
        app_name (str):
        version (str):
        registration_open (bool):
        pagination (PaginationSettings):
    """

    app_name: str
    version: str
    registration_open: bool
    pagination: PaginationSettings

    def to_dict(self) -> dict[str, Any]:
        app_name = self.app_name

        version = self.version

        registration_open = self.registration_open

        pagination = self.pagination.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "app_name": app_name,
                "version": version,
                "registration_open": registration_open,
                "pagination": pagination,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pagination_settings import PaginationSettings  # noqa: PLC0415

        d = dict(src_dict)
        app_name = d.pop("app_name")

        version = d.pop("version")

        registration_open = d.pop("registration_open")

        pagination = PaginationSettings.from_dict(d.pop("pagination"))

        client_config = cls(
            app_name=app_name,
            version=version,
            registration_open=registration_open,
            pagination=pagination,
        )

        return client_config
