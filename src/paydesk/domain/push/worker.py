"""The work a push asks for, done after WeChat has had its ``success``.

WeChat wants an answer within 5 s, and sending a customer-service message means fetching an
access token and calling WeChat — possibly slowly. So the push route only verifies, records
(:mod:`.inbox`) and answers; :class:`PushRuntime` runs the work in a task of its own that
outlives the request, keeps it referenced until it ends, and tries again after a failure that
may pass (WeChat busy or unreachable, the database restarting): once per entry of
``PushSettings.retry_delays``. A failure that will not pass (WeChat refusing the message, e.g.
45015 after the 48 h window) is logged and given up at once. A push whose work never
succeeded keeps ``handled_at`` empty in ``push_messages``.

    runtime = PushRuntime(PushSettings())
    runtime.spawn(services, app, message)   # returns at once
    await runtime.drain()                   # tests, shutdown: wait for the work in flight
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from paydesk.domain.errors import DomainError, UpstreamFailed
from paydesk.domain.push.detour import Detour, run_detour
from paydesk.domain.push.inbox import mark_handled
from paydesk.domain.push.replies import PushSettings
from paydesk.protocol.messages import PushedMessage
from paydesk.settings import AppConfig

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["PushRuntime", "is_retryable"]

log = logging.getLogger("paydesk.push")

Sleep = Callable[[float], Awaitable[None]]


def is_retryable(exc: Exception) -> bool:
    """Whether the same work may succeed later.

    >>> is_retryable(UpstreamFailed("wechat_45015", "window closed", retryable=False))
    False
    >>> is_retryable(UpstreamFailed("wechat_no_answer", "timeout", retryable=True))
    True
    >>> is_retryable(ConnectionResetError())   # the database, say
    True
    """
    if isinstance(exc, DomainError):
        return isinstance(exc, UpstreamFailed) and exc.retryable
    return True


class PushRuntime:
    """Runs pushes' work in background tasks, with retries; one per app process."""

    def __init__(self, settings: PushSettings | None = None, *, sleep: Sleep = asyncio.sleep):
        self.settings = settings or PushSettings()
        self._sleep = sleep
        self._tasks: set[asyncio.Task[Detour | None]] = set()

    @property
    def pending(self) -> int:
        """Pushes whose work has not ended yet."""
        return len(self._tasks)

    def spawn(
        self, services: Services, app: AppConfig, message: PushedMessage
    ) -> asyncio.Task[Detour | None]:
        """Start the work of ``message`` and return at once; the task ends with the outcome,
        or None when the work failed for good (logged)."""
        task = asyncio.create_task(self._run(services, app, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until no work is in flight (new work spawned meanwhile included)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the work in flight (process shutdown) and wait for it to stop."""
        for task in self._tasks:
            task.cancel()
        await self.drain()

    async def shutdown(self, grace_seconds: float) -> None:
        """Let the work in flight finish for up to ``grace_seconds``, then cancel the rest.

        What is cancelled is not lost: its push has no ``handled_at``, and the worker's
        ``rerun_pushes`` job takes it up again.
        """
        try:
            await asyncio.wait_for(asyncio.shield(self.drain()), timeout=grace_seconds)
        except TimeoutError:
            log.warning("%d push(es) still working at shutdown: cancelled", self.pending)
        await self.aclose()

    async def _run(
        self, services: Services, app: AppConfig, message: PushedMessage
    ) -> Detour | None:
        where = f"push {message.dedupe_key} to {app.appid}"
        delays = self.settings.retry_delays
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await run_detour(services, app, message, self.settings)
            except Exception as exc:
                # Whatever failed — WeChat, the database, a bug — is logged, and tried again
                # while it may pass: the push was answered already, nobody else will retry.
                if attempt > len(delays) or not is_retryable(exc):
                    log.error("%s failed for good (attempt %d)", where, attempt, exc_info=exc)
                    return None
                log.warning("%s failed (attempt %d), retrying: %s", where, attempt, exc)
                await self._sleep(delays[attempt - 1])
                continue
            try:
                await mark_handled(services, app.appid, message.dedupe_key)
            except Exception:
                # The work is done (a message went out): never redo it for a bookkeeping slip.
                log.exception("%s handled (%s), but handled_at was not saved", where, outcome)
            log.info("%s handled: %s", where, outcome)
            return outcome
