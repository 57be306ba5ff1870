"""tests/hangs.py writes every pending asyncio task's stack where a hung run's log shows it."""

from __future__ import annotations

import asyncio
import os

from tests.hangs import write_pending_tasks


async def test_every_pending_task_is_written_with_where_it_waits() -> None:
    async def waiting_for_a_lock_nobody_releases() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(waiting_for_a_lock_nobody_releases())
    await asyncio.sleep(0)
    read_end, write_end = os.pipe()
    try:
        write_pending_tasks(write_end)
    finally:
        os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as written:
        text = written.read()
    task.cancel()
    assert "pending asyncio task(s)" in text
    assert "waiting_for_a_lock_nobody_releases" in text
    assert "await asyncio.Event().wait()" in text
