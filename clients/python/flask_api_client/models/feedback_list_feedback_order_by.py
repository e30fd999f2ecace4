from enum import StrEnum


class FeedbackListFeedbackOrderBy(StrEnum):
    CREATED_AT = "created_at"
    ID = "id"
    RATING = "rating"

    def __str__(self) -> str:
        return str(self.value)
