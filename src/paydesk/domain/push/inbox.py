"""The ``push_messages`` table: each push is taken once, however often WeChat sends it.

WeChat sends a push again when it got no answer within 5 s (three more times, same ``MsgId``).
The table's key ``(appid, dedupe_key)`` makes taking a push one INSERT: the first one wins,
every copy fails on the key and is answered ``success`` without doing anything. Events have no
``MsgId``; their key is the sender and ``CreateTime`` (PROTOCOL.md §4.3)::

    taken = await take_push(services, appid, message)     # False: a copy, drop it
    ...                                                   # the work
    await mark_handled(services, appid, message.dedupe_key)
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from paydesk.db.models import PushMessage
from paydesk.protocol.messages import PushedMessage

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["mark_handled", "stored_key", "take_push"]

_KEY_LENGTH = 200  # push_messages.dedupe_key


def stored_key(dedupe_key: str) -> str:
    """The key as stored: itself, or its digest when it would not fit the column.

    >>> stored_key("msg:42"), len(stored_key("event:" + "o" * 300 + ":1"))
    ('msg:42', 71)
    """
    if len(dedupe_key) <= _KEY_LENGTH:
        return dedupe_key
    return "sha256:" + hashlib.sha256(dedupe_key.encode("utf-8", "replace")).hexdigest()


async def take_push(services: Services, appid: str, message: PushedMessage) -> bool:
    """Record ``message`` for ``appid``; False when it was recorded before (a copy)."""
    try:
        async with services.db.begin() as session:
            session.add(
                PushMessage(
                    appid=appid,
                    dedupe_key=stored_key(message.dedupe_key),
                    received_at=services.clock.now(),
                    payload=dict(message.raw),
                    handled_at=None,
                )
            )
    except IntegrityError:
        return False
    return True


async def mark_handled(services: Services, appid: str, dedupe_key: str) -> None:
    """Note that the push's work is done (``handled_at``); unhandled rows show what failed."""
    async with services.db.begin() as session:
        await session.execute(
            update(PushMessage)
            .where(PushMessage.appid == appid, PushMessage.dedupe_key == stored_key(dedupe_key))
            .values(handled_at=services.clock.now())
        )
