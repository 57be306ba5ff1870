"""Re-run pushes whose work never finished (the process died, or WeChat kept failing).

A push is answered ``success`` at once and worked on in the background; the row in
``push_messages`` keeps ``handled_at`` empty until that work is done. This sweep picks up rows
left unhandled for a while and does the work again — at least once, so a user may rarely get
the same link twice, never none. After a day a push is given up on (marked handled, logged).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from paydesk.db.models import PushMessage
from paydesk.domain.errors import DomainError, UpstreamFailed
from paydesk.domain.push.detour import run_detour
from paydesk.domain.push.inbox import mark_handled
from paydesk.domain.push.replies import PushSettings
from paydesk.protocol import errors
from paydesk.protocol.messages import PushedMessage, parse_push

if TYPE_CHECKING:
    from paydesk.domain.context import Services

log = logging.getLogger("paydesk.push")

STALE_AFTER = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(days=1)


def message_from_payload(payload: dict[str, object]) -> PushedMessage:
    """The push as it was parsed, rebuilt from its stored fields (XML- or JSON-born)."""
    return parse_push(json.dumps(payload).encode(), "json")


async def rerun_unhandled_pushes(
    services: Services, *, settings: PushSettings | None = None, limit: int = 20
) -> int:
    """Work again on pushes unhandled for :data:`STALE_AFTER`; returns how many were finished."""
    now = services.clock.now()
    async with services.db() as session:
        rows = list(
            await session.scalars(
                select(PushMessage)
                .where(
                    PushMessage.handled_at.is_(None),
                    PushMessage.received_at < now - STALE_AFTER,
                )
                .order_by(PushMessage.received_at)
                .limit(limit)
            )
        )
    finished = 0
    for row in rows:
        try:
            message = message_from_payload(row.payload)
            app = services.registry.app(row.appid)
            if row.received_at >= now - GIVE_UP_AFTER:
                await run_detour(services, app, message, settings or PushSettings())
        except UpstreamFailed as exc:
            if exc.retryable and row.received_at >= now - GIVE_UP_AFTER:
                continue  # WeChat may take it next time
            log.warning("push %s/%s given up: %s", row.appid, row.dedupe_key, exc.message)
        except (DomainError, errors.ProtocolError) as exc:
            log.warning("push %s/%s cannot be worked on: %s", row.appid, row.dedupe_key, exc)
        await mark_handled(services, row.appid, row.dedupe_key)
        finished += 1
    return finished
