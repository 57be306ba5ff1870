"""The customer-service send API: token first, then the body, then the 48 h window; every
accepted message is recorded per user."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from paydesk.protocol.messages import (
    custom_image,
    custom_link,
    custom_miniprogrampage,
    custom_text,
    encode_send_body,
)
from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.custom import OFFICIAL_ACCOUNT_QUOTA, REPLY_WINDOW
from paydesk.sandbox.identity.persons import Person
from paydesk.sandbox.identity.tokens import TOKEN_LIFETIME

ExpectErrcode = Callable[[httpx.Response, int], None]
LoginCode = Callable[..., Awaitable[dict[str, Any]]]
SEND = "/cgi-bin/message/custom/send"


async def token_for(client: httpx.AsyncClient, app: AppCredentials) -> str:
    params = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret}
    token: str = (await client.get("/cgi-bin/token", params=params)).json()["access_token"]
    return token


def user_wrote(sandbox: Sandbox, app: AppCredentials) -> Person:
    """A person who has just written to ``app`` (what a push records)."""
    person = sandbox.identity.persons.create()
    sandbox.identity.customer_service.record_interaction(
        app.appid, person.openid_for(app.appid), sandbox.clock.now()
    )
    return person


async def send(
    client: httpx.AsyncClient, token: str, body: bytes | dict[str, Any]
) -> httpx.Response:
    content = body if isinstance(body, bytes) else encode_send_body(body)
    return await client.post(SEND, params={"access_token": token}, content=content)


@pytest.mark.parametrize(
    "build",
    [
        lambda to: custom_text(to, "你好 <a href='https://m.example/pay'>pay</a>"),
        lambda to: custom_image(to, "MEDIA_ID"),
        lambda to: custom_link(to, "Pay", "Order 1", "https://m.example/p", "https://m.example/t"),
        lambda to: custom_miniprogrampage(to, "Order", "pages/order?id=1", "THUMB"),
    ],
    ids=["text", "image", "link", "miniprogrampage"],
)
async def test_each_message_type_is_accepted_and_recorded(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    build: Callable[[str], dict[str, Any]],
) -> None:
    person = user_wrote(sandbox, mini)
    openid = person.openid_for(mini.appid)
    body = build(openid)
    response = await send(sandbox_client, await token_for(sandbox_client, mini), body)
    assert response.status_code == 200
    assert response.json() == {"errcode": 0, "errmsg": "ok"}
    listed = (await sandbox_client.get("/_sandbox/messages", params={"touser": openid})).json()
    assert listed["touser"] == openid
    [message] = listed["messages"]
    assert message["msgtype"] == body["msgtype"]
    assert message["body"] == body
    assert message["appid"] == mini.appid
    assert message["time"] == sandbox.identity.customer_service.messages_to(openid)[0]["time"]


async def test_messages_are_listed_oldest_first_per_user(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, mini: AppCredentials
) -> None:
    token = await token_for(sandbox_client, mini)
    alice, bob = user_wrote(sandbox, mini), user_wrote(sandbox, mini)
    for text in ("one", "two"):
        await send(sandbox_client, token, custom_text(alice.openid_for(mini.appid), text))
    await send(sandbox_client, token, custom_text(bob.openid_for(mini.appid), "three"))
    texts = [
        m["body"]["text"]["content"]
        for m in (
            await sandbox_client.get(
                "/_sandbox/messages", params={"touser": alice.openid_for(mini.appid)}
            )
        ).json()["messages"]
    ]
    assert texts == ["one", "two"]
    nobody = await sandbox_client.get("/_sandbox/messages", params={"touser": "o-nobody"})
    assert nobody.json() == {"touser": "o-nobody", "messages": []}
    missing = await sandbox_client.get("/_sandbox/messages")
    assert missing.status_code == 400


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (b"", 44002),
        (b"\n", 44002),
        (b"{oops", 47001),
        (b'"text"', 47001),
        (b'{"msgtype":"text","text":{"content":"x"}}', 40003),
        (b'{"touser":"","msgtype":"text","text":{"content":"x"}}', 40003),
        (b'{"touser":"OPENID","msgtype":"voice","voice":{"media_id":"m"}}', 40008),
        (b'{"touser":"OPENID","text":{"content":"x"}}', 40008),
        (b'{"touser":"OPENID","msgtype":"text"}', 47001),
        (b'{"touser":"OPENID","msgtype":"text","text":{"content":""}}', 47001),
        (b'{"touser":"OPENID","msgtype":"text","text":{"content":5}}', 47001),
        (b'{"touser":"OPENID","msgtype":"link","link":{"title":"t","url":"u"}}', 47001),
        (b'{"touser":"OPENID","msgtype":"text","text":{"content":"\\ud800"}}', 47001),
        (b'{"touser":"o-unknown","msgtype":"text","text":{"content":"x"}}', 40003),
        (b'{"touser":"OPENID","msgtype":"text","text":{"content":"' + b"x" * 70000 + b'"}}', 45002),
    ],
)
async def test_bad_bodies_get_wechats_codes(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    expect_errcode: ExpectErrcode,
    body: bytes,
    errcode: int,
) -> None:
    openid = user_wrote(sandbox, mini).openid_for(mini.appid)
    content = body.replace(b"OPENID", openid.encode())
    expect_errcode(
        await send(sandbox_client, await token_for(sandbox_client, mini), content), errcode
    )
    assert sandbox.identity.customer_service.messages_to(openid) == []


async def test_the_openid_must_belong_to_the_tokens_app(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    oa: AppCredentials,
    expect_errcode: ExpectErrcode,
) -> None:
    person = user_wrote(sandbox, mini)
    response = await send(
        sandbox_client,
        await token_for(sandbox_client, oa),
        custom_text(person.openid_for(mini.appid), "hi"),
    )
    expect_errcode(response, 40003)


async def test_the_token_is_checked_before_the_body(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    expect_errcode: ExpectErrcode,
) -> None:
    body = b"not even json"
    expect_errcode(await sandbox_client.post(SEND, content=body), 41001)
    expect_errcode(await send(sandbox_client, "bad-token", body), 40001)
    token = await token_for(sandbox_client, mini)
    sandbox.clock.advance(TOKEN_LIFETIME.total_seconds())
    expect_errcode(await send(sandbox_client, token, body), 42001)


async def test_no_message_without_a_user_message_within_48_hours(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    mini: AppCredentials,
    login_code: LoginCode,
    expect_errcode: ExpectErrcode,
) -> None:
    silent = (await login_code())["openid"]
    token = await token_for(sandbox_client, mini)
    expect_errcode(await send(sandbox_client, token, custom_text(silent, "hi")), 45015)
    wrote = user_wrote(sandbox, mini).openid_for(mini.appid)
    sandbox.clock.advance(REPLY_WINDOW.total_seconds() - 60)
    stable = {"grant_type": "client_credential", "appid": mini.appid, "secret": mini.secret}
    token = (await sandbox_client.post("/cgi-bin/stable_token", json=stable)).json()["access_token"]
    assert (await send(sandbox_client, token, custom_text(wrote, "in time"))).json()["errcode"] == 0
    sandbox.clock.advance(60)
    expect_errcode(await send(sandbox_client, token, custom_text(wrote, "too late")), 45015)
    assert [
        m["body"]["text"]["content"] for m in sandbox.identity.customer_service.messages_to(wrote)
    ] == ["in time"]


async def test_an_official_account_may_send_five_messages_per_user_message(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    mini: AppCredentials,
    expect_errcode: ExpectErrcode,
) -> None:
    token = await token_for(sandbox_client, oa)
    openid = user_wrote(sandbox, oa).openid_for(oa.appid)
    for n in range(OFFICIAL_ACCOUNT_QUOTA):
        ok = await send(sandbox_client, token, custom_text(openid, f"#{n}"))
        assert ok.json()["errcode"] == 0
    expect_errcode(await send(sandbox_client, token, custom_text(openid, "sixth")), 45047)
    sandbox.identity.customer_service.record_interaction(oa.appid, openid, sandbox.clock.now())
    assert (await send(sandbox_client, token, custom_text(openid, "again"))).json()["errcode"] == 0
    # Mini programs have no such count.
    mini_token = await token_for(sandbox_client, mini)
    mini_openid = user_wrote(sandbox, mini).openid_for(mini.appid)
    for n in range(OFFICIAL_ACCOUNT_QUOTA + 2):
        answer = await send(sandbox_client, mini_token, custom_text(mini_openid, f"#{n}"))
        assert answer.json()["errcode"] == 0


async def test_reset_forgets_messages_and_windows(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, mini: AppCredentials
) -> None:
    openid = user_wrote(sandbox, mini).openid_for(mini.appid)
    await send(sandbox_client, await token_for(sandbox_client, mini), custom_text(openid, "x"))
    assert (await sandbox_client.post("/_sandbox/reset")).status_code == 200
    assert sandbox.identity.customer_service.messages_to(openid) == []
    assert (
        json.loads(
            (await sandbox_client.get("/_sandbox/messages", params={"touser": openid})).content
        )["messages"]
        == []
    )
