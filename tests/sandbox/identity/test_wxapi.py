"""WeChat's error shape: HTTP 200, errcode, errmsg with the rid suffix; the app/secret checks."""

from __future__ import annotations

import json
import random
import re

import pytest

from paydesk.sandbox import SandboxCredentials
from paydesk.sandbox.identity.wxapi import (
    ERRMSG,
    WxError,
    check_app_secret,
    control_error,
    require_grant_type,
    wx_error_body,
    wx_error_response,
)

RID = re.compile(r", rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$")


def test_error_bodies_carry_wechats_rid_suffix() -> None:
    body = wx_error_body(40163, "code been used", random.Random(2))
    assert body["errcode"] == 40163
    assert body["errmsg"].startswith("code been used, rid: ")
    assert RID.search(body["errmsg"])


def test_error_responses_are_http_200_and_unknown_codes_say_system_error() -> None:
    response = wx_error_response(WxError(40029), random.Random(2))
    assert response.status_code == 200
    assert json.loads(bytes(response.body))["errmsg"].startswith("invalid code, rid: ")
    other = json.loads(bytes(wx_error_response(WxError(-1), random.Random(2)).body))
    assert other["errmsg"].startswith("system error, rid: ")


def test_every_errmsg_is_lowercase_wechat_text() -> None:
    assert all(msg and msg == msg.lower() for msg in ERRMSG.values())


def test_control_errors_use_the_sandbox_shape() -> None:
    response = control_error("nope", 404)
    assert response.status_code == 404
    assert json.loads(bytes(response.body)) == {"code": "PARAM_ERROR", "message": "nope"}


def test_grant_type_must_match_exactly() -> None:
    require_grant_type({"grant_type": "client_credential"}, "client_credential")
    with pytest.raises(WxError) as caught:
        require_grant_type({}, "client_credential")
    assert caught.value.errcode == 40002


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({}, 41002),
        ({"appid": "wx5a0d5a0d00000001"}, 41004),
        ({"appid": "wx0000000000000000", "secret": "s"}, 40013),
        ({"appid": "wx5a0d5a0d00000001", "secret": "wrong"}, 40125),
    ],
)
def test_app_and_secret_are_checked_in_wechats_order(
    sandbox_credentials: SandboxCredentials, params: dict[str, str], errcode: int
) -> None:
    with pytest.raises(WxError) as caught:
        check_app_secret(sandbox_credentials, params)
    assert caught.value.errcode == errcode


def test_the_right_secret_passes(sandbox_credentials: SandboxCredentials) -> None:
    app = sandbox_credentials.apps[0]
    assert check_app_secret(sandbox_credentials, {"appid": app.appid, "secret": app.secret}) is app
