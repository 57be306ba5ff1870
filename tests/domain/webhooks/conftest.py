"""Fixtures for the webhook domain tests: the webhook world's pinned clock and reproducible ids
(``tests/domain/webhooks/world.py``); ``db``, the session factory, is ``tests/backends.py``'s."""

from __future__ import annotations

from tests.domain.webhooks.world import clock, ids

__all__ = ["clock", "ids"]
