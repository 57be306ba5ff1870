"""What a refused write means, and what a database that does not answer raises, the same way
on both databases.

A unique violation and a foreign-key violation are both an ``IntegrityError``; a caller that
answers a person needs to tell them apart ("you already have that order" is not "there is no
such user"). PostgreSQL names the class in the SQLSTATE (``23503``), through SQLAlchemy's
asyncpg adapter and straight from asyncpg alike; SQLite in the extended error name.

    >>> from sqlalchemy.exc import IntegrityError
    >>> class Refusal(Exception):
    ...     sqlstate = "23503"
    >>> violates_foreign_key(IntegrityError("INSERT …", None, Refusal()))
    True
    >>> violates_foreign_key(IntegrityError("INSERT …", None, Exception("UNIQUE failed")))
    False
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["DATABASE_UNAVAILABLE", "violates_foreign_key"]

#: What a database that does not answer raises: SQLAlchemy's operational errors (a lost
#: connection, SQLite's "unable to open", a writer's wait that timed out), its pool's timeout,
#: and — asyncpg connects outside SQLAlchemy's error translation — the socket's own (refused,
#: unreachable, timed out).
DATABASE_UNAVAILABLE = (OperationalError, PoolTimeout, OSError)

_FOREIGN_KEY_SQLSTATE = "23503"
_FOREIGN_KEY_SQLITE = "SQLITE_CONSTRAINT_FOREIGNKEY"


def violates_foreign_key(error: IntegrityError) -> bool:
    """Whether the database refused a row because a row it names does not exist."""
    cause = error.orig
    return (
        getattr(cause, "sqlstate", None) == _FOREIGN_KEY_SQLSTATE
        or getattr(cause, "sqlite_errorname", None) == _FOREIGN_KEY_SQLITE
    )
