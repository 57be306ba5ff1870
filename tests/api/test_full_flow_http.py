"""The whole mini program flow over real HTTP, against the app ``paydesk serve`` runs.

The embedded app (sandbox mounted at ``/sandbox`` and used as WeChat) is served by uvicorn on a
free loopback port, on the run's database — SQLite, or PostgreSQL and Redis with the
``backends`` marker — and driven only by HTTP requests, like a real mini program, merchant
backend and payer: login code from the sandbox's control API → login → order → pay → the
sandbox pays → its notification reaches paydesk → GET says PAID.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.api.serve import build_runtime
from paydesk.db.engine import session_factory
from paydesk.domain import apikeys
from paydesk.domain.clock import SystemClock
from paydesk.domain.ids import IdSource
from paydesk.sandbox import SandboxCredentials
from paydesk.settings import Settings
from tests.serving import ServerThread, free_port

MINI_APPID = "wx5a0d5a0d00000001"
PAID_WITHIN = 15.0


async def operator_api_key(db_engine: AsyncEngine) -> str:
    """What ``paydesk apikey create`` does: the merchant backend's key."""
    clock = SystemClock()
    async with session_factory(db_engine).begin() as session:
        key, _ = await apikeys.create_api_key(
            session, name="shop-backend", mchid=None, ids=IdSource(clock), now=clock.now()
        )
    return key


async def wait_until_paid(
    http: httpx.AsyncClient, order_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    """Poll the order (without sync: only the notification may make it PAID) until PAID."""
    deadline = time.monotonic() + PAID_WITHIN
    while True:
        order: dict[str, Any] = (
            await http.get(f"/api/v1/orders/{order_id}", headers=headers)
        ).json()
        if order["state"] == "PAID" or time.monotonic() > deadline:
            return order
        await asyncio.sleep(0.05)


@pytest.mark.backends
async def test_a_mini_program_pays_an_order_over_real_http(
    tmp_path: Path,
    database_url: str,
    db_engine: AsyncEngine,
    redis_url: str | None,
    redis_prefix: str,
    sandbox_credentials: SandboxCredentials,
) -> None:
    port = free_port()
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        public_url=f"http://127.0.0.1:{port}",
    )
    runtime = build_runtime(settings, sandbox_credentials=sandbox_credentials)
    await runtime.prepare()
    api_key = await operator_api_key(db_engine)
    merchant = {"Authorization": f"Bearer {api_key}"}

    with ServerThread(runtime.app, port) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            # wx.login: the sandbox plays WeChat's client and gives the mini program a code
            login_code = await http.post("/sandbox/_sandbox/login-code", json={"appid": MINI_APPID})
            assert login_code.status_code == 200, login_code.text
            code = login_code.json()

            login = await http.post(
                "/api/v1/auth/miniprogram", json={"appid": MINI_APPID, "code": code["code"]}
            )
            assert login.status_code == 200, login.text
            assert "session_key" not in login.text
            user = {"Authorization": f"Bearer {login.json()['token']}"}
            assert login.json()["user"]["openid"] == code["openid"]

            created = await http.post(
                "/api/v1/orders",
                json={
                    "merchant_order_id": f"shop-{uuid.uuid4().hex[:12]}",
                    "amount": 2590,
                    "description": "HTTP flow 测试",
                    "appid": MINI_APPID,
                },
                headers={**merchant, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert created.status_code == 201, created.text
            order = created.json()
            assert order["state"] == "CREATED"

            started = await http.post(
                f"/api/v1/orders/{order['id']}/pay", json={"channel": "miniprogram"}, headers=user
            )
            assert started.status_code == 200, started.text
            params = started.json()["params"]
            assert params["signType"] == "RSA"
            assert params["package"].startswith("prepay_id=")

            paid = await http.post(
                "/sandbox/_sandbox/pay",
                json={
                    "prepay_id": params["package"].removeprefix("prepay_id="),
                    "result": "SUCCESS",
                    "openid": code["openid"],
                    "pay_sign": params["paySign"],
                    "timestamp": params["timeStamp"],
                    "nonce_str": params["nonceStr"],
                    "sign_type": params["signType"],
                },
            )
            assert paid.status_code == 200, paid.text
            assert paid.json()["err_msg"] == "requestPayment:ok"

            final = await wait_until_paid(http, order["id"], user)
            assert final["state"] == "PAID", final
            assert final["paid_amount"] == 2590
            assert final["transaction_id"] == paid.json()["transaction_id"]
            assert final["payer"]["openid"] == code["openid"]

            by_merchant = await http.get(f"/api/v1/orders/{order['id']}", headers=merchant)
            assert by_merchant.json()["state"] == "PAID"

            deliveries = (
                await http.get(
                    "/sandbox/_sandbox/notifications",
                    params={"out_trade_no": order["out_trade_no"]},
                )
            ).json()
            acknowledged = [a for a in deliveries["attempts"] if a["acknowledged"]]
            assert len(acknowledged) == 1
            # The sandbox called the URL paydesk gave it: the public one, under /api/v1/notify.
            assert acknowledged[0]["url"] == (
                f"{server.base_url}/api/v1/notify/wechatpay/v3/{order['mchid']}"
            )
            assert acknowledged[0]["status"] == 204
