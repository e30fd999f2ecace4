from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="IndexIndexResponse200Links")


@_attrs_define
class IndexIndexResponse200Links:
    """
    Attributes:
        docs (Literal['/api/docs']):
        openapi (Literal['/api/openapi.json']):
        health (Literal['/healthz']):
    """

    docs: Literal["/api/docs"]
    openapi: Literal["/api/openapi.json"]
    health: Literal["/healthz"]

    def to_dict(self) -> dict[str, Any]:
        docs = self.docs

        openapi = self.openapi

        health = self.health

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "docs": docs,
                "openapi": openapi,
                "health": health,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        docs = cast(Literal["/api/docs"], d.pop("docs"))
        if docs != "/api/docs":
            raise ValueError(f"docs must match const '/api/docs', got '{docs}'")

        openapi = cast(Literal["/api/openapi.json"], d.pop("openapi"))
        if openapi != "/api/openapi.json":
            raise ValueError(f"openapi must match const '/api/openapi.json', got '{openapi}'")

        health = cast(Literal["/healthz"], d.pop("health"))
        if health != "/healthz":
            raise ValueError(f"health must match const '/healthz', got '{health}'")

        index_index_response_200_links = cls(
            docs=docs,
            openapi=openapi,
            health=health,
        )

        return index_index_response_200_links
