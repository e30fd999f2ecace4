from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.readiness_database import ReadinessDatabase
from ..models.readiness_status import ReadinessStatus

T = TypeVar("T", bound="Readiness")


@_attrs_define
class Readiness:
    """
    Attributes:
        status (ReadinessStatus):
        database (ReadinessDatabase):
    """

    status: ReadinessStatus
    database: ReadinessDatabase

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        database = self.database.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "status": status,
                "database": database,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = ReadinessStatus(d.pop("status"))

        database = ReadinessDatabase(d.pop("database"))

        readiness = cls(
            status=status,
            database=database,
        )

        return readiness
