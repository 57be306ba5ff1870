"""Unmodified wechatpy against the sandbox over real HTTP: ``wxa.code_to_session``, the
customer-service send API, the whole OAuth flow, and ``WeChatCrypto`` opening a safe-mode push
that the sandbox delivered to a real HTTP endpoint. Only base URLs are changed, on instances."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import AppCredentials

Server = Any  # tests/serving.py's ServerThread


def apps(box: Sandbox) -> dict[str, AppCredentials]:
    return {a.type: a for a in box.credentials.apps}


def wechatpy_client(base: str, app: AppCredentials) -> WeChatClient:
    """A WeChatClient pointed at the sandbox; its token comes from the sandbox too, because
    wechatpy fetches tokens from a hard-coded api.weixin.qq.com URL."""
    params = {"grant_type": "client_credential", "appid": app.appid, "secret": app.secret}
    token = httpx.get(f"{base}/cgi-bin/token", params=params).json()["access_token"]
    client = WeChatClient(app.appid, app.secret, access_token=token)
    client.API_BASE_URL = f"{base}/cgi-bin/"
    client.wxa.API_BASE_URL = f"{base}/"
    return client


def test_wxa_code_to_session(sandbox_server: tuple[Sandbox, Server]) -> None:
    box, server = sandbox_server
    mini = apps(box)["miniprogram"]
    issued = httpx.post(f"{server.base_url}/_sandbox/login-code", json={"appid": mini.appid}).json()
    client = wechatpy_client(server.base_url, mini)
    session = client.wxa.code_to_session(issued["code"])
    assert session["openid"] == issued["openid"]
    assert session["unionid"] == issued["unionid"]
    assert len(session["session_key"]) == 24
    with pytest.raises(WeChatClientException) as used:
        client.wxa.code_to_session(issued["code"])
    assert used.value.errcode == 40163
    with pytest.raises(WeChatClientException) as invalid:
        client.wxa.code_to_session("not-a-code")
    assert invalid.value.errcode == 40029


def test_send_a_customer_service_message_after_a_push(
    sandbox_server: tuple[Sandbox, Server], receiver_server: Server, receiver: Any
) -> None:
    box, server = sandbox_server
    mini = apps(box)["miniprogram"]
    receiver.status, receiver.body = 200, b"success"
    httpx.put(
        f"{server.base_url}/_sandbox/push-url",
        json={"appid": mini.appid, "url": f"{receiver_server.base_url}/push"},
    )
    pushed = httpx.post(
        f"{server.base_url}/_sandbox/push",
        json={"appid": mini.appid, "message": {"MsgType": "text", "Content": "help"}},
    ).json()
    client = wechatpy_client(server.base_url, mini)
    assert client.message.send_text(pushed["openid"], "这是付款链接") == {
        "errcode": 0,
        "errmsg": "ok",
    }
    messages = httpx.get(
        f"{server.base_url}/_sandbox/messages", params={"touser": pushed["openid"]}
    ).json()["messages"]
    assert [m["body"]["text"]["content"] for m in messages] == ["这是付款链接"]


def test_the_oauth_flow_with_wechatpy(sandbox_server: tuple[Sandbox, Server]) -> None:
    box, server = sandbox_server
    oa = apps(box)["official_account"]
    oauth = WeChatOAuth(
        oa.appid, oa.secret, "https://merchant.example/cb", scope="snsapi_userinfo", state="s1"
    )
    oauth.OAUTH_BASE_URL = f"{server.base_url}/connect/"
    oauth.API_BASE_URL = f"{server.base_url}/"
    with httpx.Client() as browser:
        page = browser.get(oauth.authorize_url)
        assert page.status_code == 200
        ticket = re.search(r'name="ticket" value="([^"]+)"', page.text)
        assert ticket
        allowed = browser.post(
            f"{server.base_url}/_sandbox/oauth/consent",
            data={"ticket": ticket.group(1), "decision": "allow"},
        )
    query = parse_qs(urlsplit(allowed.headers["location"]).query)
    assert query["state"] == ["s1"]
    tokens = oauth.fetch_access_token(query["code"][0])
    info = oauth.get_user_info()
    assert info["openid"] == tokens["openid"] == oauth.open_id
    assert info["unionid"] == tokens["unionid"]
    assert oauth.check_access_token() is True
    renewed = oauth.refresh_access_token(tokens["refresh_token"])
    assert renewed["access_token"] != tokens["access_token"]
    with pytest.raises(WeChatOAuthException) as used:
        oauth.fetch_access_token(query["code"][0])
    assert used.value.errcode == 40163


@pytest.mark.parametrize("kind", ["miniprogram", "official_account"])
def test_wechatcrypto_opens_a_safe_mode_push_the_sandbox_delivered(
    sandbox_server: tuple[Sandbox, Server], receiver_server: Server, receiver: Any, kind: str
) -> None:
    box, server = sandbox_server
    app = apps(box)[kind]
    receiver.status, receiver.body = 200, b"success"
    httpx.put(
        f"{server.base_url}/_sandbox/push-url",
        json={"appid": app.appid, "url": f"{receiver_server.base_url}/wechat/push"},
    )
    record = httpx.post(
        f"{server.base_url}/_sandbox/push",
        json={
            "appid": app.appid,
            "message": {"MsgType": "text", "Content": "我想买会员"},
            "mode": "safe",
            "format": "xml",
        },
    ).json()
    assert record["delivered"] is True
    [delivery] = receiver.received
    query = delivery["query"]
    crypto = WeChatCrypto(app.push_token, app.encoding_aes_key, app.appid)
    xml = crypto.decrypt_message(
        delivery["body"], query["msg_signature"], query["timestamp"], query["nonce"]
    )
    message = parse_message(xml)
    assert message.type == "text"
    assert message.content == "我想买会员"
    assert message.source == record["openid"]
    assert str(message.id) == str(record["msg_id"])
