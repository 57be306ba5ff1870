"""Each road's prepay goes through the right app and channel, and a reload reuses it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from paydesk.domain.cashier.prepays import prepay_h5, prepay_jsapi, prepay_native
from paydesk.domain.cashier.status import look
from tests.stack import OA_APPID, Stack

pytestmark = pytest.mark.backends


async def test_native_then_h5_then_jsapi(stack: Stack) -> None:
    order = await stack.create_order()
    view = await look(stack.services, order["id"])
    code_url = await prepay_native(stack.services, view, client_ip="203.0.113.1")
    assert code_url == await prepay_native(stack.services, view, client_ip="203.0.113.1")
    h5_url = await prepay_h5(
        stack.services,
        view,
        client_ip="203.0.113.1",
        h5_type="iOS",
        redirect_url="http://paydesk.test/pay/T/result",
    )
    assert parse_qs(urlsplit(h5_url).query)["redirect_url"] == ["http://paydesk.test/pay/T/result"]
    # Switching roads closed the QR code's prepay at WeChat: it can no longer be paid.
    stale = await stack.sandbox_client.post("/_sandbox/pay", json={"code_url": code_url})
    assert stale.status_code >= 400
    params = await prepay_jsapi(
        stack.services, view, appid=OA_APPID, openid="oPayerOpenid00000000000000000", client_ip=None
    )
    assert params["appId"] == OA_APPID
    assert params["package"].startswith("prepay_id=")
