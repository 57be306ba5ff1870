"""paydesk.domain.push.detour against the sandbox: which message gets which answer, and the
link card's content. The sandbox records every customer-service message it accepted."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from paydesk.domain.cashier.links import open_link
from paydesk.domain.errors import Conflict, UpstreamFailed
from paydesk.domain.push import Detour, PushSettings, run_detour
from paydesk.protocol.messages import PushedMessage
from tests.domain.push.support import PAY_PAGE, new_person, sent_to
from tests.domain.users.support import log_in
from tests.stack import MINI_APPID, OA_APPID, PAYDESK_URL, PUBLIC_KEY_MCHID, Stack

pytestmark = pytest.mark.backends


def card(openid: str, page_path: str) -> PushedMessage:
    return PushedMessage(
        to_user="gh_1",
        from_user=openid,
        create_time=1,
        msg_type="miniprogrampage",
        title="我的订单",
        page_path=page_path,
        msg_id="1",
    )


def text(openid: str, content: str) -> PushedMessage:
    return PushedMessage(
        to_user="gh_1", from_user=openid, create_time=1, msg_type="text", content=content
    )


async def writer(stack: Stack, appid: str = MINI_APPID) -> str:
    """A person who just wrote to the app (the send window is open)."""
    if appid == MINI_APPID:
        openid = (await new_person(stack))["openid"]
    else:
        answer = await stack.sandbox_client.post("/_sandbox/oauth-code", json={"appid": appid})
        assert answer.status_code == 200, answer.text
        openid = answer.json()["openid"]
    now = stack.sandbox.clock.now()
    stack.sandbox.identity.customer_service.record_interaction(appid, openid, now)
    return openid


async def detour(
    stack: Stack,
    message: PushedMessage,
    settings: PushSettings | None = None,
    appid: str = MINI_APPID,
) -> Detour:
    app = stack.services.registry.app(appid)
    return await run_detour(stack.services, app, message, settings or PushSettings())


async def only_message(stack: Stack, openid: str) -> dict[str, Any]:
    messages = await sent_to(stack, openid)
    assert len(messages) == 1, messages
    body: dict[str, Any] = messages[0]["body"]
    return body


async def paid_order(stack: Stack, payer_openid: str) -> dict[str, Any]:
    """An order paid (by Native QR, in the mini program's name) by ``payer_openid``."""
    order = await stack.create_order(amount=300)
    answer = await stack.api.post(
        f"/api/v1/orders/{order['id']}/pay",
        json={"channel": "native"},
        headers=stack.merchant_headers,
    )
    assert answer.status_code == 200, answer.text
    paid = await stack.sandbox_client.post(
        "/_sandbox/pay",
        json={"code_url": answer.json()["params"]["code_url"], "openid": payer_openid},
    )
    assert paid.status_code == 200, paid.text
    await stack.sandbox.pay.drain()
    return order


# --- the link card ------------------------------------------------------------------------------


async def test_a_card_gets_a_link_card_to_the_orders_cashier(stack: Stack) -> None:
    openid = await writer(stack)
    order = await stack.create_order(amount=1999, description="会员月卡", mchid=PUBLIC_KEY_MCHID)
    outcome = await detour(stack, card(openid, f"{PAY_PAGE}?order={order['id']}"))
    assert outcome == Detour.LINK_SENT
    body = await only_message(stack, openid)
    assert (body["touser"], body["msgtype"]) == (openid, "link")
    link = body["link"]
    merchant = stack.services.registry.merchant(PUBLIC_KEY_MCHID).name
    assert link["title"] == f"{merchant}：待支付订单"
    assert link["description"].splitlines()[:2] == ["会员月卡", "金额：¥19.99"]
    assert link["thumb_url"] == f"{PAYDESK_URL}/wechat/thumb.png"
    url = urlsplit(link["url"])
    assert f"{url.scheme}://{url.netloc}" == PAYDESK_URL
    token = url.path.removeprefix("/pay/")
    assert open_link(stack.services, token).order_id == order["id"]


@pytest.mark.parametrize("where", ["card_trade_no", "text_order_id", "text_attempt_no"])
async def test_paydesk_numbers_find_the_order_in_cards_and_texts(stack: Stack, where: str) -> None:
    openid = await writer(stack)
    order = await stack.create_order()
    message = {
        "card_trade_no": card(openid, f"{PAY_PAGE}?out_trade_no={order['out_trade_no']}"),
        "text_order_id": text(openid, f"帮我付一下 {order['id']} 谢谢"),
        "text_attempt_no": text(openid, f"{order['out_trade_no']}-2"),
    }[where]
    assert await detour(stack, message) == Detour.LINK_SENT
    body = await only_message(stack, openid)
    token = urlsplit(body["link"]["url"]).path.removeprefix("/pay/")
    assert open_link(stack.services, token).order_id == order["id"]


async def test_templates_and_thumb_are_configurable(stack: Stack) -> None:
    openid = await writer(stack)
    order = await stack.create_order(amount=5, description="Gold", merchant_order_id="A-77")
    settings = PushSettings(
        link_title="Pay {order} at {merchant}",
        link_description="{description}, CNY {amount}",
        thumb_url="https://shop.example/logo.png",
    )
    assert await detour(stack, card(openid, f"{PAY_PAGE}?order={order['id']}"), settings) == (
        Detour.LINK_SENT
    )
    link = (await only_message(stack, openid))["link"]
    assert link["title"].startswith("Pay A-77 at Sandbox merchant")
    assert link["description"] == "Gold, CNY 0.05"
    assert link["thumb_url"] == "https://shop.example/logo.png"


# --- whose order --------------------------------------------------------------------------------


async def test_a_merchant_order_id_finds_only_an_order_bound_to_this_user(stack: Stack) -> None:
    openid = await writer(stack)
    user = await log_in(stack, openid=openid)
    mine = await stack.create_order(merchant_order_id="A-1042", user_id=user.user["id"])
    await stack.create_order(merchant_order_id="B-2042")  # bound to nobody: guessable, refused
    assert await detour(stack, text(openid, "订单 B-2042 怎么付")) == Detour.IGNORED
    assert await sent_to(stack, openid) == []
    assert await detour(stack, text(openid, "订单 A-1042 怎么付")) == Detour.LINK_SENT
    token = urlsplit((await only_message(stack, openid))["link"]["url"]).path.removeprefix("/pay/")
    assert open_link(stack.services, token).order_id == mine["id"]


async def test_a_card_naming_an_order_this_user_may_not_pay_is_not_found(stack: Stack) -> None:
    openid = await writer(stack)
    other = await log_in(stack)
    theirs = await stack.create_order(user_id=other.user["id"])
    guessable = await stack.create_order(merchant_order_id="C-3042")
    for path in (f"{PAY_PAGE}?order={theirs['id']}", f"{PAY_PAGE}?order=C-3042"):
        assert await detour(stack, card(openid, path)) == Detour.NOT_FOUND_SENT
    replies = [m["body"]["text"]["content"] for m in await sent_to(stack, openid)]
    assert replies == [
        f"没有找到订单 {theirs['id']}，请核对后再发送。",
        "没有找到订单 C-3042，请核对后再发送。",
    ]
    assert guessable["state"] == "CREATED"


async def test_an_unknown_paydesk_number_is_not_found(stack: Stack) -> None:
    openid = await writer(stack)
    assert await detour(stack, text(openid, "ord_01KDVDNA00000000000000000Z")) == (
        Detour.NOT_FOUND_SENT
    )
    assert (await only_message(stack, openid))["msgtype"] == "text"


async def test_an_order_bound_to_a_mini_program_openid_cannot_take_a_jsapi_link(
    stack: Stack,
) -> None:
    openid = await writer(stack)
    order = await stack.create_order(payer_openid=openid)  # the mini program's openid
    assert await detour(stack, card(openid, f"{PAY_PAGE}?order={order['id']}")) == (
        Detour.NOT_PAYABLE_SENT
    )
    content = (await only_message(stack, openid))["text"]["content"]
    assert content == f"订单 {order['merchant_order_id']} 只能由下单的账号在小程序内支付。"


async def test_an_official_accounts_user_gets_a_link_for_an_order_bound_to_them_there(
    stack: Stack,
) -> None:
    openid = await writer(stack, OA_APPID)
    order = await stack.create_order(appid=OA_APPID, payer_openid=openid, merchant_order_id="OA-9")
    assert await detour(stack, text(openid, "OA-9 怎么付"), appid=OA_APPID) == Detour.LINK_SENT
    token = urlsplit((await only_message(stack, openid))["link"]["url"]).path.removeprefix("/pay/")
    assert open_link(stack.services, token).order_id == order["id"]


# --- orders that cannot be paid -----------------------------------------------------------------


async def test_an_order_paid_while_the_link_was_being_made_gets_its_state(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def just_paid(*args: object, **kwargs: object) -> None:
        raise Conflict("order_not_payable", "order is PAID", state="PAID")

    monkeypatch.setattr("paydesk.domain.push.detour.issue_link", just_paid)
    openid = await writer(stack)
    order = await stack.create_order()
    assert await detour(stack, text(openid, order["id"])) == Detour.NOT_PAYABLE_SENT
    content = (await only_message(stack, openid))["text"]["content"]
    assert content == f"订单 {order['merchant_order_id']} 已支付，无需再次付款。"


async def test_a_paid_order_gets_its_state_instead_of_a_link(stack: Stack) -> None:
    # Its payer asks again: a paid order is theirs (settle recorded them), so they are told.
    openid = await writer(stack)
    order = await paid_order(stack, openid)
    assert await detour(stack, card(openid, f"{PAY_PAGE}?order={order['id']}")) == (
        Detour.NOT_PAYABLE_SENT
    )
    content = (await only_message(stack, openid))["text"]["content"]
    assert content == f"订单 {order['merchant_order_id']} 已支付，无需再次付款。"
    somebody = await writer(stack)  # to anyone else, a paid order is nobody's business
    assert await detour(stack, text(somebody, order["id"])) == Detour.NOT_FOUND_SENT


async def test_closed_and_expiring_orders_get_their_state(stack: Stack) -> None:
    openid = await writer(stack)
    closed = await stack.create_order()
    answer = await stack.api.post(
        f"/api/v1/orders/{closed['id']}/close", headers=stack.merchant_headers
    )
    assert answer.status_code == 200, answer.text
    expiring = await stack.create_order(expires_in=60)  # within the margin: not worth a link
    for order in (closed, expiring):
        await detour(stack, text(openid, order["id"]))
    replies = [m["body"]["text"]["content"] for m in await sent_to(stack, openid)]
    assert replies == [
        f"订单 {closed['merchant_order_id']} 已关闭，请重新下单。",
        f"订单 {expiring['merchant_order_id']} 已过期，请重新下单。",
    ]


# --- messages that are not about an order -------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"msg_type": "text", "content": "你好，在吗？"},
        {"msg_type": "image", "pic_url": "https://x.example/a.png", "media_id": "m"},
        {"msg_type": "event", "event": "user_enter_tempsession"},
        {"msg_type": "miniprogrampage", "title": "首页", "page_path": "pages/index/index"},
    ],
)
async def test_messages_naming_no_order_get_no_answer(stack: Stack, fields: dict[str, Any]) -> None:
    openid = await writer(stack)
    message = PushedMessage(to_user="gh_1", from_user=openid, create_time=1, **fields)
    assert await detour(stack, message) == Detour.IGNORED
    assert await sent_to(stack, openid) == []


async def test_wechat_refusing_the_message_is_an_error_not_worth_retrying(stack: Stack) -> None:
    openid = (await new_person(stack))["openid"]  # never wrote: the 48 h window is closed
    order = await stack.create_order()
    with pytest.raises(UpstreamFailed) as refused:
        await detour(stack, card(openid, f"{PAY_PAGE}?order={order['id']}"))
    assert refused.value.code == "wechat_45015"
    assert refused.value.retryable is False
