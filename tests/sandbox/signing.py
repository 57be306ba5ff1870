"""How the sandbox tests sign as a merchant: the v3 ``Authorization`` header, and a signed JSON
POST ready to send with any client (in-process, over real HTTP, sync or async).

    body, headers = signed_v3_post(creds, "/v3/pay/transactions/native", order)
    await client.post("/v3/pay/transactions/native", content=body, headers=headers)
"""

from __future__ import annotations

import json
import time
from typing import Any

from paydesk.protocol.keys import load_private_key
from paydesk.protocol.v3.signing import build_authorization
from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID, MerchantCredentials


def v3_authorization(
    creds: MerchantCredentials,
    method: str,
    url: str,
    body: bytes,
    *,
    nonce: str = "N",
    timestamp: int | None = None,
) -> str:
    """The ``Authorization`` header ``creds``' merchant sends with a v3 request (signed now,
    unless ``timestamp`` says otherwise)."""
    return build_authorization(
        mchid=creds.mchid,
        serial_no=creds.merchant_serial_no,
        private_key=load_private_key(creds.merchant_private_key_pem),
        method=method,
        url=url,
        body=body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        nonce=nonce,
    )


def signed_v3_post(
    creds: MerchantCredentials, url: str, payload: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    """``payload`` as the JSON body of a v3 POST to ``url``, and the headers that sign it."""
    body = json.dumps(payload).encode()
    return body, {"Authorization": v3_authorization(creds, "POST", url, body)}


def native_prepay(
    creds: MerchantCredentials, number: str, notify_url: str = "http://merchant.test/n"
) -> tuple[str, bytes, dict[str, str]]:
    """A signed v3 Native prepay of 0.01 yuan, order ``number``: its path, body and headers."""
    url = "/v3/pay/transactions/native"
    order = {
        "appid": DEFAULT_MINIPROGRAM_APPID,
        "mchid": creds.mchid,
        "description": "d",
        "out_trade_no": number,
        "notify_url": notify_url,
        "amount": {"total": 1},
    }
    return (url, *signed_v3_post(creds, url, order))
