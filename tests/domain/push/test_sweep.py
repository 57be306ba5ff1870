"""Pushes left unhandled (their process died) are worked on again by the worker's sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from paydesk.db.models import PushMessage
from paydesk.domain.push.inbox import take_push
from paydesk.domain.push.sweep import GIVE_UP_AFTER, message_from_payload, rerun_unhandled_pushes
from paydesk.protocol.messages import parse_push
from tests.domain.push.support import PAY_PAGE, sent_to, stored_pushes
from tests.domain.push.test_detour import writer
from tests.stack import MINI_APPID, Stack

pytestmark = pytest.mark.backends


def card_xml(openid: str, order_id: str) -> bytes:
    return (
        f"<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>{openid}</FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType>miniprogrampage</MsgType>"
        f"<Title>我的订单</Title><PagePath>{PAY_PAGE}?order={order_id}</PagePath>"
        f"<AppId>{MINI_APPID}</AppId></xml>"
    ).encode()


async def age(stack: Stack, delta: timedelta) -> None:
    async with stack.services.db.begin() as session:
        await session.execute(
            update(PushMessage).values(received_at=stack.services.clock.now() - delta)
        )


def test_a_stored_push_parses_back_to_the_same_message() -> None:
    message = parse_push(card_xml("o-user", "ord_1"), "xml")
    assert message_from_payload(dict(message.raw)) == message


async def test_an_unhandled_push_is_worked_on_once_it_is_stale(stack: Stack) -> None:
    openid = await writer(stack)
    order = await stack.create_order(amount=1200)
    assert await take_push(
        stack.services, MINI_APPID, parse_push(card_xml(openid, order["id"]), "xml")
    )
    assert await rerun_unhandled_pushes(stack.services) == 0  # fresh: its own worker may run
    await age(stack, timedelta(minutes=5))
    assert await rerun_unhandled_pushes(stack.services) == 1
    messages = await sent_to(stack, openid)
    assert [m["body"]["msgtype"] for m in messages] == ["link"]
    assert [row.handled_at is not None for row in await stored_pushes(stack)] == [True]
    assert await rerun_unhandled_pushes(stack.services) == 0


async def test_a_push_older_than_a_day_is_given_up(stack: Stack) -> None:
    openid = await writer(stack)
    order = await stack.create_order(amount=1200)
    await take_push(stack.services, MINI_APPID, parse_push(card_xml(openid, order["id"]), "xml"))
    await age(stack, GIVE_UP_AFTER + timedelta(minutes=1))
    assert await rerun_unhandled_pushes(stack.services) == 1
    assert await sent_to(stack, openid) == []
