"""With its database unreachable, paydesk answers every kind of caller 503 ``database_unavailable``
with ``Retry-After`` — a precise "send it again" instead of a bare 500 — on either database.

Unreachable for real: a PostgreSQL address where nothing listens (asyncpg's refused socket,
which SQLAlchemy does not wrap) and a SQLite file in a directory that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from paydesk.api.app import create_app
from paydesk.api.embedded import config_from_sandbox
from paydesk.domain.context import build_services
from paydesk.sandbox import SandboxCredentials
from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID
from paydesk.settings import Settings

UNREACHABLE = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:1/paydesk",
    "sqlite": "sqlite+aiosqlite:///{missing}/paydesk.sqlite3",
}
KEY = {"Authorization": "Bearer pdk_" + "a" * 52}
USER = {"Authorization": "Bearer pds_" + "b" * 43}
CALLS: list[tuple[str, str, dict[str, str], Any]] = [
    ("POST", "/api/v1/orders", KEY, {"merchant_order_id": "A-1", "amount": 1, "description": "d"}),
    ("GET", "/api/v1/orders", KEY, None),
    ("POST", "/api/v1/orders/ord_1/pay", USER, {"channel": "miniprogram"}),
    ("POST", "/api/v1/auth/miniprogram", {}, {"appid": DEFAULT_MINIPROGRAM_APPID, "code": "c0de"}),
]


@pytest.mark.parametrize("database", sorted(UNREACHABLE))
async def test_every_kind_of_caller_gets_a_503_saying_to_send_it_again(
    database: str, tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    url = UNREACHABLE[database].format(missing=tmp_path / "gone")
    settings = Settings(data_dir=tmp_path, database_url=url, public_url="http://paydesk.test")
    services = build_services(settings, config_from_sandbox(sandbox_credentials))
    transport = httpx.ASGITransport(app=create_app(services), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://paydesk.test") as http:
            for method, path, headers, body in CALLS:
                response = await http.request(method, path, headers=headers, json=body)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["retry-after"] == "2"
                assert response.json()["error"]["code"] == "database_unavailable"
                assert response.json()["error"]["request_id"].startswith("req_")
            openapi = (await http.get("/openapi.json")).json()
    finally:
        await services.aclose()
    assert "503" in openapi["paths"]["/api/v1/orders"]["post"]["responses"]
    assert "503" not in openapi["paths"]["/healthz"]["get"]["responses"]
