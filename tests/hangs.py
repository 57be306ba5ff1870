"""When a test hangs, show where its asyncio tasks wait, not only its threads.

pytest's ``faulthandler_timeout`` (pyproject.toml) prints every *thread's* stack when a test
runs too long; for an async test that is mostly the event loop idling in ``select``. This
plugin's autouse fixture starts a timer with the same timeout, and when it fires it writes
the stack of every pending asyncio task of the process to the same stream (the real stderr,
which an xdist worker shares with CI's log). pytest-timeout then fails the test. See
docs/testing.md.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import Iterator

import pytest
from _pytest.faulthandler import fault_handler_stderr_fd_key


def write_pending_tasks(fd: int) -> None:
    """Write the stack of every pending asyncio task to file descriptor ``fd``."""
    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    with os.fdopen(os.dup(fd), "w", encoding="utf-8", errors="replace") as out:
        out.write(f"\n{len(tasks)} pending asyncio task(s):\n")
        for task in tasks:
            task.print_stack(file=out)


@pytest.fixture(autouse=True)
def _pending_tasks_if_hung(request: pytest.FixtureRequest) -> Iterator[None]:
    seconds = float(request.config.getini("faulthandler_timeout") or 0)
    fd = request.config.stash.get(fault_handler_stderr_fd_key, None)
    if seconds <= 0 or fd is None:
        yield
        return
    timer = threading.Timer(seconds, write_pending_tasks, args=(fd,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
