"""Answer WeChat before it gives up, without cancelling the work it is waiting for.

WeChat counts an answer that takes over 5 s as a failure and sends the message again — a
payment notification, and a virtual payment's ``xpay_goods_deliver_notify`` push alike. Their
routes run the work as a task of its own and wait for it at most a deadline a little shorter:
late work is not cancelled halfway through a transaction, it finishes (or rolls back) on its
own, and WeChat's next copy finds it applied (a duplicate) or applies it.

    task = await within_deadline(apply(body), seconds=4.0, what="notification")
    if task is None:
        return answer_later()  # a non-2xx: WeChat will send it again
    receipt = task.result()     # the work's own exception, if it raised
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["finish_in_flight", "within_deadline"]

log = logging.getLogger("paydesk.api.deadline")
Result = TypeVar("Result")

#: Work still going on after its answer went out, kept referenced until it finishes.
_in_flight: set[asyncio.Task[Any]] = set()


def _late_failure_logger(what: str) -> Callable[[asyncio.Task[Any]], None]:
    def log_late_failure(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("late %s work failed", what, exc_info=task.exception())

    return log_late_failure


async def within_deadline(
    work: Coroutine[Any, Any, Result], *, seconds: float, what: str
) -> asyncio.Task[Result] | None:
    """``work``'s finished task, or ``None`` when it was not done within ``seconds``: it then
    goes on in the background, and its failure, if any, is logged as ``what``'s."""
    task = asyncio.create_task(work)
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)
    # asyncio.wait, unlike wait_for, never cancels what it waits for (no shield needed).
    done, _ = await asyncio.wait((task,), timeout=seconds)
    if not done:
        task.add_done_callback(_late_failure_logger(what))
        return None
    return task


async def finish_in_flight() -> None:
    """Wait for work whose answer went out before it was done (shutdown, tests)."""
    await asyncio.gather(*_in_flight, return_exceptions=True)
