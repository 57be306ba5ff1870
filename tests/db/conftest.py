"""Fixtures of the database layer's tests."""

from tests.db.postgres import postgres_url

__all__ = ["postgres_url"]
