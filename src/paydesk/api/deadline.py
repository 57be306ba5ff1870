"""Answer WeChat before it gives up, without cancelling the work it is waiting for.

WeChat counts an answer that takes over 5 s as a failure and sends the message again — a
payment notification, and a virtual payment's ``xpay_goods_deliver_notify`` push alike. Their
routes run the work as a task of its own and wait for it at most a deadline a little shorter:
late work is not cancelled halfway through a transaction, it finishes (or rolls back) on its
own, and WeChat's next copy finds it applied (a duplicate) or applies it.

Each app keeps its own :class:`InFlight` (``app.state.in_flight``), so one app's shutdown
waits for its own late work only, and never for long: work still stuck after the grace period
(a database that stopped answering) is cancelled, rolls back, and WeChat's retry redoes it.

    in_flight = InFlight()
    task = await in_flight.within_deadline(apply(body), seconds=4.0, what="notification")
    if task is None:
        return answer_later()  # a non-2xx: WeChat will send it again
    receipt = task.result()     # the work's own exception, if it raised
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

__all__ = ["InFlight", "in_flight_of"]

log = logging.getLogger("paydesk.api.deadline")
Result = TypeVar("Result")


def _late_failure_logger(what: str) -> Callable[[asyncio.Task[Any]], None]:
    def log_late_failure(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("late %s work failed", what, exc_info=task.exception())

    return log_late_failure


class InFlight:
    """Work whose answer may go out before it is done, kept referenced until it finishes.

    >>> import asyncio
    >>> async def demo() -> int:
    ...     in_flight = InFlight()
    ...     task = await in_flight.within_deadline(asyncio.sleep(0, 7), seconds=1, what="demo")
    ...     await in_flight.finish(grace_seconds=1)
    ...     return task.result()
    >>> asyncio.run(demo())
    7
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    async def within_deadline(
        self, work: Coroutine[Any, Any, Result], *, seconds: float, what: str
    ) -> asyncio.Task[Result] | None:
        """``work``'s finished task, or ``None`` when it was not done within ``seconds``: it
        then goes on in the background, and its failure, if any, is logged as ``what``'s."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # asyncio.wait, unlike wait_for, never cancels what it waits for (no shield needed).
        done, _ = await asyncio.wait((task,), timeout=seconds)
        if not done:
            task.add_done_callback(_late_failure_logger(what))
            return None
        return task

    async def finish(self, *, grace_seconds: float) -> None:
        """Wait up to ``grace_seconds`` for late work (shutdown, tests), then cancel what is
        left: its transaction rolls back and WeChat's next copy of the message redoes it."""
        if not self._tasks:
            return
        _, stuck = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in stuck:
            log.error("late work still running after %.1f s at shutdown; cancelled", grace_seconds)
            task.cancel()
        if stuck:
            await asyncio.wait(stuck, timeout=grace_seconds)


def in_flight_of(request: Request) -> InFlight:
    """The :class:`InFlight` of the app serving ``request`` (set up by ``create_app``)."""
    in_flight: InFlight = request.app.state.in_flight
    return in_flight
