"""The domain's errors, named for what the caller did wrong, each with an API error code.

::

    DomainError                  base: ``code`` (stable, machine-readable) and ``message``
    ├── InvalidInput             400  the request is well-formed but not acceptable
    ├── Unauthenticated          401  no or bad credentials
    ├── Forbidden                403  credentials fine, not allowed
    ├── NotFound                 404  no such resource (for this caller)
    ├── Conflict                 409  the resource's state forbids it / duplicate
    ├── RateLimited              429  slow down
    └── UpstreamFailed           502  WeChat failed or refused; ``retryable``: may work later

    >>> NotFound("order_not_found", "no order ord_1").status
    404
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base class: a stable ``code``, a human ``message`` and optional ``details``."""

    status: ClassVar[int] = 400

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The request is well-formed but not acceptable (e.g. an app not bound to the merchant)."""

    status = 400


class Unauthenticated(DomainError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    status = 401


class Forbidden(DomainError):
    """Valid credentials that may not do this."""

    status = 403


class NotFound(DomainError):
    """No such resource for this caller."""

    status = 404


class Conflict(DomainError):
    """The resource's current state forbids the operation, or it already exists."""

    status = 409


class RateLimited(DomainError):
    """Too many requests; ``retry_after`` seconds in details."""

    status = 429


class UpstreamFailed(DomainError):
    """WeChat failed or refused; ``retryable`` tells whether trying later may work."""

    status = 502

    def __init__(self, code: str, message: str, *, retryable: bool, **details: Any) -> None:
        super().__init__(code, message, **details)
        self.retryable = retryable
