"""Every error that ``paydesk.cache`` raises, in one tree.

::

    CacheError                  base class; catch this to catch everything below
    ├── LockTimeout             the lock stayed taken for the whole ``wait`` (also a TimeoutError)
    ├── DuplicateSession        a session with this token hash already exists
    ├── CorruptEntry            a stored value is not what paydesk writes there
    └── CacheUnavailable        Redis could not be reached or refused the command

    >>> err = LockTimeout("token:wx1", wait=2.5)
    >>> str(err), isinstance(err, TimeoutError)
    ("lock 'token:wx1' still taken after waiting 2.5 s", True)

Redis's own exceptions are mapped into this tree once, where the command is sent
(``raise CacheUnavailable(...) from exc``), so callers never import ``redis``.
"""

from __future__ import annotations

__all__ = ["CacheError", "CacheUnavailable", "CorruptEntry", "DuplicateSession", "LockTimeout"]


class CacheError(Exception):
    """Base class of every error raised by ``paydesk.cache``."""


class LockTimeout(CacheError, TimeoutError):
    """Another holder kept the lock for the whole ``wait``."""

    def __init__(self, name: str, *, wait: float) -> None:
        super().__init__(f"lock {name!r} still taken after waiting {wait:g} s")
        self.name = name
        self.wait = wait


class DuplicateSession(CacheError):
    """A session with this token hash already exists; token hashes are unique.

    >>> str(DuplicateSession("9f86d081"))
    'a session with token hash 9f86d081… already exists'
    """

    def __init__(self, token_hash: str) -> None:
        # Only a short stem: the full hash is the lookup key of a live session.
        super().__init__(f"a session with token hash {token_hash[:8]}… already exists")


class CorruptEntry(CacheError):
    """A stored value cannot be read back: something other than paydesk wrote the key.

    >>> str(CorruptEntry("paydesk:token:wx1"))
    "the value under 'paydesk:token:wx1' is not one paydesk wrote"
    """

    def __init__(self, key: str) -> None:
        super().__init__(f"the value under {key!r} is not one paydesk wrote")
        self.key = key


class CacheUnavailable(CacheError):
    """Redis could not be reached, timed out, or answered the command with an error."""
