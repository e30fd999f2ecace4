from enum import StrEnum


class ProductsListProductsOrderBy(StrEnum):
    CREATED_AT = "created_at"
    ID = "id"
    NAME = "name"
    PRICE = "price"

    def __str__(self) -> str:
        return str(self.value)
