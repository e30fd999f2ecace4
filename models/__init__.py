"""Database models. Import them from here so every table is registered."""

from .user import ROLES, AuthSession, User

__all__ = ["ROLES", "AuthSession", "User"]
