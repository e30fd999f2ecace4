from enum import StrEnum


class ProblemType(StrEnum):
    ABOUTBLANK = "about:blank"

    def __str__(self) -> str:
        return str(self.value)
