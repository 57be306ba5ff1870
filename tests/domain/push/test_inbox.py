"""paydesk.domain.push.inbox: a push is taken once per dedupe key, and marked when handled."""

from __future__ import annotations

import pytest

from paydesk.domain.push.inbox import mark_handled, stored_key, take_push
from paydesk.protocol.messages import PushedMessage
from tests.domain.push.support import stored_pushes
from tests.stack import MINI_APPID, OA_APPID, Stack

pytestmark = pytest.mark.backends


def message(**fields: str) -> PushedMessage:
    raw = {"ToUserName": "gh_1", "FromUserName": "o1", "CreateTime": 7, "MsgType": "text"}
    return PushedMessage(
        to_user="gh_1",
        from_user=fields.get("from_user", "o1"),
        create_time=7,
        msg_type=fields.get("msg_type", "text"),
        msg_id=fields.get("msg_id"),
        raw=raw,
    )


async def test_the_first_copy_is_taken_and_every_other_is_not(stack: Stack) -> None:
    first = message(msg_id="42")
    assert await take_push(stack.services, MINI_APPID, first) is True
    assert await take_push(stack.services, MINI_APPID, message(msg_id="42")) is False
    assert await take_push(stack.services, OA_APPID, first) is True  # keys are per app
    assert await take_push(stack.services, MINI_APPID, message(msg_id="43")) is True
    [row, _] = sorted(await stored_pushes(stack), key=lambda row: row.dedupe_key)
    assert (row.dedupe_key, row.payload["FromUserName"], row.handled_at) == ("msg:42", "o1", None)


async def test_events_are_taken_once_per_sender_and_second(stack: Stack) -> None:
    event = message(msg_type="event")
    assert await take_push(stack.services, MINI_APPID, event) is True
    assert await take_push(stack.services, MINI_APPID, message(msg_type="event")) is False
    assert await take_push(stack.services, MINI_APPID, message(msg_type="event", from_user="o2"))


async def test_handled_pushes_are_marked(stack: Stack) -> None:
    await take_push(stack.services, MINI_APPID, message(msg_id="1"))
    await take_push(stack.services, MINI_APPID, message(msg_id="2"))
    await mark_handled(stack.services, MINI_APPID, "msg:1")
    handled = {row.dedupe_key: row.handled_at for row in await stored_pushes(stack)}
    assert handled["msg:1"] is not None
    assert handled["msg:2"] is None


async def test_a_key_too_long_for_its_column_is_stored_as_a_digest(stack: Stack) -> None:
    long = message(msg_type="event", from_user="o" * 300)
    assert await take_push(stack.services, MINI_APPID, long) is True
    assert await take_push(stack.services, MINI_APPID, long) is False
    await mark_handled(stack.services, MINI_APPID, long.dedupe_key)
    [row] = await stored_pushes(stack)
    assert row.dedupe_key == stored_key(long.dedupe_key)
    assert row.dedupe_key.startswith("sha256:")
    assert row.handled_at is not None
