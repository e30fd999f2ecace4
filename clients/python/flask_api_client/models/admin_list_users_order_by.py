from enum import StrEnum


class AdminListUsersOrderBy(StrEnum):
    CREATED_AT = "created_at"
    EMAIL = "email"
    ID = "id"
    NAME = "name"

    def __str__(self) -> str:
        return str(self.value)
