"""Database models. Import them from here so every table is registered."""

from .catalog import CatalogVersion
from .feedback import FEEDBACK_ORDER, RATING_ORDER, Feedback
from .idempotency import IdempotencyKey
from .mail_outbox import OutboxMail
from .password_reset import PasswordResetToken
from .product import PRODUCT_ORDER, Product
from .user import ROLES, USER_ORDER, AuthSession, User

__all__ = [
    "FEEDBACK_ORDER",
    "PRODUCT_ORDER",
    "RATING_ORDER",
    "ROLES",
    "USER_ORDER",
    "AuthSession",
    "CatalogVersion",
    "Feedback",
    "IdempotencyKey",
    "OutboxMail",
    "PasswordResetToken",
    "Product",
    "User",
]
