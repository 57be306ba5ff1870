"""Pushes to the merchant over the control API: signed and sealed as WeChat does, retried three
times unless answered ``success`` in time, recorded, and reopening the 48 h window."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from paydesk.protocol.messages import (
    PushFormat,
    check_push_signature,
    custom_text,
    encode_send_body,
    parse_push,
)
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.identity import push as push_module
from paydesk.sandbox.identity.push_build import PushMode, original_id
from tests.sandbox.identity.merchant import PUSH_URL, Merchant, World, open_push, open_world


@pytest.fixture
async def world(sandbox_credentials: SandboxCredentials) -> AsyncIterator[World]:
    async with open_world(sandbox_credentials, Merchant(), seed=1234) as built:
        yield built


# ---- push URL ----


async def test_push_url_is_set_and_read_per_app(world: World) -> None:
    await world.set_url(world.mini)
    answer = (
        await world.client.get("/_sandbox/push-url", params={"appid": world.mini.appid})
    ).json()
    assert answer == {
        "appid": world.mini.appid,
        "url": PUSH_URL,
        "original_id": original_id(world.mini.appid),
    }
    other = (await world.client.get("/_sandbox/push-url", params={"appid": world.oa.appid})).json()
    assert other["url"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"nope", 400),
        (b'{"appid": "MINI", "url": "ftp://merchant.example/"}', 400),
        (b'{"appid": "MINI", "url": "/relative"}', 400),
        (b'{"appid": "MINI", "url": 7}', 400),
        (b'{"appid": "MINI", "url": "https://m.example/' + b"x" * 1100 + b'"}', 400),
        (b'{"appid": "wx0000000000000000", "url": "https://m.example/"}', 404),
        (b'{"appid": 5, "url": "https://m.example/"}', 404),
        (b'{"appid": "MINI", "url": "http://[::1/"}', 400),
        (b'{"appid": "MINI", "url": "http://m.example:99999/"}', 400),
        (b'{"appid": "MINI", "url": "http://\\ud800.example/"}', 400),
        (b'{"appid": "MINI", "url": "http:///path-only"}', 400),
    ],
)
async def test_push_url_refusals(world: World, body: bytes, status: int) -> None:
    content = body.replace(b"MINI", world.mini.appid.encode())
    response = await world.client.put("/_sandbox/push-url", content=content)
    assert response.status_code == status
    missing = await world.client.get("/_sandbox/push-url", params={"appid": "wx0"})
    assert missing.status_code == 404


# ---- pushes, all modes and formats ----


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
@pytest.mark.parametrize("fmt", ["xml", "json"])
async def test_a_push_arrives_signed_and_sealed_as_wechat_sends_it(
    world: World, mode: PushMode, fmt: PushFormat
) -> None:
    await world.set_url(world.mini)
    response = await world.push(
        appid=world.mini.appid,
        message={"MsgType": "text", "Content": "我要付款"},
        mode=mode,
        format=fmt,
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["delivered"] is True
    assert [a["attempt"] for a in record["attempts"]] == [1]
    assert record["attempts"][0]["status"] == 200
    [received] = world.merchant.received
    assert received["method"] == "POST"
    assert received["path"] == "/wechat/push"
    expected_type = "text/xml" if fmt == "xml" else "application/json"
    assert received["headers"]["content-type"] == expected_type
    assert received["query"]["openid"] == record["openid"]
    message = parse_push(open_push(world.mini, received["query"], received["body"], mode, fmt), fmt)
    assert message.msg_type == "text"
    assert message.content == "我要付款"
    assert message.from_user == record["openid"]
    assert message.to_user == original_id(world.mini.appid)
    assert message.msg_id == str(record["msg_id"])
    virtual_now = datetime.fromisoformat(record["time"])
    assert message.create_time == int(virtual_now.timestamp())
    assert record["request"]["body"].encode() == received["body"]
    assert world.sandbox.identity.persons.by_openid(world.mini.appid, record["openid"])


async def test_defaults_are_safe_mode_and_xml_and_official_accounts_push_xml_only(
    world: World,
) -> None:
    await world.set_url(world.oa)
    record = (
        await world.push(appid=world.oa.appid, message={"MsgType": "text", "Content": "hi"})
    ).json()
    assert (record["mode"], record["format"]) == ("safe", "xml")
    assert world.merchant.received[0]["query"]["encrypt_type"] == "aes"
    refused = await world.push(
        appid=world.oa.appid, message={"MsgType": "text", "Content": "hi"}, format="json"
    )
    assert refused.status_code == 400
    assert "xml only" in refused.json()["message"]


@pytest.mark.parametrize(
    "message",
    [
        {"MsgType": "image"},
        {"MsgType": "miniprogrampage", "Title": "Order 7", "PagePath": "pages/pay?order=7"},
        {"MsgType": "event", "Event": "user_enter_tempsession", "SessionFrom": "order-7"},
    ],
    ids=["image", "miniprogrampage", "event"],
)
async def test_every_message_type_reaches_the_merchant(
    world: World, message: dict[str, Any]
) -> None:
    await world.set_url(world.mini)
    record = (
        await world.push(appid=world.mini.appid, message=message, mode="safe", format="json")
    ).json()
    received = world.merchant.received[0]
    opened = open_push(world.mini, received["query"], received["body"], "safe", "json")
    pushed = parse_push(opened, "json")
    assert pushed.msg_type == message["MsgType"]
    if message["MsgType"] == "event":
        assert (pushed.event, pushed.session_from, pushed.msg_id) == (
            "user_enter_tempsession",
            "order-7",
            None,
        )
        assert record["msg_id"] is None
    elif message["MsgType"] == "image":
        person = world.sandbox.identity.persons.by_openid(world.mini.appid, record["openid"])
        assert person is not None
        assert pushed.pic_url == f"http://sandbox.test/_sandbox/avatar/{person.unionid}.svg"
        assert pushed.media_id
        assert len(pushed.media_id) == 64
    else:
        assert (pushed.title, pushed.page_path, pushed.app_id) == (
            "Order 7",
            "pages/pay?order=7",
            world.mini.appid,
        )


# ---- retries ----


@pytest.mark.parametrize(
    ("answers", "delivered", "attempts"),
    [
        ([(500, "", 0)], False, 4),
        ([(200, "oops", 0)], False, 4),
        ([(404, "success", 0)], False, 4),
        ([(503, "", 0), (200, "success", 0)], True, 2),
        ([(500, "", 0), (500, "", 0), (500, "", 0), (200, "", 0)], True, 4),
        ([(200, "", 0)], True, 1),
        ([(200, "  success\n", 0)], True, 1),
        (
            [(200, "<xml><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>", 0)],
            True,
            1,
        ),
    ],
)
async def test_wechat_tries_three_more_times_with_the_same_msgid(
    world: World, answers: list[tuple[int, str, float]], delivered: bool, attempts: int
) -> None:
    world.merchant.answers = answers
    await world.set_url(world.mini)
    record = (
        await world.push(
            appid=world.mini.appid, message={"MsgType": "text", "Content": "x"}, mode="plain"
        )
    ).json()
    assert record["delivered"] is delivered
    assert len(record["attempts"]) == len(world.merchant.received) == attempts
    assert [a["attempt"] for a in record["attempts"]] == list(range(1, attempts + 1))
    assert len({r["body"] for r in world.merchant.received}) == 1  # same MsgId, same bytes
    assert all(a["error"] is None for a in record["attempts"])


async def test_a_merchant_slower_than_the_deadline_is_retried(world: World) -> None:
    world.sandbox.identity.pushes.deadline = 0.05
    world.merchant.answers = [(200, "success", 0.5), (200, "success", 0)]
    await world.set_url(world.mini)
    record = (
        await world.push(appid=world.mini.appid, message={"MsgType": "text", "Content": "x"})
    ).json()
    assert record["delivered"] is True
    first, second = record["attempts"]
    assert (first["status"], first["error"]) == (None, "no answer within 0.05 s")
    assert (second["status"], second["error"]) == (200, None)


async def test_an_unreachable_merchant_gets_four_attempts(
    sandbox_credentials: SandboxCredentials,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    box = Sandbox(sandbox_credentials, transport=httpx.MockTransport(refuse), seed=1)
    mini = next(a for a in sandbox_credentials.apps if a.type == "miniprogram")
    async with (
        box,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=box.asgi()), base_url="http://sandbox.test"
        ) as client,
    ):
        await client.put("/_sandbox/push-url", json={"appid": mini.appid, "url": PUSH_URL})
        record = (
            await client.post(
                "/_sandbox/push",
                json={"appid": mini.appid, "message": {"MsgType": "text", "Content": "x"}},
            )
        ).json()
    assert record["delivered"] is False
    assert [a["error"] for a in record["attempts"]] == ["ConnectError: connection refused"] * 4


# ---- the person, the window, the record ----


async def test_a_push_opens_the_48h_window_for_the_send_api(world: World) -> None:
    await world.set_url(world.mini)
    openid = "oPushedUser00000000000000001"
    params = {
        "grant_type": "client_credential",
        "appid": world.mini.appid,
        "secret": world.mini.secret,
    }
    token = (await world.client.get("/cgi-bin/token", params=params)).json()["access_token"]
    send = {"access_token": token}
    body = encode_send_body(custom_text(openid, "reply"))
    login = await world.client.post(
        "/_sandbox/login-code", json={"appid": world.mini.appid, "openid": openid}
    )
    assert login.status_code == 200
    before = await world.client.post("/cgi-bin/message/custom/send", params=send, content=body)
    assert before.json()["errcode"] == 45015
    pushed = await world.push(
        appid=world.mini.appid, openid=openid, message={"MsgType": "text", "Content": "help"}
    )
    assert pushed.json()["openid"] == openid
    after = await world.client.post("/cgi-bin/message/custom/send", params=send, content=body)
    assert after.json() == {"errcode": 0, "errmsg": "ok"}


async def test_pushes_are_listed_filtered_trimmed_and_reset(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.set_url(world.mini)
    await world.set_url(world.oa)
    text = {"MsgType": "text", "Content": "x"}
    a = (await world.push(appid=world.mini.appid, message=text)).json()
    b = (await world.push(appid=world.oa.appid, message=text)).json()
    every = (await world.client.get("/_sandbox/pushes")).json()["pushes"]
    assert [p["msg_id"] for p in every] == [a["msg_id"], b["msg_id"]]
    only_oa = await world.client.get("/_sandbox/pushes", params={"appid": world.oa.appid})
    assert [p["msg_id"] for p in only_oa.json()["pushes"]] == [b["msg_id"]]
    by_user = await world.client.get("/_sandbox/pushes", params={"openid": a["openid"]})
    assert [p["msg_id"] for p in by_user.json()["pushes"]] == [a["msg_id"]]
    monkeypatch.setattr(push_module, "KEEP_PUSHES", 2)
    c = (await world.push(appid=world.mini.appid, message=text)).json()
    kept = (await world.client.get("/_sandbox/pushes")).json()["pushes"]
    assert [p["msg_id"] for p in kept] == [b["msg_id"], c["msg_id"]]
    await world.client.post("/_sandbox/reset")
    assert (await world.client.get("/_sandbox/pushes")).json() == {"pushes": []}
    # The push URL is configuration: it survives a reset.
    assert (await world.push(appid=world.mini.appid, message=text)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "complaint"),
    [
        ({"appid": "wx0000000000000000", "message": {}}, 404, "unknown appid"),
        ({"appid": "OA", "message": {"MsgType": "text", "Content": "x"}}, 409, "no push URL"),
        ({"appid": "MINI", "message": {}, "mode": "loud"}, 400, "mode must be"),
        ({"appid": "MINI", "message": {}, "format": "yaml"}, 400, "format must be"),
        ({"appid": "MINI", "message": {}, "openid": "bad openid"}, 400, "openid must be"),
        ({"appid": "MINI", "message": {}, "openid": 3}, 400, "openid must be"),
        ({"appid": "MINI", "message": "hello"}, 400, "message must be an object"),
        ({"appid": "MINI", "message": {"MsgType": "voice"}}, 400, "MsgType must be one of"),
        ({"appid": "MINI", "message": {"MsgType": "text", "Content": "a\x00"}}, 400, "cannot send"),
        (
            {"appid": "MINI", "message": {"MsgType": "text", "Content": "\ud800"}},
            400,
            "cannot send",
        ),
        ({"appid": "\ud800", "message": {}}, 404, "unknown appid"),
    ],
)
async def test_push_refusals(
    world: World, body: dict[str, Any], status: int, complaint: str
) -> None:
    await world.set_url(world.mini)
    names = {"MINI": world.mini.appid, "OA": world.oa.appid}
    real = {**body, "appid": names.get(body["appid"], body["appid"])}
    # json.dumps escapes lone surrogates as \ud800, as a sender's JSON library may.
    response = await world.client.post("/_sandbox/push", content=json.dumps(real).encode())
    assert response.status_code == status
    assert complaint in response.json()["message"]
    assert world.merchant.received == []
    bad = await world.client.post("/_sandbox/push", content=b"{")
    assert bad.status_code == 400


# ---- the server check ----


async def test_push_check_sends_the_get_verification_and_reports_the_echo(world: World) -> None:
    world.merchant.echo = True
    await world.set_url(world.mini, PUSH_URL + "?tenant=7")
    answer = (
        await world.client.post("/_sandbox/push-check", json={"appid": world.mini.appid})
    ).json()
    assert answer["ok"] is True
    [received] = world.merchant.received
    query = received["query"]
    assert received["method"] == "GET"
    assert received["body"] == b""
    assert query["tenant"] == "7"
    assert query["echostr"] == answer["echostr"]
    assert query["echostr"].isdigit()
    check_push_signature(
        token=world.mini.push_token,
        timestamp=query["timestamp"],
        nonce=query["nonce"],
        signature=query["signature"],
    )
    assert answer["attempt"]["url"].startswith(PUSH_URL + "?tenant=7&signature=")


async def test_push_check_fails_when_the_echo_is_not_verbatim(world: World) -> None:
    world.merchant.answers = [(200, "success", 0)]
    await world.set_url(world.mini)
    answer = (
        await world.client.post("/_sandbox/push-check", json={"appid": world.mini.appid})
    ).json()
    assert answer["ok"] is False
    assert answer["attempt"]["response"] == "success"


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"", 400), (b'{"appid": "wx0000000000000000"}', 404), (b'{"appid": "OA"}', 409)],
)
async def test_push_check_refusals(world: World, content: bytes, status: int) -> None:
    real = content.replace(b'"OA"', json.dumps(world.oa.appid).encode())
    response = await world.client.post("/_sandbox/push-check", content=real)
    assert response.status_code == status
